package access

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/ec2/sgeval"
	"github.com/cachalot-dev/cachalot/internal/store"
)

const (
	testAccount = "111111111111"
	testRegion  = "us-east-1"
)

// authz allows everything but the actions in deny ("ec2:Action").
type authz struct{ deny []string }

func (a authz) Authorize(_ context.Context, r auth.Request) error {
	if slices.Contains(a.deny, r.Service+":"+r.Action) {
		return awserr.WithStatus(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	return nil
}

func callerCtx() context.Context {
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Type: auth.User, AccountID: testAccount,
		ARN: "arn:aws:iam::" + testAccount + ":user/alice", Name: "alice"})
	return auth.WithScope(ctx, auth.Scope{AccountID: testAccount, Region: testRegion})
}

// The eight ec2: permissions are checked before anything is read or
// written, and the refusal names every missing one.
func TestConnectNeedsEC2Permissions(t *testing.T) {
	s := New(Config{Authorizer: authz{deny: []string{"ec2:RevokeSecurityGroupEgress", "ec2:CreateSecurityGroup"}}})
	_, err := s.Connect(callerCtx(), "web", "i-1") // EC2 and Caches are nil: touching them would panic
	e, ok := awserr.As(err)
	if !ok || e.Code != "AccessDenied" || e.HTTPStatus() != http.StatusForbidden {
		t.Fatalf("Connect = %v, want AccessDenied", err)
	}
	for _, want := range []string{"ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress", "user/alice"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not name %s", e.Message, want)
		}
	}
	if len(ConnectActions) != 8 {
		t.Errorf("ConnectActions = %v, want the eight documented permissions", ConnectActions)
	}
	for _, f := range []func() error{
		func() error { _, err := s.Disconnect(callerCtx(), "web", "i-1"); return err },
		func() error { _, err := s.Explain(callerCtx(), "i-1", "web", 0); return err },
	} {
		s.cfg.Authorizer = authz{deny: []string{"ec2:DescribeSecurityGroups"}}
		if e, ok := awserr.As(f()); !ok || e.Code != "AccessDenied" {
			t.Errorf("= %v, want AccessDenied", e)
		}
	}
}

// fakeCaches serves one cache.
type fakeCaches struct{ c Cache }

func (f *fakeCaches) Cache(_ context.Context, id string) (Cache, error) {
	if id != f.c.ID {
		return Cache{}, awserr.New("CacheClusterNotFound", "CacheCluster not found: %s", id)
	}
	return f.c, nil
}

func (f *fakeCaches) EditSecurityGroups(_ context.Context, _ string, edit func([]string) ([]string, error)) error {
	g, err := edit(slices.Clone(f.c.SecurityGroups))
	if err == nil {
		f.c.SecurityGroups = g
	}
	return err
}

// benchWorld loads a VPC with groups security groups (rules rules each)
// and one instance per group, plus a cache interface, through the EC2 Go API.
func benchWorld(b testing.TB, groups, rules int) (*Service, string) {
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	e := ec2.New(st, ec2.Config{})
	ctx := callerCtx()
	vpc, err := e.DefaultVPC(ctx, testAccount, testRegion)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for i := range groups {
		out, err := e.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: aws.String(fmt.Sprintf("g-%04d", i)), Description: aws.String("x")})
		if err != nil {
			b.Fatal(err)
		}
		id := aws.ToString(out.GroupId)
		var perms []ec2api.IpPermission
		for k := range rules {
			perms = append(perms, ec2api.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(1000 + k)), ToPort: aws.Int32(int32(1000 + k)),
				IpRanges: []ec2api.IpRange{{CidrIp: aws.String(fmt.Sprintf("10.%d.%d.0/24", i%250, k))}}})
		}
		if _, err := e.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: aws.String(id), IpPermissions: perms}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	var inst string
	for k := 0; k*100 < groups; k++ {
		out, err := e.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: aws.String("ami-1"), MinCount: aws.Int32(100), MaxCount: aws.Int32(100),
			SubnetId: aws.String(vpc.Subnets[k%len(vpc.Subnets)].ID), SecurityGroupIds: []string{ids[k]}})
		if err != nil {
			b.Fatal(err)
		}
		inst = aws.ToString(out.Instances[0].InstanceId)
	}
	// The cache admits the instances' group on 6379.
	if _, err := e.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: aws.String(ids[len(ids)-1]),
		IpPermissions: []ec2api.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
			UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: aws.String(ids[(groups-1)/100])}}}}}); err != nil {
		b.Fatal(err)
	}
	ifc, err := e.CreateManagedInterface(ctx, ec2.InterfaceSpec{Account: testAccount, Region: testRegion, SubnetID: vpc.Subnets[0].ID, GroupIDs: []string{ids[len(ids)-1]}})
	if err != nil {
		b.Fatal(err)
	}
	c := Cache{ID: "web", VpcID: vpc.ID, Port: 6379, SecurityGroups: ifc.Groups, Status: "available",
		Endpoints: []Endpoint{{Name: "0001", InterfaceID: ifc.ID, Address: ifc.PrivateIP}}}
	return New(Config{EC2: e, Caches: &fakeCaches{c}, Authorizer: authz{}}), inst
}

// BenchmarkExplain: ExplainCacheReachability on a VPC with 1,000 groups
// (10 rules each) and 1,000 instances. "request" is the whole action as the
// endpoint runs it (permissions, reading the topology, indexing it,
// deciding); "evaluate" only the decision on an indexed topology.
func BenchmarkExplain(b *testing.B) {
	s, inst := benchWorld(b, 1000, 10)
	ctx := callerCtx()
	e, err := s.Explain(ctx, inst, "web", 0)
	if err != nil || !e.Allowed {
		b.Fatalf("Explain = %v, %v; want allowed", e, err)
	}
	b.Run("request", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Explain(ctx, inst, "web", 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
	})
	w, err := s.load(ctx, "web", inst)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("request-after-change", func(b *testing.B) {
		for b.Loop() {
			s.snapsMu.Lock()
			clear(s.snaps) // as if the store had changed since the last call
			s.snapsMu.Unlock()
			if _, err := s.Explain(ctx, inst, "web", 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
	})
	ev := sgeval.New(w.topo)
	b.Run("evaluate", func(b *testing.B) {
		for b.Loop() {
			if _, err := explain(w, ev, 0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "answers/s")
	})
}

// TestExplainSeesChanges: explain keeps the network model between calls, and
// must read it again as soon as anything changed.
func TestExplainSeesChanges(t *testing.T) {
	s, inst := benchWorld(t, 2, 1)
	ctx := callerCtx()
	want := func(allowed bool, when string) {
		t.Helper()
		e, err := s.Explain(ctx, inst, "web", 0)
		if err != nil || e.Allowed != allowed {
			t.Fatalf("%s: Explain = %+v, %v; want allowed %v", when, e, err, allowed)
		}
	}
	want(true, "at first")
	want(true, "again, from the kept model")
	topo, err := s.cfg.EC2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		t.Fatal(err)
	}
	var cacheGroup, instGroup string
	for _, ifc := range topo.Interfaces {
		switch {
		case ifc.RequesterID != "":
			cacheGroup = ifc.Groups[0]
		case ifc.InstanceID == inst:
			instGroup = ifc.Groups[0]
		}
	}
	perm := []ec2api.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
		UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: aws.String(instGroup)}}}}
	if _, err := s.cfg.EC2.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{GroupId: aws.String(cacheGroup), IpPermissions: perm}); err != nil {
		t.Fatal(err)
	}
	want(false, "after revoking the cache's rule")
	if _, err := s.cfg.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: aws.String(cacheGroup), IpPermissions: perm}); err != nil {
		t.Fatal(err)
	}
	want(true, "after authorizing it again")
}
