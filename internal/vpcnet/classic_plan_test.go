package vpcnet

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/store"
)

type classicOnly struct{}

func (classicOnly) EC2Classic(context.Context, string) (bool, error) { return true, nil }

// The classic network's export (synthetic VPC, subnet, groups and grants)
// is a valid netplane state: the planner leaves nothing out, and the cache
// node's interface gets the grants group.
func TestClassicTopologyPlans(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := ec2.New(st, ec2.Config{Accounts: classicOnly{}})
	const acct, region = "555555555555", "us-east-1"
	ctx := auth.WithScope(context.Background(), auth.Scope{AccountID: acct, Region: region})
	if _, err := s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: ptrTo("app"), Description: ptrTo("app")}); err != nil {
		t.Fatal(err)
	}
	r, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptrTo("ami-12345678"), MinCount: ptrTo(int32(1)), MaxCount: ptrTo(int32(1)),
		SecurityGroups: []string{"app"}})
	if err != nil {
		t.Fatal(err)
	}
	node, err := s.CreateManagedInterface(context.Background(), ec2.InterfaceSpec{Account: acct, Region: region, Classic: true, Description: "ElastiCache web-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetInterfaceIngressGrants(context.Background(), acct, region, node.ID,
		[]ec2.IngressGrant{{CacheSecurityGroup: "mycsg", GroupOwner: acct, GroupName: "app", Port: 6379}}); err != nil {
		t.Fatal(err)
	}
	topo, err := s.Topology(context.Background(), ec2.TopologySelector{})
	if err != nil {
		t.Fatal(err)
	}
	state := netplaneState(topo)
	plan, err := netplane.NewPlan("cltest", state)
	if err != nil {
		t.Fatalf("NewPlan of the classic network: %v", err)
	}
	router := netplane.NamespaceName("cltest", ec2.ClassicNetwork(acct, region).VpcID)
	found := map[string]bool{}
	for _, ns := range plan.Namespaces {
		found[ns.Name] = true
	}
	for _, want := range []string{router, netplane.NamespaceName("cltest", node.ID),
		netplane.NamespaceName("cltest", *r.Instances[0].NetworkInterfaces[0].NetworkInterfaceId)} {
		if !found[want] {
			t.Errorf("plan has no namespace %s (has %v)", want, found)
		}
	}
	for _, in := range state.Interfaces {
		if in.ID == node.ID && (len(in.Groups) != 1 || in.Groups[0] != "sg-grants"+node.ID[len("eni-"):]) {
			t.Errorf("node interface groups = %v, want its grants group", in.Groups)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
