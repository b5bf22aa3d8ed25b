package ec2

import (
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// TestGatewayEndpointRoutes: a gateway endpoint adds to each of its route
// tables a route from the service's prefix list to the endpoint, found by
// the route filters; removing the table or the endpoint removes it.
func TestGatewayEndpointRoutes(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")}))
	vpc := *v.Vpc.VpcId
	rt1 := *must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(vpc)})).RouteTable.RouteTableId
	rt2 := *must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(vpc)})).RouteTable.RouteTableId
	e := must[*ec2api.CreateVpcEndpointResult](t)(s.CreateVpcEndpoint(ctx, &ec2api.CreateVpcEndpointRequest{VpcId: ptr(vpc),
		ServiceName: ptr("com.amazonaws.us-east-1.s3"), RouteTableIds: []string{rt1}}))
	vpce := *e.VpcEndpoint.VpcEndpointId
	routes := func(rtb string) []ec2api.Route {
		t.Helper()
		d := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{RouteTableIds: []string{rtb}}))
		return d.RouteTables[0].Routes
	}
	hasEndpoint := func(rtb string) bool {
		for _, r := range routes(rtb) {
			if r.GatewayId != nil && *r.GatewayId == vpce {
				if *r.DestinationPrefixListId != "pl-63a5400a" || *r.State != "active" || r.DestinationCidrBlock != nil {
					t.Errorf("endpoint route in %s = %+v", rtb, r)
				}
				return true
			}
		}
		return false
	}
	if !hasEndpoint(rt1) || hasEndpoint(rt2) {
		t.Fatalf("endpoint route in %s: %v, in %s: %v; want only in the first", rt1, hasEndpoint(rt1), rt2, hasEndpoint(rt2))
	}
	for _, c := range []struct {
		name string
		f    ec2api.Filter
		want int
	}{
		{"gateway-id", filter("route.gateway-id", vpce), 1},
		{"prefix-list", filter("route.destination-prefix-list-id", "pl-63a5400a"), 1},
		{"other-prefix-list", filter("route.destination-prefix-list-id", "pl-02cd2c6b"), 0},
	} {
		d := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{c.f}}))
		if len(d.RouteTables) != c.want {
			t.Errorf("filter %s: %d tables, want %d", c.name, len(d.RouteTables), c.want)
		}
	}
	must[*ec2api.ModifyVpcEndpointResult](t)(s.ModifyVpcEndpoint(ctx, &ec2api.ModifyVpcEndpointRequest{VpcEndpointId: ptr(vpce),
		AddRouteTableIds: []string{rt2}, RemoveRouteTableIds: []string{rt1}}))
	if hasEndpoint(rt1) || !hasEndpoint(rt2) {
		t.Errorf("after moving the endpoint: in %s %v, in %s %v", rt1, hasEndpoint(rt1), rt2, hasEndpoint(rt2))
	}
	must[*ec2api.DeleteVpcEndpointsResult](t)(s.DeleteVpcEndpoints(ctx, &ec2api.DeleteVpcEndpointsRequest{VpcEndpointIds: []string{vpce}}))
	if hasEndpoint(rt2) {
		t.Errorf("route stays after DeleteVpcEndpoints")
	}
}
