package netplane

import (
	"net/netip"
	"testing"
)

const natGwEIP = "100.64.0.90" // nat-0a's Elastic IP, in subnet-0pub

// natState is internetState with a NAT gateway in the public subnet and
// the private subnet's internet route sent to it.
func natState() State {
	st := internetState()
	st.InternetGateways[0].NATGateways = []NATGateway{{ID: "nat-0a", Subnet: "subnet-0pub", PublicIP: addr(natGwEIP),
		SubnetRoutes: map[string][]netip.Prefix{"subnet-0priv": {pfx("0.0.0.0/0")}}}}
	// eni-0priv keeps no Elastic IP: an instance of a private subnet.
	st.Interfaces[2].PublicIP = netip.Addr{}
	return st
}

// TestKernelNATGateway: an instance of a private subnet (no public address)
// reaches a listener on the simulated internet through the NAT gateway,
// which sees the NAT gateway's Elastic IP as the source; nothing reaches
// the instance from outside, not even at the NAT gateway's address;
// removing the route, or the NAT gateway's own route to the internet
// gateway, cuts the path.
func TestKernelNATGateway(t *testing.T) {
	p, _ := newTestPlane(t)
	st := natState()
	apply(t, p, st)
	serveWho(t, p, out(trusted), 8080)
	serveWho(t, p, "eni-0priv", 6379)

	seen, peer, err := who(p, "eni-0priv", trusted+":8080", okTimeout)
	if err != nil {
		t.Fatalf("eni-0priv -> %s:8080 through nat-0a: %v, want a connection", trusted, err)
	}
	if seen != natGwEIP || peer != trusted {
		t.Errorf("eni-0priv -> %s:8080: the outside saw %s, the instance reached %s; want %s and %s", trusted, seen, peer, natGwEIP, trusted)
	}
	// An instance of the public subnet keeps its own Elastic IP; one
	// without is not translated by the NAT gateway (its subnet does not
	// route to it).
	if seen, _, err := who(p, "eni-0nat", trusted+":8080", okTimeout); err != nil || seen != natEIP {
		t.Errorf("eni-0nat -> %s:8080: saw %q, %v; want %s", trusted, seen, err, natEIP)
	}
	cannotReach(t, p, "eni-0plain", trusted+":8080")
	// Nothing opens a connection inwards through the NAT gateway.
	cannotReach(t, p, out(trusted), natGwEIP+":6379")
	cannotReach(t, p, out(trusted), "10.0.1.77:6379")

	// Without the private subnet's route: no way out.
	noRoute := natState()
	noRoute.InternetGateways[0].NATGateways[0].SubnetRoutes = map[string][]netip.Prefix{}
	apply(t, p, noRoute)
	cannotReach(t, p, "eni-0priv", trusted+":8080")

	// The NAT gateway's own subnet without a route to the internet
	// gateway: no way out either.
	noOnward := natState()
	noOnward.InternetGateways[0].SubnetRoutes = map[string][]netip.Prefix{"subnet-0pub": {pfx(stranger + "/32")}}
	apply(t, p, noOnward)
	cannotReach(t, p, "eni-0priv", trusted+":8080")

	// Restored.
	apply(t, p, natState())
	if seen, _, err := who(p, "eni-0priv", trusted+":8080", okTimeout); err != nil || seen != natGwEIP {
		t.Errorf("restored: eni-0priv -> %s:8080: saw %q, %v; want %s", trusted, seen, err, natGwEIP)
	}
}
