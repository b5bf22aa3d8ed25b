package access

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
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
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

const (
	testAccount = "111111111111"
	testRegion  = "us-east-1"
)

// authz allows everything but the actions in deny ("ec2:Action"), any
// action on a resource in denyOn, and the actions in denyNamed on any
// resource but the wildcard ARN of a group yet to be created.
type authz struct{ deny, denyOn, denyNamed []string }

func (a authz) Authorize(_ context.Context, r auth.Request) error {
	refuse := awserr.WithStatus(http.StatusForbidden, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	if slices.Contains(a.deny, r.Service+":"+r.Action) {
		return refuse
	}
	for _, res := range r.Resources {
		if slices.Contains(a.denyOn, res) || slices.Contains(a.denyNamed, r.Service+":"+r.Action) && !strings.HasSuffix(res, "/*") {
			return refuse
		}
	}
	return nil
}

func callerCtx() context.Context {
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Type: auth.User, AccountID: testAccount,
		ARN: "arn:aws:iam::" + testAccount + ":user/alice", Name: "alice"})
	return auth.WithScope(ctx, auth.Scope{AccountID: testAccount, Region: testRegion})
}

// The eight ec2: permissions are checked before anything is written (the
// Describe ones before anything is read), and the refusal names every
// missing one.
func TestConnectNeedsEC2Permissions(t *testing.T) {
	s, inst := benchWorld(t, 2, 1)
	before := groupCount(t, s)
	s.cfg.Authorizer = authz{deny: []string{"ec2:RevokeSecurityGroupEgress", "ec2:CreateSecurityGroup"}}
	_, err := s.Connect(callerCtx(), "web", inst)
	e, ok := awserr.As(err)
	if !ok || e.Code != "AccessDenied" || e.HTTPStatus() != http.StatusForbidden {
		t.Fatalf("Connect = %v, want AccessDenied", err)
	}
	for _, want := range []string{"ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress", "user/alice"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message %q does not name %s", e.Message, want)
		}
	}
	if n := groupCount(t, s); n != before {
		t.Errorf("a refused Connect changed the groups: %d, want %d", n, before)
	}
	if len(ConnectActions) != 8 {
		t.Errorf("ConnectActions = %v, want the eight documented permissions", ConnectActions)
	}
	noRead := New(Config{}) // EC2 and Caches are nil: touching them would panic
	for _, f := range []func() error{
		func() error { _, err := noRead.Connect(callerCtx(), "web", "i-1"); return err },
		func() error { _, err := noRead.Disconnect(callerCtx(), "web", "i-1"); return err },
		func() error { _, err := noRead.Explain(callerCtx(), "i-1", "web", 0); return err },
	} {
		noRead.cfg.Authorizer = authz{deny: []string{"ec2:DescribeSecurityGroups"}}
		if e, ok := awserr.As(f()); !ok || e.Code != "AccessDenied" {
			t.Errorf("= %v, want AccessDenied", e)
		}
	}
}

func groupCount(t testing.TB, s *Service) int {
	t.Helper()
	topo, err := s.cfg.EC2.Topology(callerCtx(), ec2.TopologySelector{})
	if err != nil {
		t.Fatal(err)
	}
	return len(topo.Groups)
}

// A Deny scoped to a resource the connection acts on holds, whatever the
// flow's other permissions: the instance, its interface, the groups it
// keeps, the cache's VPC (where the pair is created); a Deny on another
// instance changes nothing. Disconnect holds a Deny on the pair's groups.
func TestComputeConnectionResourceDeny(t *testing.T) {
	arn := func(typ, id string) string { return policy.EC2ARN(testRegion, testAccount, typ, id) }
	for _, tc := range []struct {
		name   string
		denyOn func(w *ec2.Topology, inst string) string
		denied bool
	}{
		{"instance", func(_ *ec2.Topology, inst string) string { return arn(policy.EC2Instance, inst) }, true},
		{"interface", func(w *ec2.Topology, inst string) string { return arn(policy.EC2NetworkInterface, primary(w, inst).ID) }, true},
		{"instance-group", func(w *ec2.Topology, inst string) string {
			return arn(policy.EC2SecurityGroup, primary(w, inst).Groups[0])
		}, true},
		{"vpc", func(w *ec2.Topology, inst string) string { return arn(policy.EC2VPC, primary(w, inst).VpcID) }, true},
		{"other-instance", func(_ *ec2.Topology, _ string) string { return arn(policy.EC2Instance, "i-0123456789abcdef0") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, inst := benchWorld(t, 2, 1)
			topo, err := s.cfg.EC2.Topology(callerCtx(), ec2.TopologySelector{})
			if err != nil {
				t.Fatal(err)
			}
			deny := tc.denyOn(topo, inst)
			s.cfg.Authorizer = authz{denyOn: []string{deny}}
			before := groupCount(t, s)
			_, err = s.Connect(callerCtx(), "web", inst)
			if e, ok := awserr.As(err); tc.denied && (!ok || e.Code != "AccessDenied") || !tc.denied && err != nil {
				t.Fatalf("Connect with a Deny on %s = %v, want denied %v", deny, err, tc.denied)
			}
			if n := groupCount(t, s); tc.denied && n != before {
				t.Errorf("a refused Connect changed the groups: %d, want %d", n, before)
			}
		})
	}
	t.Run("disconnect", func(t *testing.T) {
		s, inst := benchWorld(t, 2, 1)
		res, err := s.Connect(callerCtx(), "web", inst)
		if err != nil {
			t.Fatal(err)
		}
		before := groupCount(t, s)
		for _, g := range []string{res.CacheSideID, res.InstanceSideID} {
			s.cfg.Authorizer = authz{denyOn: []string{arn(policy.EC2SecurityGroup, g)}}
			if _, err := s.Disconnect(callerCtx(), "web", inst); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
				t.Errorf("Disconnect with a Deny on %s = %v, want AccessDenied", g, err)
			}
			if n := groupCount(t, s); n != before {
				t.Errorf("a refused Disconnect changed the groups: %d, want %d", n, before)
			}
		}
		s.cfg.Authorizer = authz{}
		if out, err := s.Disconnect(callerCtx(), "web", inst); err != nil || len(out.Removed) != 2 {
			t.Errorf("Disconnect = %+v, %v; want the pair removed", out, err)
		}
	})
}

// Each write is authorized again as it is made, on its exact input: a
// refusal on the group just created (which the check before writing could
// only name by wildcard) fails Connect and undoes what it did.
func TestConnectChecksEachCall(t *testing.T) {
	s, inst := benchWorld(t, 2, 1)
	before := groupCount(t, s)
	var log bytes.Buffer
	s.cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	s.cfg.Authorizer = authz{denyNamed: []string{"ec2:AuthorizeSecurityGroupEgress"}}
	_, err := s.Connect(callerCtx(), "web", inst)
	if e, ok := awserr.As(err); !ok || e.Code != "AccessDenied" {
		t.Fatalf("Connect = %v, want AccessDenied", err)
	}
	if n := groupCount(t, s); n != before {
		t.Errorf("after a refused call Connect left %d groups, want %d (undone)", n, before)
	}
	if c, _ := s.cfg.Caches.Cache(callerCtx(), "web"); len(c.SecurityGroups) != 1 {
		t.Errorf("cache groups = %v, want the one it had", c.SecurityGroups)
	}
	if log.Len() != 0 {
		t.Errorf("the undo logged failures:\n%s", log.String())
	}
}

func primary(topo *ec2.Topology, inst string) ec2.TopoInterface {
	for _, ifc := range topo.Interfaces {
		if ifc.InstanceID == inst {
			return ifc
		}
	}
	return ec2.TopoInterface{}
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
		out, err := e.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(100), MaxCount: aws.Int32(100),
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

// TestExplainNamesNetworkACL: when a network ACL denies, explain names the
// ACL and the entry (or the * entry), the answer's direction included
// (ACLs are stateless).
func TestExplainNamesNetworkACL(t *testing.T) {
	s, inst := benchWorld(t, 2, 1)
	ctx := callerCtx()
	e := s.cfg.EC2.(*ec2.Service)
	topo, err := e.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		t.Fatal(err)
	}
	var instGroup, cacheSubnet, vpc, otherSubnet string
	for _, ifc := range topo.Interfaces {
		switch {
		case ifc.RequesterID != "":
			cacheSubnet, vpc = ifc.SubnetID, ifc.VpcID
		case ifc.InstanceID == inst:
			instGroup = ifc.Groups[0]
		}
	}
	for _, sn := range topo.Subnets {
		if sn.VpcID == vpc && sn.ID != cacheSubnet {
			otherSubnet = sn.ID
		}
	}
	run, err := e.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(otherSubnet), SecurityGroupIds: []string{instGroup}})
	if err != nil {
		t.Fatal(err)
	}
	client := aws.ToString(run.Instances[0].InstanceId)
	acl, err := e.CreateNetworkAcl(ctx, &ec2api.CreateNetworkAclRequest{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	aclID := aws.ToString(acl.NetworkAcl.NetworkAclId)
	acls, err := e.DescribeNetworkAcls(ctx, &ec2api.DescribeNetworkAclsRequest{Filters: []ec2api.Filter{{Name: aws.String("association.subnet-id"), Values: []string{cacheSubnet}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range acls.NetworkAcls[0].Associations {
		if aws.ToString(as.SubnetId) == cacheSubnet {
			if _, err := e.ReplaceNetworkAclAssociation(ctx, &ec2api.ReplaceNetworkAclAssociationRequest{AssociationId: as.NetworkAclAssociationId, NetworkAclId: aws.String(aclID)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	entry := func(n int32, egress bool, from, to int32) {
		t.Helper()
		if err := e.CreateNetworkAclEntry(ctx, &ec2api.CreateNetworkAclEntryRequest{NetworkAclId: aws.String(aclID), RuleNumber: aws.Int32(n), Egress: aws.Bool(egress),
			Protocol: aws.String("6"), PortRange: &ec2api.PortRange{From: aws.Int32(from), To: aws.Int32(to)}, CidrBlock: aws.String("0.0.0.0/0"), RuleAction: aws.String("allow")}); err != nil {
			t.Fatal(err)
		}
	}
	explain := func(allowed bool, want ...string) {
		t.Helper()
		x, err := s.Explain(ctx, client, "web", 0)
		if err != nil {
			t.Fatal(err)
		}
		if x.Allowed != allowed {
			t.Errorf("Explain allowed = %v, want %v:\n%s", x.Allowed, allowed, x)
		}
		for _, w := range want {
			if !strings.Contains(x.String(), w) {
				t.Errorf("Explain lacks %q:\n%s", w, x)
			}
		}
	}
	explain(false, "missing network-acl", aclID, "denies inbound tcp/6379", "the * entry")
	entry(100, false, 6379, 6379)
	explain(false, "denies outbound the answer tcp to port 32768", aclID)
	entry(100, true, 1024, 65535)
	explain(true, "network ACL "+aclID+" of "+cacheSubnet+": inbound entry 100 allows", "outbound entry 100 allows (the answer)")
}
