package vpcnet

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

// movingTopology is an EC2 model whose store revision moves on every read,
// as it does when other records (a cluster's status, an event) are written,
// while the network model changes only when the test says so.
type movingTopology struct {
	mu   sync.Mutex
	rev  uint64
	topo ec2.Topology
}

func (m *movingTopology) Topology(context.Context, ec2.TopologySelector) (*ec2.Topology, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev++
	t := m.topo
	t.Revision = m.rev
	t.Interfaces = slices.Clone(m.topo.Interfaces)
	return &t, nil
}

func (m *movingTopology) addInterface(id, ip string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.topo.Interfaces = append(m.topo.Interfaces, ec2.TopoInterface{
		ID: id, SubnetID: "subnet-1", VpcID: "vpc-1", IP: netip.MustParseAddr(ip), Groups: []string{"sg-1"},
		RequesterID: ec2.RequesterElastiCache, Description: "ElastiCache c-0001", SourceDestCheck: true,
	})
}

// fakePlane records the states applied; the rest of the plane is not used
// by Sync.
type fakePlane struct {
	plane   // nil: calling anything but Apply and ApplyChange panics
	applied []netplane.State
	walked  []bool // per applied state: by Apply (true) or ApplyChange
	fail    error  // returned by the next Apply
}

func (f *fakePlane) Apply(_ context.Context, st netplane.State) error {
	f.applied = append(f.applied, st)
	f.walked = append(f.walked, true)
	err := f.fail
	f.fail = nil
	return err
}

func (f *fakePlane) ApplyChange(ctx context.Context, st netplane.State) error {
	err := f.Apply(ctx, st)
	f.walked[len(f.walked)-1] = false
	return err
}

// interfaceIDs lists the interfaces of each applied state.
func (f *fakePlane) interfaceIDs() [][]string {
	var out [][]string
	for _, st := range f.applied {
		ids := []string{}
		for _, i := range st.Interfaces {
			ids = append(ids, i.ID)
		}
		out = append(out, ids)
	}
	return out
}

func newSyncController(t *testing.T) (*Controller, *movingTopology, *fakePlane) {
	t.Helper()
	topo := &movingTopology{topo: ec2.Topology{
		VPCs:    []ec2.TopoVPC{{ID: "vpc-1", CIDR: netip.MustParsePrefix("10.0.0.0/16")}},
		Subnets: []ec2.TopoSubnet{{ID: "subnet-1", VpcID: "vpc-1", CIDR: netip.MustParsePrefix("10.0.1.0/24")}},
		Groups:  []ec2.TopoGroup{{ID: "sg-1", VpcID: "vpc-1"}},
	}}
	topo.addInterface("eni-1", "10.0.1.4")
	fp := &fakePlane{}
	n := New(Config{EC2: topo})
	n.plane = fp
	return n, topo, fp
}

// Sync applies what the EC2 model maps to once: later Syncs whose topology
// was read at a newer store revision but maps to the same state apply
// nothing (after a restart every cluster syncs before its engine starts,
// and every cluster's status write moves the revision); a change of the
// model is applied by the Sync that follows it.
func TestSyncAppliesOnlyChangedTopology(t *testing.T) {
	ctx := context.Background()
	n, topo, fp := newSyncController(t)
	for range 5 {
		if err := n.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([][]string{{"eni-1"}}, fp.interfaceIDs()); diff != "" {
		t.Fatalf("applied after 5 Syncs of one network model (-want +got):\n%s", diff)
	}
	topo.addInterface("eni-2", "10.0.1.5")
	for range 3 {
		if err := n.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([][]string{{"eni-1"}, {"eni-1", "eni-2"}}, fp.interfaceIDs()); diff != "" {
		t.Fatalf("applied after an interface was added (-want +got):\n%s", diff)
	}
	tp, _ := topo.Topology(ctx, ec2.TopologySelector{})
	if diff := cmp.Diff(netplaneState(tp), fp.applied[1], cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("applied state (-want +got):\n%s", diff)
	}
}

// A full reconcile (changed == nil) re-applies an unchanged model: the
// kernel may have drifted from what was applied. A reconcile of changed
// keys does not.
func TestReconcileFullReapplies(t *testing.T) {
	ctx := context.Background()
	n, _, fp := newSyncController(t)
	steps := []struct {
		name    string
		changed []string
		applies int
	}{
		{"first full run", nil, 1},
		{"changed keys, same model", []string{"ec2/x"}, 1},
		{"full run, same model", nil, 2},
		{"changed keys again", []string{"ec2/y"}, 2},
	}
	for _, s := range steps {
		if err := n.Reconcile(ctx, s.changed); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := len(fp.applied); got != s.applies {
			t.Fatalf("%s: Apply called %d times in all, want %d", s.name, got, s.applies)
		}
	}
	if diff := cmp.Diff([]bool{true, true}, fp.walked); diff != "" {
		t.Errorf("full runs applied with Apply (-want +got):\n%s", diff)
	}
}

// A change after a full Apply is applied with ApplyChange, which trusts
// the namespaces the last Apply made; the first Sync, a full reconcile and
// the Sync after a failed Apply walk them all (Apply).
func TestSyncWalksOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	n, topo, fp := newSyncController(t)
	sync := func() {
		t.Helper()
		if err := n.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sync()                                 // the first: Apply
	topo.addInterface("eni-2", "10.0.1.5") // a change: ApplyChange
	sync()
	fp.fail = errors.New("boom")
	topo.addInterface("eni-3", "10.0.1.6")
	if err := n.Sync(ctx); err == nil { // ApplyChange fails
		t.Fatal("Sync with a failing Apply = nil error, want the error")
	}
	sync()                                        // after a failure: Apply
	if err := n.Reconcile(ctx, nil); err != nil { // full: Apply
		t.Fatal(err)
	}
	topo.addInterface("eni-4", "10.0.1.7")
	if err := n.Reconcile(ctx, []string{"ec2/x"}); err != nil { // ApplyChange
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{true, false, false, true, true, false}, fp.walked); diff != "" {
		t.Errorf("applied with Apply (true) or ApplyChange (-want +got):\n%s", diff)
	}
}

// A failed Apply is not taken as applied: the next Sync applies again.
func TestSyncRetriesFailedApply(t *testing.T) {
	ctx := context.Background()
	n, _, fp := newSyncController(t)
	fp.fail = errors.New("kernel says no")
	if err := n.Sync(ctx); err == nil {
		t.Fatal("Sync with a failing Apply = nil error, want the error")
	}
	if err := n.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(fp.applied); got != 2 {
		t.Errorf("Apply called %d times (fail, retry, unchanged), want 2", got)
	}
}

// An outside client is not an EC2 change, but it is part of what is
// applied: AddOutside applies it even though the model did not change.
func TestAddOutsideApplies(t *testing.T) {
	ctx := context.Background()
	n, _, fp := newSyncController(t)
	if err := n.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("198.51.100.27")
	if _, err := n.AddOutside(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddOutside(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := len(fp.applied); got != 2 {
		t.Fatalf("Apply called %d times (Sync, AddOutside, the same AddOutside), want 2", got)
	}
	if diff := cmp.Diff([]netip.Addr{a}, fp.applied[1].Outside, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("outside clients applied (-want +got):\n%s", diff)
	}
}
