package netplane

import (
	"errors"
	"flag"
	"fmt"
	"go/build"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

// seedState is the layout of the product's source documents: a cache in a
// private subnet, an instance in a public one connected by the "set up
// compute connection" pair of groups, a NAT instance with an Elastic IP
// forwarding to the cache from a trusted client on the internet, and a
// peered VPC.
func seedState() State {
	allOut := Rule{ID: "sgr-0default0egress", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0"), pfx("::/0")}}
	return State{
		VPCs: []VPC{
			{ID: "vpc-0a", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}, DNS: true},
			{ID: "vpc-0b", CIDRs: []netip.Prefix{pfx("10.1.0.0/16")}},
		},
		Subnets: []Subnet{
			{ID: "subnet-0public", VPC: "vpc-0a", CIDR: pfx("10.0.0.0/24")},
			{ID: "subnet-0private", VPC: "vpc-0a", CIDR: pfx("10.0.1.0/24")},
			{ID: "subnet-0b", VPC: "vpc-0b", CIDR: pfx("10.1.0.0/24")},
		},
		Interfaces: []Interface{
			{ID: "eni-0cache", Subnet: "subnet-0private", PrivateIP: addr("10.0.1.230"), Groups: []string{"sg-0cacheside"}, Kind: "cache-node", Owner: "my-redis-0001-001"},
			{ID: "eni-0inst", Subnet: "subnet-0public", PrivateIP: addr("10.0.0.10"), Groups: []string{"sg-0instside", "sg-0default"}, Kind: "instance", Owner: "i-0inst"},
			{ID: "eni-0nat", Subnet: "subnet-0public", PrivateIP: addr("10.0.0.55"), Groups: []string{"sg-0nat"}, Kind: "nat-instance", Owner: "i-0nat", DisableSourceDestCheck: true, PublicIP: addr("100.64.0.73")},
			{ID: "eni-0peer", Subnet: "subnet-0b", PrivateIP: addr("10.1.0.20"), Groups: []string{"sg-0bdefault"}, Kind: "instance", Owner: "i-0peer"},
		},
		Groups: []SecurityGroup{
			{ID: "sg-0default", VPC: "vpc-0a", Egress: []Rule{allOut},
				Ingress: []Rule{{ID: "sgr-0selfref", Protocol: "-1", Groups: []string{"sg-0default"}}}},
			{ID: "sg-0cacheside", VPC: "vpc-0a",
				Ingress: []Rule{
					{ID: "sgr-0fromInst", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0instside"}},
					{ID: "sgr-0fromNat", Protocol: "6", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0nat"}},
					{ID: "sgr-0fromPeer", Protocol: "tcp", FromPort: 6379, ToPort: 6380, Groups: []string{"sg-0bdefault"}, CIDRs: []netip.Prefix{pfx("10.1.0.0/24")}},
					{ID: "sgr-0ping", Protocol: "icmp", FromPort: 8, ToPort: -1, CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}},
				},
				Egress: []Rule{allOut}},
			{ID: "sg-0instside", VPC: "vpc-0a",
				Egress: []Rule{{ID: "sgr-0toCache", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0cacheside"}}}},
			{ID: "sg-0nat", VPC: "vpc-0a",
				Ingress: []Rule{
					{ID: "sgr-0natRedis", Protocol: "tcp", FromPort: 6379, ToPort: 6381, CIDRs: []netip.Prefix{pfx("198.51.100.27/32")}},
					{ID: "sgr-0natSsh", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRs: []netip.Prefix{pfx("198.51.100.27/32"), pfx("2001:db8::/64")}},
					{ID: "sgr-0natGre", Protocol: "47", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}},
					{ID: "sgr-0natUnreach", Protocol: "icmp", FromPort: 3, ToPort: 4, CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}},
					{ID: "sgr-0natV6ping", Protocol: "icmpv6", FromPort: -1, ToPort: -1, CIDRs: []netip.Prefix{pfx("::/0")}},
					{ID: "sgr-0natUdp", Protocol: "udp", FromPort: 0, ToPort: 65535, CIDRs: []netip.Prefix{pfx("10.0.0.0/24")}},
				},
				Egress: []Rule{{ID: "sgr-0natToCache", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0cacheside"}}}},
			{ID: "sg-0bdefault", VPC: "vpc-0b", Egress: []Rule{allOut},
				Ingress: []Rule{{ID: "sgr-0bself", Protocol: "-1", Groups: []string{"sg-0bdefault"}}}},
		},
		Peerings: []Peering{{
			ID:        "pcx-0ab",
			Requester: PeeringSide{VPC: "vpc-0a", Routes: []netip.Prefix{pfx("10.1.0.0/16")}},
			Accepter:  PeeringSide{VPC: "vpc-0b", Routes: []netip.Prefix{pfx("10.0.1.0/24")}},
		}},
		InternetGateways: []InternetGateway{{ID: "igw-0a", VPC: "vpc-0a",
			SubnetRoutes: map[string][]netip.Prefix{"subnet-0public": {pfx("0.0.0.0/0")}}}},
		Outside: []netip.Addr{addr("198.51.100.27")},
	}
}

func netipComparers() []cmp.Option {
	return []cmp.Option{
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// describe renders a Plan's kernel objects for a golden.
func describe(p *Plan) string {
	var b strings.Builder
	for _, ns := range p.Namespaces {
		fmt.Fprintf(&b, "netns %s (%s %s)\n", ns.Name, ns.Role, ns.Resource)
		for _, l := range ns.Links {
			fmt.Fprintf(&b, "  link %-15s %v alias %q\n", l.Name, l.Addrs, l.Alias)
		}
		for _, r := range ns.Routes {
			fmt.Fprintf(&b, "  route %s\n", r)
		}
		if ns.Ruleset != nil {
			fmt.Fprintf(&b, "  nft table inet %s, sets:", ns.Ruleset.Table)
			for _, s := range ns.Ruleset.Sets {
				fmt.Fprintf(&b, " %s%v", s.Name, s.Elements)
			}
			b.WriteString("\n")
		}
	}
	if h := p.Host; h != nil {
		fmt.Fprintf(&b, "host\n")
		for _, l := range h.Links {
			fmt.Fprintf(&b, "  link %-15s %v alias %q\n", l.Name, l.Addrs, l.Alias)
		}
		for _, r := range h.Routes {
			fmt.Fprintf(&b, "  route %s\n", r)
		}
		fmt.Fprintf(&b, "  nft table inet %s\n", h.Ruleset.Table)
	}
	for _, v := range p.Veths {
		fmt.Fprintf(&b, "veth %s/%s <-> %s/%s\n", v.A.Namespace, v.A.Name, v.B.Namespace, v.B.Name)
	}
	return b.String()
}

func TestPlanGolden(t *testing.T) {
	plan, err := NewPlan("cl1a2b", seedState())
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	checkGolden(t, "plan", describe(plan))
	for _, ns := range plan.Namespaces {
		if ns.Ruleset != nil {
			checkGolden(t, "ruleset-"+ns.Resource, ns.Ruleset.Text)
		}
	}
}

func TestPlanDeterministic(t *testing.T) {
	st := seedState()
	want, _ := NewPlan("cl1a2b", st)
	// Reverse every slice: the plan must not depend on input order.
	rev := func(n int, swap func(i, j int)) {
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			swap(i, j)
		}
	}
	rev(len(st.VPCs), func(i, j int) { st.VPCs[i], st.VPCs[j] = st.VPCs[j], st.VPCs[i] })
	rev(len(st.Subnets), func(i, j int) { st.Subnets[i], st.Subnets[j] = st.Subnets[j], st.Subnets[i] })
	rev(len(st.Interfaces), func(i, j int) { st.Interfaces[i], st.Interfaces[j] = st.Interfaces[j], st.Interfaces[i] })
	rev(len(st.Groups), func(i, j int) { st.Groups[i], st.Groups[j] = st.Groups[j], st.Groups[i] })
	for i := range st.Groups {
		g := &st.Groups[i]
		rev(len(g.Ingress), func(i, j int) { g.Ingress[i], g.Ingress[j] = g.Ingress[j], g.Ingress[i] })
	}
	got, _ := NewPlan("cl1a2b", st)
	if diff := cmp.Diff(want, got, netipComparers()...); diff != "" {
		t.Errorf("NewPlan(reordered) differs (-want +got):\n%s", diff)
	}
}

func TestLinkNames(t *testing.T) {
	for _, prefix := range []string{"cl", "cl1a2b", "abcdefg"} {
		plan, err := NewPlan(prefix, seedState())
		if err != nil {
			t.Fatal(err)
		}
		for _, ns := range plan.Namespaces {
			if !strings.HasPrefix(ns.Name, prefix+"-") {
				t.Errorf("namespace %q lacks prefix %q", ns.Name, prefix)
			}
			for _, l := range ns.Links {
				if len(l.Name) > 15 {
					t.Errorf("link %q longer than 15 bytes", l.Name)
				}
				if l.Name != InterfaceLink && l.Name != LoopbackLink && !strings.HasPrefix(l.Name, prefix+"-") {
					t.Errorf("link %q lacks prefix %q", l.Name, prefix)
				}
			}
		}
	}
	if a, b := linkName("cl", 'i', "eni-1"), linkName("cl", 'i', "eni-1"); a != b {
		t.Errorf("linkName not deterministic: %q, %q", a, b)
	}
}

func TestValidPrefix(t *testing.T) {
	for p, ok := range map[string]bool{"cl": true, "cl1a2b": true, "abcdefg": true, "c": false, "abcdefgh": false, "Cl": false, "cl-1": false, "1cl": false, "": false} {
		if got := ValidPrefix(p) == nil; got != ok {
			t.Errorf("ValidPrefix(%q) ok = %v, want %v", p, got, ok)
		}
		if _, err := New(Config{Prefix: p}); (err == nil) != ok {
			t.Errorf("New(%q) err = %v", p, err)
		}
	}
}

func TestProtoMatch(t *testing.T) {
	tests := []struct {
		proto    string
		from, to int
		want     string
		wantErr  bool
	}{
		{"-1", 0, 0, "", false},
		{"tcp", 6379, 6379, "tcp dport 6379", false},
		{"tcp", 6379, 6381, "tcp dport 6379-6381", false},
		{"6", 22, 22, "tcp dport 22", false},
		{"udp", -1, -1, "meta l4proto udp", false},
		{"17", 0, 65535, "meta l4proto udp", false},
		{"tcp", 10, 5, "", true},
		{"tcp", 1, 70000, "", true},
		{"icmp", -1, -1, "meta l4proto icmp", false},
		{"icmp", 8, -1, "icmp type 8", false},
		{"1", 3, 4, "icmp type 3 icmp code 4", false},
		{"icmpv6", 128, -1, "icmpv6 type 128", false},
		{"58", -1, -1, "meta l4proto ipv6-icmp", false},
		{"47", 0, 0, "meta l4proto 47", false},
		{"sctp", 0, 0, "", true},
		{"256", 0, 0, "", true},
	}
	for _, tt := range tests {
		got, err := protoMatch(Rule{Protocol: tt.proto, FromPort: tt.from, ToPort: tt.to})
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("protoMatch(%s %d-%d) = %q, %v; want %q, err %v", tt.proto, tt.from, tt.to, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestUsableAddr(t *testing.T) {
	s := pfx("10.0.1.0/24")
	for a, ok := range map[string]bool{"10.0.1.0": false, "10.0.1.1": false, "10.0.1.2": false, "10.0.1.3": false, "10.0.1.4": true, "10.0.1.254": true, "10.0.1.255": false, "10.0.2.5": false} {
		if got := usableAddr(s, addr(a)) == nil; got != ok {
			t.Errorf("usableAddr(%s, %s) = %v, want %v", s, a, got, ok)
		}
	}
}

func TestPlanProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*State)
		want   string // in the error
		gone   string // resource left out of the plan
	}{
		{"unknown subnet", func(s *State) { s.Interfaces[0].Subnet = "subnet-0nope" }, "unknown subnet", "eni-0cache"},
		{"reserved address", func(s *State) { s.Interfaces[0].PrivateIP = addr("10.0.1.1") }, "reserved", "eni-0cache"},
		{"outside subnet", func(s *State) { s.Interfaces[0].PrivateIP = addr("10.0.9.9") }, "not an IPv4 address in subnet", "eni-0cache"},
		{"duplicate address", func(s *State) { s.Interfaces[2].PrivateIP = s.Interfaces[1].PrivateIP }, "already used", "eni-0nat"},
		{"bad protocol", func(s *State) { s.Groups[1].Ingress[0].Protocol = "sctp" }, "unknown protocol", "sgr-0fromInst"},
		{"group of another vpc", func(s *State) { s.Interfaces[3].Groups = []string{"sg-0default"} }, "belongs to vpc-0a", "chain in-eni-0peer {\n\t\t# eni-0peer 10.1.0.20 instance i-0peer\n\t\tdrop"},
		{"subnet outside vpc", func(s *State) { s.Subnets[2].CIDR = pfx("10.9.0.0/24") }, "outside vpc", "eni-0peer"},
		{"bad id", func(s *State) { s.Interfaces[0].ID = "eni-../../x" }, "invalid eni id", "10.0.1.230"},
		{"peering unknown vpc", func(s *State) { s.Peerings[0].Accepter.VPC = "vpc-0z" }, "unknown accepter vpc", "pcx-0ab"},
		{"gateway of an unknown vpc", func(s *State) { s.InternetGateways[0].VPC = "vpc-0z" }, "unknown vpc", "igw-0a"},
		{"second gateway of a vpc", func(s *State) {
			s.InternetGateways = append(s.InternetGateways, InternetGateway{ID: "igw-0z", VPC: "vpc-0a"})
		}, "already has igw-0a", "igw-0z"},
		{"outside client in a vpc", func(s *State) { s.Outside = append(s.Outside, addr("10.1.7.7")) }, "inside 10.1.0.0/16 of vpc-0b", "10.1.7.7"},
		{"outside client on an elastic ip", func(s *State) { s.Outside = append(s.Outside, addr("100.64.0.73")) }, "public address of eni-0nat", "outside-100.64.0.73"},
		{"outside client not unicast", func(s *State) { s.Outside = append(s.Outside, addr("127.0.0.9")) }, "not a unicast", "127.0.0.9"},
		{"public address not unicast", func(s *State) { s.Interfaces[2].PublicIP = addr("224.0.0.5") }, "not a unicast", "224.0.0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := seedState()
			tt.mutate(&st)
			plan, err := NewPlan("cl", st)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("NewPlan err = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
			d := describe(plan)
			for _, ns := range plan.Namespaces {
				if ns.Ruleset != nil {
					d += ns.Ruleset.Text
				}
			}
			if strings.HasPrefix(tt.gone, "chain") {
				if !strings.Contains(d, tt.gone) {
					t.Errorf("plan lacks %q:\n%s", tt.gone, d)
				}
				return
			}
			if strings.Contains(d, tt.gone) {
				t.Errorf("plan still contains %q", tt.gone)
			}
		})
	}
}

// TestPlanInternet: who gets the internet: the router of a VPC with a
// gateway routes what its subnets send there; the internet routes the
// public addresses of that VPC only; a public address used twice stays
// with the first interface; without gateways and outside clients there is
// no internet namespace.
func TestPlanInternet(t *testing.T) {
	st := seedState()
	st.Interfaces[3].PublicIP = addr("100.64.0.73") // eni-0peer: taken by eni-0nat
	st.Interfaces[1].PublicIP = addr("100.64.0.80") // eni-0inst, public subnet
	plan, err := NewPlan("cl", st)
	if err == nil || !strings.Contains(err.Error(), "interface eni-0peer: public address 100.64.0.73 already used by eni-0nat") {
		t.Errorf("NewPlan err = %v, want the duplicate public address", err)
	}
	var internet *Namespace
	for i, ns := range plan.Namespaces {
		if ns.Role == RoleInternet {
			internet = &plan.Namespaces[i]
		}
	}
	if internet == nil {
		t.Fatalf("no internet namespace:\n%s", describe(plan))
	}
	var routes []string
	for _, r := range internet.Routes {
		routes = append(routes, r.String())
	}
	g, o := linkName("cl", 'g', "igw-0a"), linkName("cl", 'o', "198.51.100.27")
	want := []string{
		"100.64.0.73/32 via 169.254.0.2 dev " + g + " onlink",
		"100.64.0.80/32 via 169.254.0.2 dev " + g + " onlink",
		"198.51.100.27/32 dev " + o,
	}
	if diff := cmp.Diff(want, routes); diff != "" {
		t.Errorf("internet routes (-want +got):\n%s", diff)
	}
	rs := plan.Namespaces[0].Ruleset.Text
	for _, el := range []string{"100.64.0.73 : 10.0.0.55", "100.64.0.80 : 10.0.0.10", "10.0.0.10/32 . 0.0.0.0/0", "10.0.0.55/32 . 0.0.0.0/0"} {
		if !strings.Contains(rs, el) {
			t.Errorf("vpc-0a ruleset lacks %q", el)
		}
	}
	if strings.Contains(plan.Namespaces[1].Ruleset.Text, "nat hook") {
		t.Errorf("vpc-0b, without a gateway, has NAT chains")
	}

	st = seedState()
	st.InternetGateways, st.Outside = nil, nil
	plan, err = NewPlan("cl", st)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range plan.Namespaces {
		if ns.Role == RoleInternet || ns.Role == RoleOutside {
			t.Errorf("namespace %s without gateways or outside clients", ns.Name)
		}
		for _, r := range ns.Routes {
			if ns.Role == RoleRouter && r.Dst.Bits() == 0 {
				t.Errorf("router %s has a default route without a gateway: %s", ns.Name, r)
			}
		}
	}
}

func TestMembershipOnlyChangesElements(t *testing.T) {
	st := seedState()
	before, _ := NewPlan("cl", st)
	// A second instance joins sg-0bdefault in the peered VPC: for vpc-0a's
	// router only the elements of set sg-0bdefault change.
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0peer2", Subnet: "subnet-0b", PrivateIP: addr("10.1.0.21"), Groups: []string{"sg-0bdefault"}})
	after, err := NewPlan("cl", st)
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Namespaces[0].Ruleset, after.Namespaces[0].Ruleset
	if b.Text == a.Text {
		t.Fatalf("vpc-0a ruleset unchanged by a new member")
	}
	if b.Skeleton != a.Skeleton {
		t.Errorf("vpc-0a skeleton changed by a membership change:\n%s", cmp.Diff(b.Skeleton, a.Skeleton))
	}
	// In vpc-0b the new interface brings its own chains: a structural change.
	if before.Namespaces[1].Ruleset.Skeleton == after.Namespaces[1].Ruleset.Skeleton {
		t.Errorf("vpc-0b skeleton unchanged by a new interface")
	}
	// A new rule is structural.
	st.Groups[2].Egress = append(st.Groups[2].Egress, Rule{ID: "sgr-0new", Protocol: "udp", FromPort: 53, ToPort: 53, CIDRs: []netip.Prefix{pfx("10.0.0.2/32")}})
	ruled, _ := NewPlan("cl", st)
	if ruled.Namespaces[0].Ruleset.Skeleton == a.Skeleton {
		t.Errorf("vpc-0a skeleton unchanged by a new rule")
	}
}

// TestRuleChangeKeepsFrame: a rule added to a group changes only the
// chains of its members, with the Frame unchanged, so the change is loaded
// incrementally; a new interface changes the Frame.
func TestRuleChangeKeepsFrame(t *testing.T) {
	st := testState()
	before, _ := NewPlan("cl", st)
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bnew", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRs: []netip.Prefix{pfx("10.0.1.30/32")}})
	after, err := NewPlan("cl", st)
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Namespaces[0].Ruleset, after.Namespaces[0].Ruleset
	if b.Frame != a.Frame {
		t.Errorf("frame changed by a new rule:\n%s", cmp.Diff(b.Frame, a.Frame))
	}
	change, sets, chains, _ := incrementalChange(b, a, nil)
	if sets != 0 || chains != 1 {
		t.Errorf("change touches %d sets and %d chains, want 0 and 1: %s", sets, chains, change)
	}
	want := `flush chain inet cl in-eni-0b; add rule inet cl in-eni-0b ip saddr @sg-0a tcp dport 6379 accept comment "sgr-0bfroma sg-0b"; ` +
		`add rule inet cl in-eni-0b ip saddr 10.0.1.30/32 tcp dport 22 accept comment "sgr-0bnew sg-0b"; add rule inet cl in-eni-0b drop comment "eni-0b no ingress rule matched"`
	if change != want {
		t.Errorf("change =\n%s\nwant\n%s", change, want)
	}
	if c, _, _, _ := incrementalChange(a, a, nil); c != "" {
		t.Errorf("change from a ruleset to itself = %q, want none", c)
	}
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0e", Subnet: "subnet-01", PrivateIP: addr("10.0.1.50"), Groups: []string{"sg-0b"}})
	grown, _ := NewPlan("cl", st)
	if grown.Namespaces[0].Ruleset.Frame == a.Frame {
		t.Errorf("frame unchanged by a new interface")
	}
}

// TestIncrementalChangeAppendsOnly: with the rule handles known, a grant
// deletes the chain's final drop and appends the new rule and the drop
// again, and a revoke deletes the rule by handle: no insert at a position
// (which makes nft read every rule of the table first); a membership
// change deletes and adds only the elements that changed.
func TestIncrementalChangeAppendsOnly(t *testing.T) {
	st := testState()
	before, _ := NewPlan("cl", st)
	b := before.Namespaces[0].Ruleset
	h := &ruleHandles{chains: map[string][]kernelRule{}, next: 100}
	for i, c := range b.Chains {
		for j, r := range c.Rules {
			h.chains[c.Name] = append(h.chains[c.Name], kernelRule{text: r, handle: uint64(10*(i+1) + j)})
		}
	}
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0b0", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRs: []netip.Prefix{pfx("10.0.1.30/32")}})
	granted, _ := NewPlan("cl", st)
	a := granted.Namespaces[0].Ruleset
	if got := a.Chains[2].Rules[0]; !strings.Contains(got, "sgr-0b0") {
		t.Fatalf("new rule not rendered first in its chain: %q", got)
	}
	change, sets, chains, h2 := incrementalChange(b, a, h)
	want := `delete rule inet cl in-eni-0b handle 31; add rule inet cl in-eni-0b ip saddr 10.0.1.30/32 tcp dport 22 accept comment "sgr-0b0 sg-0b"; ` +
		`add rule inet cl in-eni-0b drop comment "eni-0b no ingress rule matched"`
	if change != want || sets != 0 || chains != 1 {
		t.Errorf("grant = %d sets, %d chains:\n%s\nwant 0, 1:\n%s", sets, chains, change, want)
	}
	if h2.next != 102 {
		t.Errorf("next handle after the grant = %d, want 102", h2.next)
	}
	change, _, _, h3 := incrementalChange(a, b, h2)
	if want := "delete rule inet cl in-eni-0b handle 100"; change != want {
		t.Errorf("revoke = %s, want %s", change, want)
	}
	if got := h3.chains["in-eni-0b"]; len(got) != 2 || got[1].handle != 101 || got[0].handle != 30 {
		t.Errorf("chain after the revoke = %v, want handles 30 and 101", got)
	}

	st.Groups[1].Ingress = st.Groups[1].Ingress[:len(st.Groups[1].Ingress)-1]
	st.Interfaces[2].Groups = []string{"sg-0c", "sg-0a"}
	moved, _ := NewPlan("cl", st)
	change, sets, _, _ = incrementalChange(b, moved.Namespaces[0].Ruleset, h)
	if want := "add element inet cl sg-0a { 10.0.1.30 }; "; !strings.HasPrefix(change, want) || sets != 1 || strings.Contains(change, "flush") {
		t.Errorf("membership change = %d sets: %s, want 1 set, beginning %q, no flush", sets, change, want)
	}
	st.Interfaces[0].Groups = []string{"sg-0c"}
	left, _ := NewPlan("cl", st)
	change, _, _, _ = incrementalChange(moved.Namespaces[0].Ruleset, left.Namespaces[0].Ruleset, h)
	if want := "delete element inet cl sg-0a { 10.0.1.10 }; "; !strings.HasPrefix(change, want) {
		t.Errorf("member leaving = %s, want it to begin %q", change, want)
	}
}

func TestGroupSetsScopedToPeers(t *testing.T) {
	st := seedState()
	// An unpeered VPC with an interface in a group referenced from vpc-0a
	// must not add its (possibly overlapping) address to vpc-0a's sets.
	st.VPCs = append(st.VPCs, VPC{ID: "vpc-0c", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}})
	st.Subnets = append(st.Subnets, Subnet{ID: "subnet-0c", VPC: "vpc-0c", CIDR: pfx("10.0.0.0/24")})
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0c", VPC: "vpc-0c"})
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0c", Subnet: "subnet-0c", PrivateIP: addr("10.0.0.99"), Groups: []string{"sg-0c"}})
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0fromC", Protocol: "-1", Groups: []string{"sg-0c"}})
	plan, err := NewPlan("cl", st)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plan.Namespaces[0].Ruleset.Sets {
		if s.Name == "sg-0c" && len(s.Elements) != 0 {
			t.Errorf("vpc-0a set sg-0c = %v, want empty (vpc-0c is not peered)", s.Elements)
		}
	}
	// The peered VPC's members are visible.
	found := false
	for _, s := range plan.Namespaces[0].Ruleset.Sets {
		if s.Name == "sg-0bdefault" {
			found = cmp.Equal(s.Elements, []netip.Addr{addr("10.1.0.20")}, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }))
		}
	}
	if !found {
		t.Errorf("vpc-0a set sg-0bdefault lacks the peered member 10.1.0.20")
	}
}

func TestCommentsAreSanitized(t *testing.T) {
	st := seedState()
	st.Interfaces[0].Owner = "evil\"name\n}\ttable"
	st.Groups[1].Ingress[0].ID = "sgr-\"; flush ruleset"
	plan, err := NewPlan("cl", st)
	if err != nil {
		t.Fatal(err)
	}
	text := plan.Namespaces[0].Ruleset.Text
	for _, bad := range []string{"evil\"", "\"; flush", "\n}\t"} {
		if strings.Contains(text, bad) {
			t.Errorf("ruleset contains unsanitized %q", bad)
		}
	}
	if !strings.Contains(text, "evil_name___table") {
		t.Errorf("ruleset lacks the sanitized label")
	}
}

func TestNoCachalotImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range append(pkg.Imports, pkg.TestImports...) {
		if strings.HasPrefix(imp, "github.com/cachalot-dev/cachalot/") {
			t.Errorf("netplane imports %s; it must import nothing of Cachalot's", imp)
		}
	}
}

// TestNewInterfaceKeepsFrameBase: a new interface (in a new group, with an
// Elastic IP, in a VPC with DNS and an internet gateway) leaves the frame
// base unchanged, so it is loaded incrementally: its group set and chains
// are added, its verdict-map, DNS-client and Elastic IP elements added
// after the chains they jump to, and removing it again deletes the
// elements before the chains and the group set last; the handles advance
// by one per set, chain and rule added.
func TestNewInterfaceKeepsFrameBase(t *testing.T) {
	st := testState()
	st.VPCs[0].DNS = true
	st.InternetGateways = []InternetGateway{{ID: "igw-0a", VPC: "vpc-0a", SubnetRoutes: map[string][]netip.Prefix{"subnet-01": {pfx("0.0.0.0/0")}}}}
	st.Interfaces[0].PublicIP = addr("100.64.0.9")
	before, err := NewPlan("cl", st)
	if err != nil {
		t.Fatal(err)
	}
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0new", VPC: "vpc-0a", Ingress: []Rule{{ID: "sgr-0n", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0new"}}}})
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0e", Subnet: "subnet-01", PrivateIP: addr("10.0.1.50"), Groups: []string{"sg-0new"}, PublicIP: addr("100.64.0.10")})
	after, err := NewPlan("cl", st)
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Namespaces[0].Ruleset, after.Namespaces[0].Ruleset
	if fb, fa := splitFrame(b), splitFrame(a); fb.base != fa.base {
		t.Fatalf("frame base changed by a new interface:\n%s", cmp.Diff(fb.base, fa.base))
	}
	h := &ruleHandles{chains: map[string][]kernelRule{}, next: 500}
	for i, c := range b.Chains {
		for j, r := range c.Rules {
			h.chains[c.Name] = append(h.chains[c.Name], kernelRule{text: r, handle: uint64(10*(i+1) + j)})
		}
	}
	change, _, chains, h2 := incrementalChange(b, a, h)
	cmds := strings.Split(change, "; ")
	at := func(prefix string) int { // where the first command beginning prefix is
		t.Helper()
		i := strings.Index("; "+change, "; "+prefix)
		if i < 0 {
			t.Fatalf("no command beginning %q in\n%s", prefix, strings.Join(cmds, "\n"))
		}
		return i
	}
	if !(at("add set inet cl sg-0new { type ipv4_addr; comment ") < at("add chain inet cl in-eni-0e") &&
		at("add chain inet cl in-eni-0e") < at("add element inet cl ingress {") &&
		at("add chain inet cl out-eni-0e") < at("add element inet cl egress {")) {
		t.Errorf("commands out of order:\n%s", strings.Join(cmds, "\n"))
	}
	at("add element inet cl " + dnsClientsSet + " {")
	at("add element inet cl eip-dnat { 100.64.0.10 : 10.0.1.50 }")
	if chains != 2 || strings.Contains(change, "flush") || strings.Contains(change, "delete") {
		t.Errorf("new interface touches %d chains (want 2), no flush, no delete:\n%s", chains, strings.Join(cmds, "\n"))
	}
	added := strings.Count(change, "add set ") + strings.Count(change, "add chain ") + strings.Count(change, "add rule ")
	if h2.next != 500+uint64(added) || len(h2.chains["in-eni-0e"]) == 0 || h2.chains["in-eni-0e"][0].handle != 502 {
		t.Errorf("handles after the new interface: next %d (want %d), in-eni-0e %v", h2.next, 500+added, h2.chains["in-eni-0e"])
	}
	change, _, _, _ = incrementalChange(a, b, h2)
	cmds = strings.Split(change, "; ")
	if !(at("delete element inet cl ingress {") < at("delete chain inet cl in-eni-0e") &&
		at("delete chain inet cl in-eni-0e") < at("delete set inet cl sg-0new") &&
		strings.HasPrefix(cmds[len(cmds)-1], "delete set")) {
		t.Errorf("removal out of order:\n%s", strings.Join(cmds, "\n"))
	}
	at("delete element inet cl eip-dnat { 100.64.0.10 }")
	// A new peering or gateway is structure: the base changes.
	st.InternetGateways = nil
	gone, _ := NewPlan("cl", st)
	if splitFrame(gone.Namespaces[0].Ruleset).base == splitFrame(a).base {
		t.Errorf("frame base unchanged by a detached internet gateway")
	}
}

// TestSameTopology: the comparison ApplyChange makes without reflection
// agrees with reflect.DeepEqual on the topologies of plans that differ in
// each part.
func TestSameTopology(t *testing.T) {
	variants := []func(*State){
		func(*State) {},
		func(s *State) { s.Interfaces[0].PrivateIP = addr("10.0.1.11") },
		func(s *State) { s.Interfaces[1].Kind = "instance" }, // the link's alias
		func(s *State) { s.Interfaces = s.Interfaces[:3] },
		func(s *State) { s.Subnets[1].CIDR = pfx("10.0.3.0/24") },
		func(s *State) { s.Groups[1].Ingress = nil }, // rules only: same topology
		func(s *State) {
			s.Published = []PublishedEndpoint{{Interface: "eni-0b", Port: 6379, Loopback: addr("127.64.63.2"), Comment: "b 0001"}}
		},
	}
	plans := make([]*Plan, len(variants))
	for i, v := range variants {
		st := testState()
		v(&st)
		plan, _ := NewPlan("cl", st)
		if plan == nil {
			t.Fatalf("variant %d: no plan", i)
		}
		plans[i] = topologyOf(plan)
	}
	for i, a := range plans {
		for j, b := range plans {
			if got, want := sameTopology(a, b), reflect.DeepEqual(a, b); got != want {
				t.Errorf("variants %d and %d: sameTopology %v, reflect.DeepEqual %v", i, j, got, want)
			}
		}
	}
	if !sameTopology(plans[0], plans[5]) {
		t.Errorf("a rule change changed the topology")
	}
	for _, i := range []int{1, 2, 3, 4, 6} {
		if sameTopology(plans[0], plans[i]) {
			t.Errorf("variant %d: same topology as the base", i)
		}
	}
}
