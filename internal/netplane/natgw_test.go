package netplane

import (
	"net/netip"
	"strings"
	"testing"
)

// natPlanState: a VPC with a public subnet (0.0.0.0/0 to igw-0a) and a
// private one routed to nat-0a.
func natPlanState() State {
	return State{
		VPCs: []VPC{{ID: "vpc-0a", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}}},
		Subnets: []Subnet{
			{ID: "subnet-0pub", VPC: "vpc-0a", CIDR: pfx("10.0.0.0/24")},
			{ID: "subnet-0priv", VPC: "vpc-0a", CIDR: pfx("10.0.1.0/24")},
		},
		Interfaces: []Interface{{ID: "eni-0app", Subnet: "subnet-0priv", PrivateIP: addr("10.0.1.7")}},
		InternetGateways: []InternetGateway{{ID: "igw-0a", VPC: "vpc-0a",
			SubnetRoutes: map[string][]netip.Prefix{"subnet-0pub": {pfx("0.0.0.0/0")}},
			NATGateways: []NATGateway{{ID: "nat-0a", Subnet: "subnet-0pub", PublicIP: addr("100.64.0.90"),
				SubnetRoutes: map[string][]netip.Prefix{"subnet-0priv": {pfx("0.0.0.0/0")}}}}}},
	}
}

// TestPlanNATGateway: the router translates the routed subnets to the NAT
// gateway's address before the one-to-one NAT, checks the pairs on the
// way out and routes the destinations to the gateway; the internet routes
// the address to the router. Invalid NAT gateways are left out and reported.
func TestPlanNATGateway(t *testing.T) {
	plan, err := NewPlan("cl1a2b", natPlanState())
	if err != nil {
		t.Fatal(err)
	}
	var router, internet *Namespace
	for i := range plan.Namespaces {
		switch plan.Namespaces[i].Role {
		case RoleRouter:
			router = &plan.Namespaces[i]
		case RoleInternet:
			internet = &plan.Namespaces[i]
		}
	}
	rs := router.Ruleset.Text
	for _, want := range []string{
		"set nat-0a {",
		"10.0.1.0/24 . 0.0.0.0/0",
		"ip saddr . ip daddr @nat-0a snat ip to 100.64.0.90",
		"ip saddr . ip daddr != @nat-0a drop",
	} {
		if !strings.Contains(rs, want) {
			t.Errorf("router ruleset lacks %q:\n%s", want, rs)
		}
	}
	if strings.Index(rs, "@nat-0a snat") > strings.Index(rs, "@eip-snat") {
		t.Errorf("the NAT gateway's translation comes after the Elastic IPs':\n%s", rs)
	}
	found := false
	for _, r := range internet.Routes {
		found = found || r.Dst == pfx("100.64.0.90/32")
	}
	if !found {
		t.Errorf("the internet has no route to the NAT gateway's address: %+v", internet.Routes)
	}

	// Its own subnet without a route on: no pair, so nothing is translated.
	st := natPlanState()
	st.InternetGateways[0].SubnetRoutes = map[string][]netip.Prefix{"subnet-0pub": {pfx("198.51.100.0/24")}}
	plan, err = NewPlan("cl1a2b", st)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range plan.Namespaces {
		if ns.Role == RoleRouter && strings.Contains(ns.Ruleset.Text, "@nat-0a snat") {
			t.Errorf("translated without an onward route:\n%s", ns.Ruleset.Text)
		}
	}

	for name, mod := range map[string]func(*NATGateway){
		"bad id":          func(n *NATGateway) { n.ID = "igw-0x" },
		"foreign subnet":  func(n *NATGateway) { n.Subnet = "subnet-0zzz" },
		"private address": func(n *NATGateway) { n.PublicIP = addr("127.0.0.1") },
	} {
		t.Run(name, func(t *testing.T) {
			st := natPlanState()
			mod(&st.InternetGateways[0].NATGateways[0])
			if _, err := NewPlan("cl1a2b", st); err == nil {
				t.Errorf("NewPlan accepted an invalid NAT gateway")
			}
		})
	}
}
