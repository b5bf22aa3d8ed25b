package sgeval

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// TestNATGatewayPath: an interface without a public address reaches the
// outside through a NAT gateway its subnet routes to, when the NAT
// gateway's subnet routes on to the internet gateway; nothing reaches it
// from the outside that way.
func TestNATGatewayPath(t *testing.T) {
	build := func(natOnward, privRoute bool) *Evaluator {
		var w world
		w.vpc("vpc-a", "10.1.0.0/16")
		w.subnet("subnet-pub", "vpc-a", "10.1.0.0/24")
		w.subnet("subnet-priv", "vpc-a", "10.1.1.0/24")
		w.t.RouteTables = append(w.t.RouteTables, ec2.TopoRouteTable{ID: "rtb-priv", VpcID: "vpc-a",
			Routes: []ec2.TopoRoute{{Dest: netip.MustParsePrefix("10.1.0.0/16"), Target: "local", Active: true}}})
		for i := range w.t.Subnets {
			if w.t.Subnets[i].ID == "subnet-priv" {
				w.t.Subnets[i].RouteTableID = "rtb-priv"
			}
		}
		w.iface("eni-app", "subnet-priv", "10.1.1.5", "sg-app")
		w.group("sg-app", "vpc-a", nil, allOut("sgr-out"))
		w.t.InternetGateways = []ec2.TopoInternetGateway{{ID: "igw-a", VpcID: "vpc-a"}}
		if natOnward { // the main table: subnet-pub's
			w.t.RouteTables[0].Routes = append(w.t.RouteTables[0].Routes, ec2.TopoRoute{Dest: netip.MustParsePrefix("0.0.0.0/0"), Target: "igw-a", Active: true})
		}
		w.t.NATGateways = []ec2.TopoNATGateway{{ID: "nat-a", VpcID: "vpc-a", SubnetID: "subnet-pub", PublicIP: netip.MustParseAddr("100.64.0.9")}}
		if privRoute {
			for i := range w.t.RouteTables {
				if w.t.RouteTables[i].ID == "rtb-priv" {
					w.t.RouteTables[i].Routes = append(w.t.RouteTables[i].Routes, ec2.TopoRoute{Dest: netip.MustParsePrefix("0.0.0.0/0"), Target: "nat-a", Active: true})
				}
			}
		}
		return New(&w.t)
	}
	out := Flow{Src: ifc("eni-app"), Dst: Endpoint{Addr: netip.MustParseAddr("198.51.100.27")}, Protocol: "tcp", Port: 8080}
	in := Flow{Src: Endpoint{Addr: netip.MustParseAddr("198.51.100.27")}, Dst: ifc("eni-app"), Protocol: "tcp", Port: 8080}
	for _, c := range []struct {
		name                string
		natOnward, route    bool
		f                   Flow
		allowed             bool
		path, missingReason string
	}{
		{"out through the NAT gateway", true, true, out, true, "nat-a", ""},
		{"no route to the NAT gateway", true, false, out, false, "internet", "public-ip"},
		{"NAT gateway's subnet has no route on", false, true, out, false, "nat-a", "route"},
		{"nothing comes in through it", true, true, in, false, "internet", "public-ip"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := build(c.natOnward, c.route).Check(c.f)
			if v.Allowed != c.allowed || v.Path != c.path {
				t.Fatalf("Check = allowed %v path %q, want %v %q\n%s", v.Allowed, v.Path, c.allowed, c.path, v)
			}
			if c.missingReason != "" && !slices.ContainsFunc(v.Missing, func(m Missing) bool { return m.Kind == c.missingReason }) {
				t.Errorf("missing = %v, want a %s", v.Missing, c.missingReason)
			}
		})
	}
}
