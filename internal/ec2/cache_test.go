package ec2

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// failingCommits is a store whose next Update fails after its function
// succeeded, as a commit that does not reach the disk: the function ran
// (and offered its snapshot), its writes are undone.
type failingCommits struct {
	store.Store
	mu   sync.Mutex
	fail bool
}

var errCommit = errors.New("injected commit failure")

func (f *failingCommits) Update(ctx context.Context, fn func(store.Tx) error) error {
	f.mu.Lock()
	fail := f.fail
	f.fail = false
	f.mu.Unlock()
	if !fail {
		return f.Store.Update(ctx, fn)
	}
	return f.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCommit
	})
}

// A write offers its snapshot before its commit is on disk; when that
// commit fails, the next write reuses its generation with other contents,
// and every reader must see those, never the failed write's.
func TestSnapshotOfFailedCommitNeverServed(t *testing.T) {
	st := &failingCommits{Store: openStore(t)}
	s := New(st, Config{})
	ctx := ctxFor(acctA)
	must[*ec2api.CreateSecurityGroupResult](t)(s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: ptr("first"), Description: ptr("x")}))
	st.mu.Lock()
	st.fail = true
	st.mu.Unlock()
	if _, err := s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: ptr("lost"), Description: ptr("x")}); !errors.Is(err, errCommit) {
		t.Fatalf("CreateSecurityGroup with a failing commit = %v, want %v", err, errCommit)
	}
	must[*ec2api.CreateSecurityGroupResult](t)(s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: ptr("kept"), Description: ptr("x")}))
	for _, fresh := range []bool{false, true} { // the cache, then a service reading the store
		svc := s
		if fresh {
			svc = New(st, Config{})
		}
		out := must[*ec2api.DescribeSecurityGroupsResult](t)(svc.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{}))
		var names []string
		for _, g := range out.SecurityGroups {
			names = append(names, str(g.GroupName))
		}
		slices.Sort(names)
		if want := []string{"default", "first", "kept"}; !slices.Equal(names, want) {
			t.Errorf("groups (fresh service %v) = %v, want %v", fresh, names, want)
		}
	}
}

// hookedStore runs during the next Update, after its function and before
// its commit, as a reader overlapping a group commit would.
type hookedStore struct {
	store.Store
	during func()
}

func (h *hookedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	during := h.during
	h.during = nil
	return h.Store.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if during != nil {
			during()
		}
		return nil
	})
}

// Readers overlapping a write's commit see the state before it, from the
// cache; once it is committed they see it, from the cache too: no scope is
// decoded again, and no reader sees a write before its commit.
func TestReadersUseCacheAroundCommits(t *testing.T) {
	st := &hookedStore{Store: openStore(t)}
	s := New(st, Config{})
	ctx := ctxFor(acctA)
	g := must[*ec2api.CreateSecurityGroupResult](t)(s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: ptr("g"), Description: ptr("x")}))
	tagged := func() bool {
		t.Helper()
		out := must[*ec2api.DescribeSecurityGroupsResult](t)(s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{GroupIds: []string{str(g.GroupId)}}))
		return len(out.SecurityGroups) == 1 && len(out.SecurityGroups[0].Tags) == 1
	}
	if tagged() {
		t.Fatal("tagged before CreateTags")
	}
	decoded := s.decoded.Load()
	var during []bool
	st.during = func() {
		for range 3 {
			during = append(during, tagged())
			if _, err := s.ResourceARNs(ctx, &ec2api.DeleteSecurityGroupRequest{GroupName: ptr("g")}); err != nil {
				t.Error(err)
			}
		}
	}
	ok(t, s.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{str(g.GroupId)}, Tags: []ec2api.Tag{{Key: ptr("k"), Value: ptr("v")}}}))
	if !slices.Equal(during, []bool{false, false, false}) {
		t.Errorf("tagged, read during the commit = %v, want false (not committed yet)", during)
	}
	if !tagged() {
		t.Error("not tagged after CreateTags")
	}
	if n := s.decoded.Load() - decoded; n != 0 {
		t.Errorf("%d scopes decoded from the store around the commit, want 0 (all from the cache)", n)
	}
}
