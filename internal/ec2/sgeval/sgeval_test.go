package sgeval

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// world builds small topologies by hand.
type world struct{ t ec2.Topology }

func (w *world) vpc(id, cidr string) {
	w.t.VPCs = append(w.t.VPCs, ec2.TopoVPC{Account: "111111111111", Region: "us-east-1", ID: id, CIDR: netip.MustParsePrefix(cidr)})
	w.t.RouteTables = append(w.t.RouteTables, ec2.TopoRouteTable{ID: "rtb-" + id, VpcID: id, Main: true,
		Routes: []ec2.TopoRoute{{Dest: netip.MustParsePrefix(cidr), Target: "local", Active: true}}})
}

func (w *world) subnet(id, vpc, cidr string) {
	w.t.Subnets = append(w.t.Subnets, ec2.TopoSubnet{ID: id, VpcID: vpc, CIDR: netip.MustParsePrefix(cidr), RouteTableID: "rtb-" + vpc})
}

func (w *world) route(vpc, dest, target string) {
	for i := range w.t.RouteTables {
		if w.t.RouteTables[i].VpcID == vpc {
			w.t.RouteTables[i].Routes = append(w.t.RouteTables[i].Routes, ec2.TopoRoute{Dest: netip.MustParsePrefix(dest), Target: target, Active: true})
		}
	}
}

func (w *world) iface(id, subnet, ip string, groups ...string) {
	var vpc string
	for _, s := range w.t.Subnets {
		if s.ID == subnet {
			vpc = s.VpcID
		}
	}
	w.t.Interfaces = append(w.t.Interfaces, ec2.TopoInterface{ID: id, SubnetID: subnet, VpcID: vpc, IP: netip.MustParseAddr(ip), Groups: groups})
}

func (w *world) group(id, vpc string, ingress, egress []ec2.TopoRule) {
	w.t.Groups = append(w.t.Groups, ec2.TopoGroup{ID: id, VpcID: vpc, Name: id, Ingress: ingress, Egress: egress})
}

func allOut(id string) []ec2.TopoRule {
	return []ec2.TopoRule{{ID: id, Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}
}

func tcp(id string, port int32, from string) ec2.TopoRule {
	r := ec2.TopoRule{ID: id, Protocol: "tcp", FromPort: port, ToPort: port}
	if p, err := netip.ParsePrefix(from); err == nil {
		r.CIDR = p
	} else {
		r.Group = &ec2.TopoGroupRef{GroupID: from}
	}
	return r
}

func ifc(id string) Endpoint { return Endpoint{Interface: id} }

func TestCheck(t *testing.T) {
	var w world
	w.vpc("vpc-a", "10.1.0.0/16")
	w.vpc("vpc-b", "10.2.0.0/16")
	w.vpc("vpc-c", "10.3.0.0/16")
	w.subnet("subnet-a", "vpc-a", "10.1.0.0/24")
	w.subnet("subnet-b", "vpc-b", "10.2.0.0/24")
	w.subnet("subnet-c", "vpc-c", "10.3.0.0/24")
	w.group("sg-client", "vpc-a", nil, allOut("sgr-client-out"))
	w.group("sg-cache", "vpc-a", []ec2.TopoRule{tcp("sgr-cache-in", 6379, "sg-client")}, allOut("sgr-cache-out"))
	w.group("sg-world", "vpc-a", []ec2.TopoRule{tcp("sgr-world-in", 6379, "0.0.0.0/0")}, nil)
	w.group("sg-remote", "vpc-b", []ec2.TopoRule{tcp("sgr-remote-in", 6379, "sg-client")}, allOut("sgr-remote-out"))
	w.group("sg-nat", "vpc-a", []ec2.TopoRule{tcp("sgr-nat-in", 22, "198.51.100.27/32")}, allOut("sgr-nat-out"))
	w.iface("eni-client", "subnet-a", "10.1.0.10", "sg-client")
	w.iface("eni-other", "subnet-a", "10.1.0.11")
	w.iface("eni-cache", "subnet-a", "10.1.0.20", "sg-cache")
	w.iface("eni-open", "subnet-a", "10.1.0.21", "sg-world")
	w.iface("eni-remote", "subnet-b", "10.2.0.5", "sg-remote")
	w.iface("eni-c", "subnet-c", "10.3.0.5", "sg-remote")
	w.iface("eni-nat", "subnet-a", "10.1.0.30", "sg-nat")
	w.t.Peerings = []ec2.TopoPeering{{ID: "pcx-ab", Region: "us-east-1", RequesterVpcID: "vpc-a", AccepterVpcID: "vpc-b"}}
	w.route("vpc-a", "10.2.0.0/16", "pcx-ab")
	w.route("vpc-b", "10.1.0.0/16", "pcx-ab")
	w.t.InternetGateways = []ec2.TopoInternetGateway{{ID: "igw-a", VpcID: "vpc-a"}}
	w.route("vpc-a", "0.0.0.0/0", "igw-a")
	for i := range w.t.Interfaces {
		if w.t.Interfaces[i].ID == "eni-nat" {
			w.t.Interfaces[i].PublicIP = netip.MustParseAddr("100.64.0.9")
		}
	}
	e := New(&w.t)
	tests := []struct {
		name    string
		f       Flow
		allowed bool
		path    string
		ingress []string
		missing []string // kinds
		reply   bool
	}{
		{"member to cache", Flow{Src: ifc("eni-client"), Dst: ifc("eni-cache"), Protocol: "tcp", Port: 6379}, true, "local", []string{"sgr-cache-in"}, nil, false},
		{"wrong port", Flow{Src: ifc("eni-client"), Dst: ifc("eni-cache"), Protocol: "tcp", Port: 6380}, false, "local", nil, []string{"ingress"}, false},
		{"udp", Flow{Src: ifc("eni-client"), Dst: ifc("eni-cache"), Protocol: "udp", Port: 6379}, false, "local", nil, []string{"ingress"}, false},
		{"non-member", Flow{Src: ifc("eni-other"), Dst: ifc("eni-cache"), Protocol: "tcp", Port: 6379}, false, "local", nil, []string{"egress", "ingress"}, false},
		{"reply of allowed", Flow{Src: ifc("eni-cache"), Dst: ifc("eni-client"), Protocol: "tcp", Port: 6379, Reply: true}, true, "local", []string{"sgr-cache-in"}, nil, true},
		{"reverse is not a reply", Flow{Src: ifc("eni-cache"), Dst: ifc("eni-client"), Protocol: "tcp", Port: 6379}, false, "local", nil, []string{"ingress"}, false},
		{"0.0.0.0/0 rule, no egress at all", Flow{Src: ifc("eni-open"), Dst: ifc("eni-client"), Protocol: "6", Port: 1}, false, "local", nil, []string{"egress", "ingress"}, false},
		{"open group from vpc", Flow{Src: ifc("eni-client"), Dst: ifc("eni-open"), Protocol: "tcp", Port: 6379}, true, "local", []string{"sgr-world-in"}, nil, false},
		{"across active peering", Flow{Src: ifc("eni-client"), Dst: ifc("eni-remote"), Protocol: "tcp", Port: 6379}, true, "pcx-ab", []string{"sgr-remote-in"}, nil, false},
		{"unpeered vpc: no path, group reference does not reach", Flow{Src: ifc("eni-client"), Dst: ifc("eni-c"), Protocol: "tcp", Port: 6379}, false, "", nil, []string{"peering", "ingress"}, false},
		{"outside to nat ssh", Flow{Src: Endpoint{Addr: netip.MustParseAddr("198.51.100.27")}, Dst: ifc("eni-nat"), Protocol: "tcp", Port: 22}, true, "internet", []string{"sgr-nat-in"}, nil, false},
		{"untrusted outside", Flow{Src: Endpoint{Addr: netip.MustParseAddr("203.0.113.1")}, Dst: ifc("eni-nat"), Protocol: "tcp", Port: 22}, false, "internet", nil, []string{"ingress"}, false},
		{"outside to private cache", Flow{Src: Endpoint{Addr: netip.MustParseAddr("198.51.100.27")}, Dst: ifc("eni-open"), Protocol: "tcp", Port: 6379}, false, "internet", []string{"sgr-world-in"}, []string{"public-ip"}, false},
		{"unknown interface", Flow{Src: ifc("eni-nope"), Dst: ifc("eni-cache"), Protocol: "tcp", Port: 6379}, false, "", nil, []string{"interface"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := e.Check(tc.f)
			var kinds, ingress []string
			for _, m := range v.Missing {
				kinds = append(kinds, m.Kind)
				if m.Reason == "" {
					t.Errorf("missing %s without a reason", m.Kind)
				}
			}
			for _, r := range v.Ingress {
				ingress = append(ingress, r.RuleID)
			}
			if v.Allowed != tc.allowed || v.Path != tc.path || !slices.Equal(kinds, tc.missing) || !slices.Equal(ingress, tc.ingress) || v.Reply != tc.reply {
				t.Errorf("Check(%v) = allowed %v path %q ingress %v missing %v reply %v; want %v %q %v %v %v\n%+v",
					tc.f, v.Allowed, v.Path, ingress, kinds, v.Reply, tc.allowed, tc.path, tc.ingress, tc.missing, tc.reply, v.Missing)
			}
		})
	}
	// Without the return route the peering path is incomplete.
	w.t.RouteTables[1].Routes = w.t.RouteTables[1].Routes[:1]
	v := New(&w.t).Check(Flow{Src: ifc("eni-client"), Dst: ifc("eni-remote"), Protocol: "tcp", Port: 6379})
	if v.Allowed || len(v.Missing) != 1 || v.Missing[0].Kind != "route" || v.Missing[0].Interface != "eni-remote" {
		t.Errorf("missing return route: %+v", v)
	}
}

// randomWorld builds a topology of one or two peered VPCs with random groups
// and rules over a small port space, so that random flows hit rules often.
func randomWorld(r *rand.Rand) *ec2.Topology {
	var w world
	w.vpc("vpc-a", "10.1.0.0/16")
	w.vpc("vpc-b", "10.2.0.0/16")
	w.subnet("subnet-a", "vpc-a", "10.1.0.0/24")
	w.subnet("subnet-b", "vpc-b", "10.2.0.0/24")
	w.t.Peerings = []ec2.TopoPeering{{ID: "pcx-ab", Region: "us-east-1", RequesterVpcID: "vpc-a", AccepterVpcID: "vpc-b"}}
	w.route("vpc-a", "10.2.0.0/16", "pcx-ab")
	w.route("vpc-b", "10.1.0.0/16", "pcx-ab")
	nGroups := 2 + r.IntN(5)
	var groups []string
	for g := range nGroups {
		groups = append(groups, fmt.Sprintf("sg-%d", g))
	}
	for g, id := range groups {
		vpc := "vpc-a"
		if g%3 == 2 {
			vpc = "vpc-b"
		}
		var in, out []ec2.TopoRule
		for k := range r.IntN(6) {
			in = append(in, randomRule(r, fmt.Sprintf("sgr-%d-in-%d", g, k), groups))
		}
		for k := range r.IntN(4) {
			out = append(out, randomRule(r, fmt.Sprintf("sgr-%d-out-%d", g, k), groups))
		}
		w.group(id, vpc, in, out)
	}
	for i := range 3 + r.IntN(5) {
		subnet, ip := "subnet-a", fmt.Sprintf("10.1.0.%d", 10+i)
		if r.IntN(3) == 0 {
			subnet, ip = "subnet-b", fmt.Sprintf("10.2.0.%d", 10+i)
		}
		var gs []string
		for _, g := range r.Perm(nGroups)[:1+r.IntN(min(3, nGroups))] {
			gs = append(gs, groups[g])
		}
		w.iface(fmt.Sprintf("eni-%d", i), subnet, ip, gs...)
	}
	return &w.t
}

func randomRule(r *rand.Rand, id string, groups []string) ec2.TopoRule {
	protos := []string{"-1", "tcp", "tcp", "udp", "icmp"}
	rule := ec2.TopoRule{ID: id, Protocol: protos[r.IntN(len(protos))], FromPort: -1, ToPort: -1}
	switch rule.Protocol {
	case "tcp", "udp":
		rule.FromPort = int32(r.IntN(8))
		rule.ToPort = rule.FromPort + int32(r.IntN(3))
	case "icmp":
		rule.FromPort = int32(r.IntN(3)) - 1
	}
	switch r.IntN(3) {
	case 0:
		rule.Group = &ec2.TopoGroupRef{GroupID: groups[r.IntN(len(groups))]}
	case 1:
		rule.CIDR = netip.MustParsePrefix([]string{"0.0.0.0/0", "10.1.0.0/16", "10.2.0.0/16", "10.1.0.8/29", "10.2.0.12/30"}[r.IntN(5)])
	default:
		rule.CIDR = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(1 + r.IntN(2)), 0, byte(10 + r.IntN(8))}), 32)
	}
	return rule
}

func allFlows(t *ec2.Topology) []Flow {
	var out []Flow
	for _, a := range t.Interfaces {
		for _, b := range t.Interfaces {
			if a.ID == b.ID {
				continue
			}
			for _, p := range []string{"tcp", "udp", "icmp"} {
				for port := int32(0); port < 10; port++ {
					out = append(out, Flow{Src: ifc(a.ID), Dst: ifc(b.ID), Protocol: p, Port: port})
				}
			}
		}
	}
	return out
}

func decisions(e *Evaluator, flows []Flow) []bool {
	out := make([]bool, len(flows))
	for i, f := range flows {
		out[i] = e.Check(f).Allowed
	}
	return out
}

const seeds = 200

func TestPropertyAddingRuleNeverDenies(t *testing.T) {
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 1))
		topo := randomWorld(r)
		flows := allFlows(topo)
		before := decisions(New(topo), flows)
		g := &topo.Groups[r.IntN(len(topo.Groups))]
		ids := make([]string, len(topo.Groups))
		for i, gr := range topo.Groups {
			ids[i] = gr.ID
		}
		rule := randomRule(r, "sgr-added", ids)
		if r.IntN(2) == 0 {
			g.Ingress = append(g.Ingress, rule)
		} else {
			g.Egress = append(g.Egress, rule)
		}
		after := decisions(New(topo), flows)
		for i := range flows {
			if before[i] && !after[i] {
				t.Fatalf("seed %d: adding %+v to %s turned %v from allowed to denied", seed, rule, g.ID, flows[i])
			}
		}
	}
}

func TestPropertyRuleOrderIrrelevant(t *testing.T) {
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 2))
		topo := randomWorld(r)
		flows := allFlows(topo)
		e1 := New(topo)
		var want []Verdict
		for _, f := range flows {
			want = append(want, e1.Check(f))
		}
		shuffled := *topo
		shuffled.Groups = slices.Clone(topo.Groups)
		for i := range shuffled.Groups {
			g := &shuffled.Groups[i]
			g.Ingress, g.Egress = slices.Clone(g.Ingress), slices.Clone(g.Egress)
			r.Shuffle(len(g.Ingress), func(a, b int) { g.Ingress[a], g.Ingress[b] = g.Ingress[b], g.Ingress[a] })
			r.Shuffle(len(g.Egress), func(a, b int) { g.Egress[a], g.Egress[b] = g.Egress[b], g.Egress[a] })
		}
		r.Shuffle(len(shuffled.Groups), func(a, b int) { shuffled.Groups[a], shuffled.Groups[b] = shuffled.Groups[b], shuffled.Groups[a] })
		shuffled.Interfaces = slices.Clone(topo.Interfaces)
		for i := range shuffled.Interfaces {
			gs := slices.Clone(shuffled.Interfaces[i].Groups)
			r.Shuffle(len(gs), func(a, b int) { gs[a], gs[b] = gs[b], gs[a] })
			shuffled.Interfaces[i].Groups = gs
		}
		e2 := New(&shuffled)
		for i, f := range flows {
			got := e2.Check(f)
			if got.Allowed != want[i].Allowed || !slices.Equal(got.Ingress, want[i].Ingress) || !slices.Equal(got.Egress, want[i].Egress) {
				t.Fatalf("seed %d: %v: shuffled %+v, original %+v", seed, f, got, want[i])
			}
		}
	}
}

func TestPropertyGroupMembership(t *testing.T) {
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 3))
		topo := randomWorld(r)
		// Every group: egress all; the target group admits tcp/5 from source group only.
		src, dst := topo.Groups[0].ID, "sg-target"
		for i := range topo.Groups {
			topo.Groups[i].Ingress, topo.Groups[i].Egress = nil, allOut("sgr-out-"+topo.Groups[i].ID)
		}
		topo.Groups = append(topo.Groups, ec2.TopoGroup{ID: dst, VpcID: "vpc-a", Ingress: []ec2.TopoRule{tcp("sgr-target-in", 5, src)}, Egress: allOut("sgr-target-out")})
		target := &topo.Interfaces[r.IntN(len(topo.Interfaces))]
		target.Groups = append(target.Groups, dst)
		e := New(topo)
		for _, a := range topo.Interfaces {
			if a.ID == target.ID {
				continue
			}
			v := e.Check(Flow{Src: ifc(a.ID), Dst: ifc(target.ID), Protocol: "tcp", Port: 5})
			member := slices.Contains(a.Groups, src)
			if v.Allowed != member {
				t.Fatalf("seed %d: %s (groups %v) -> %s: allowed %v, member of %s %v; %+v", seed, a.ID, a.Groups, target.ID, v.Allowed, src, member, v.Missing)
			}
			if !member && (len(v.Missing) != 1 || v.Missing[0].Kind != "ingress" || v.Missing[0].Interface != target.ID) {
				t.Fatalf("seed %d: explanation %+v, want exactly the missing ingress of %s", seed, v.Missing, target.ID)
			}
		}
	}
}

func TestPropertyRepliesAndExplanations(t *testing.T) {
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 4))
		topo := randomWorld(r)
		e := New(topo)
		for _, f := range allFlows(topo) {
			v := e.Check(f)
			if v.Allowed != (len(v.Missing) == 0) {
				t.Fatalf("seed %d: %v: allowed %v with missing %+v", seed, f, v.Allowed, v.Missing)
			}
			if v.Allowed && (len(v.Egress) == 0 || len(v.Ingress) == 0) {
				t.Fatalf("seed %d: %v allowed without rules: %+v", seed, f, v)
			}
			reply := Flow{Src: f.Dst, Dst: f.Src, Protocol: f.Protocol, Port: f.Port, Reply: true}
			if rv := e.Check(reply); rv.Allowed != v.Allowed || rv.Reply != v.Allowed {
				t.Fatalf("seed %d: reply of %v: allowed %v, connection allowed %v", seed, f, rv.Allowed, v.Allowed)
			}
		}
	}
}

// BenchmarkCheck: 1,000 groups x 50 rules, 5,000 interfaces with two groups each.
func BenchmarkCheck(b *testing.B) {
	r := rand.New(rand.NewPCG(42, 42))
	var w world
	w.vpc("vpc-a", "10.0.0.0/16")
	w.subnet("subnet-a", "vpc-a", "10.0.0.0/16")
	var groups []string
	for g := range 1000 {
		groups = append(groups, fmt.Sprintf("sg-%04d", g))
	}
	for g, id := range groups {
		var in []ec2.TopoRule
		for k := range 50 {
			rule := ec2.TopoRule{ID: fmt.Sprintf("sgr-%d-%d", g, k), Protocol: "tcp", FromPort: int32(1000 + k*10), ToPort: int32(1000 + k*10 + 5)}
			if k%2 == 0 {
				rule.Group = &ec2.TopoGroupRef{GroupID: groups[r.IntN(len(groups))]}
			} else {
				rule.CIDR = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(20)), 0}), 24)
			}
			in = append(in, rule)
		}
		w.group(id, "vpc-a", in, allOut("sgr-out-"+id))
	}
	var flows []Flow
	for i := range 5000 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(4 + i%250)})
		w.iface(fmt.Sprintf("eni-%05d", i), "subnet-a", ip.String(), groups[r.IntN(1000)], groups[r.IntN(1000)])
	}
	for range 4096 {
		a, c := r.IntN(5000), r.IntN(5000)
		flows = append(flows, Flow{Src: ifc(fmt.Sprintf("eni-%05d", a)), Dst: ifc(fmt.Sprintf("eni-%05d", c)), Protocol: "tcp", Port: int32(1000 + r.IntN(500))})
	}
	e := New(&w.t)
	allowed := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if e.Check(flows[i%len(flows)]).Allowed {
			allowed++
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

func TestVerdictString(t *testing.T) {
	v := Verdict{Allowed: true, Path: "local", Egress: []RuleRef{{GroupID: "sg-a", RuleID: "sgr-1", Egress: true}}, Ingress: []RuleRef{{GroupID: "sg-b", RuleID: "sgr-2"}}}
	want := "allowed via local\n  - outbound sg-a sgr-1\n  - inbound sg-b sgr-2"
	if got := v.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	d := Verdict{Missing: []Missing{{Kind: "ingress", Reason: "no inbound rule of sg-b allows tcp/6379 from 10.0.0.1"}}}
	if got := d.String(); got != "denied\n  - ingress: no inbound rule of sg-b allows tcp/6379 from 10.0.0.1" {
		t.Errorf("String() = %q", got)
	}
}

// TestICMPTypeAndCode: an ICMP rule names a type (FromPort) and a code
// (ToPort), -1 for all, as AWS reads them and the kernel enforces them
// ("icmp type 8 icmp code 1" does not match an echo request, code 0).
func TestICMPTypeAndCode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		typ, code  int32 // the rule's
		flowCode   int32
		wantPasses bool
	}{
		{"all", -1, -1, 0, true},
		{"all-types-any-code", -1, -1, 3, true},
		{"echo-any-code", 8, -1, 0, true},
		{"echo-code-0", 8, 0, 0, true},
		{"echo-code-1", 8, 1, 0, false},
		{"echo-code-1-flow-1", 8, 1, 1, true},
		{"echo-reply", 0, -1, 0, false},
		{"unreachable", 3, -1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w world
			w.vpc("vpc-a", "10.1.0.0/16")
			w.subnet("subnet-a", "vpc-a", "10.1.0.0/24")
			w.group("sg-src", "vpc-a", nil, allOut("sgr-out"))
			w.group("sg-dst", "vpc-a", []ec2.TopoRule{{ID: "sgr-icmp", Protocol: "icmp", FromPort: tc.typ, ToPort: tc.code,
				CIDR: netip.MustParsePrefix("0.0.0.0/0")}}, nil)
			w.iface("eni-src", "subnet-a", "10.1.0.10", "sg-src")
			w.iface("eni-dst", "subnet-a", "10.1.0.20", "sg-dst")
			f := Flow{Src: ifc("eni-src"), Dst: ifc("eni-dst"), Protocol: "icmp", Port: 8, Code: tc.flowCode}
			if got := New(&w.t).Check(f); got.Allowed != tc.wantPasses {
				t.Errorf("Check(%v) under icmp %d/%d = %v, want allowed %v", f, tc.typ, tc.code, got, tc.wantPasses)
			}
		})
	}
}
