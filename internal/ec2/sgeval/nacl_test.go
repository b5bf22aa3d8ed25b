package sgeval

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

func aclE(n int32, egress bool, proto string, from, to int32, cidr string, allow bool) ec2.TopoACLEntry {
	return ec2.TopoACLEntry{Number: n, Egress: egress, Protocol: proto, FromPort: from, ToPort: to, CIDR: netip.MustParsePrefix(cidr), Allow: allow}
}

// TestNetworkACLs: stateless, first match in number order, both ways for
// answered flows, not within a subnet, and the denying entry named.
func TestNetworkACLs(t *testing.T) {
	w := &world{}
	w.vpc("vpc-a", "10.0.0.0/16")
	w.subnet("subnet-1", "vpc-a", "10.0.1.0/24")
	w.subnet("subnet-2", "vpc-a", "10.0.2.0/24")
	w.group("sg-open", "vpc-a", []ec2.TopoRule{{ID: "sgr-in", Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}, allOut("sgr-out"))
	w.iface("eni-c", "subnet-1", "10.0.1.10", "sg-open")
	w.iface("eni-s", "subnet-2", "10.0.2.10", "sg-open")
	w.iface("eni-n", "subnet-2", "10.0.2.11", "sg-open")
	set := func(entries ...ec2.TopoACLEntry) *Evaluator {
		t := w.t
		t.NetworkACLs = []ec2.TopoNetworkACL{
			{ID: "acl-def", VpcID: "vpc-a", IsDefault: true, Subnets: []string{"subnet-1"},
				Entries: []ec2.TopoACLEntry{aclE(100, false, "-1", -1, -1, "0.0.0.0/0", true), aclE(100, true, "-1", -1, -1, "0.0.0.0/0", true)}},
			{ID: "acl-x", VpcID: "vpc-a", Subnets: []string{"subnet-2"}, Entries: entries},
		}
		return New(&t)
	}
	flow := func(src, dst string, port int32) Flow {
		return Flow{Src: Endpoint{Interface: src}, Dst: Endpoint{Interface: dst}, Protocol: "tcp", Port: port}
	}
	in6379 := aclE(100, false, "6", 6379, 6379, "0.0.0.0/0", true)
	outEph := aclE(100, true, "6", 1024, 65535, "0.0.0.0/0", true)

	for _, c := range []struct {
		name    string
		entries []ec2.TopoACLEntry
		flow    Flow
		allowed bool
		want    string // in the verdict
	}{
		{"only *", nil, flow("eni-c", "eni-s", 6379), false, "acl-x of subnet-2 denies inbound tcp/6379 from 10.0.1.10: the * entry"},
		{"same subnet", nil, flow("eni-n", "eni-s", 6379), true, ""},
		{"inbound only: the answer", []ec2.TopoACLEntry{in6379}, flow("eni-c", "eni-s", 6379), false,
			"denies outbound the answer tcp to port 32768 (client ports 32768-60999) to 10.0.1.10"},
		{"both", []ec2.TopoACLEntry{in6379, outEph}, flow("eni-c", "eni-s", 6379), true, ""},
		{"lower deny wins", []ec2.TopoACLEntry{aclE(50, false, "6", 6000, 7000, "10.0.1.10/32", false), in6379, outEph}, flow("eni-c", "eni-s", 6379), false, "entry 50"},
		{"deny below allow loses", []ec2.TopoACLEntry{in6379, aclE(150, false, "6", 6000, 7000, "10.0.1.10/32", false), outEph}, flow("eni-c", "eni-s", 6379), true, ""},
		{"part of the ephemeral range", []ec2.TopoACLEntry{in6379, aclE(100, true, "6", 1024, 50000, "0.0.0.0/0", true)}, flow("eni-c", "eni-s", 6379), false,
			"to port 50001"},
		{"given client port", []ec2.TopoACLEntry{in6379, aclE(100, true, "6", 1024, 50000, "0.0.0.0/0", true)},
			Flow{Src: Endpoint{Interface: "eni-c"}, Dst: Endpoint{Interface: "eni-s"}, Protocol: "tcp", Port: 6379, SrcPort: 40000}, true, ""},
		{"other direction: egress of the server's subnet", []ec2.TopoACLEntry{in6379, outEph}, flow("eni-s", "eni-c", 22), false, "outbound tcp/22 to 10.0.1.10"},
		{"ping needs the echo reply out", []ec2.TopoACLEntry{aclE(10, false, "1", 8, -1, "0.0.0.0/0", true)},
			Flow{Src: Endpoint{Interface: "eni-c"}, Dst: Endpoint{Interface: "eni-s"}, Protocol: "icmp", Port: 8}, false, "the echo reply"},
		{"ping both ways", []ec2.TopoACLEntry{aclE(10, false, "1", 8, -1, "0.0.0.0/0", true), aclE(10, true, "1", 0, 0, "10.0.1.0/24", true)},
			Flow{Src: Endpoint{Interface: "eni-c"}, Dst: Endpoint{Interface: "eni-s"}, Protocol: "icmp", Port: 8}, true, ""},
		{"all protocols", []ec2.TopoACLEntry{aclE(1, false, "-1", -1, -1, "10.0.1.0/24", true), aclE(1, true, "-1", -1, -1, "10.0.1.0/24", true)},
			Flow{Src: Endpoint{Interface: "eni-c"}, Dst: Endpoint{Interface: "eni-s"}, Protocol: "udp", Port: 53}, true, ""},
		{"cidr misses", []ec2.TopoACLEntry{aclE(1, false, "-1", -1, -1, "10.0.3.0/24", true), aclE(1, true, "-1", -1, -1, "0.0.0.0/0", true)},
			flow("eni-c", "eni-s", 80), false, "the * entry"},
		{"ipv6 entry never matches", []ec2.TopoACLEntry{aclE(1, false, "-1", -1, -1, "::/0", true), aclE(1, true, "-1", -1, -1, "0.0.0.0/0", true)},
			flow("eni-c", "eni-s", 80), false, "the * entry"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := set(c.entries...).Check(c.flow)
			if v.Allowed != c.allowed || !strings.Contains(v.String(), c.want) {
				t.Errorf("%s = %s; want allowed=%v mentioning %q", c.flow, v, c.allowed, c.want)
			}
			for _, m := range v.Missing {
				if m.Kind != "network-acl" || m.ACL != "acl-x" || m.Subnet != "subnet-2" {
					t.Errorf("missing %+v: want network-acl of acl-x, subnet-2", m)
				}
			}
		})
	}
}
