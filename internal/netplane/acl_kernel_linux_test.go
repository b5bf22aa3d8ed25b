package netplane

import (
	"net/netip"
	"testing"
	"time"
)

// aclAllTCP is an entry of TCP ports from-to from (to) anywhere.
func aclAllTCP(n, from, to int, allow bool) ACLEntry {
	return ACLEntry{Number: n, Protocol: "6", FromPort: from, ToPort: to, CIDR: pfx("0.0.0.0/0"), Allow: allow}
}

// TestKernelNetworkACL: an ACL on subnet-01 (the server eni-0b's) checks
// packets from subnet-02 (eni-0d) both ways and statelessly, in rule
// order; eni-0a, in subnet-01 too, is not filtered; applying the same
// state again changes nothing.
func TestKernelNetworkACL(t *testing.T) {
	p, _ := newTestPlane(t)
	st := testState()
	acl := NetworkACL{ID: "acl-0x", VPC: "vpc-0a", Subnets: []string{"subnet-01"},
		Ingress: []ACLEntry{aclAllTCP(100, 6379, 6379, true)}}
	st.NetworkACLs = []NetworkACL{acl}
	apply(t, p, st)
	serve(t, p, "eni-0b", 6379)
	cannotReach(t, p, "eni-0d", "10.0.1.20:6379") // the answer is denied outbound
	canReach(t, p, "eni-0a", "10.0.1.20:6379")    // same subnet: no ACL

	st.NetworkACLs[0].Egress = []ACLEntry{aclAllTCP(100, 1024, 65535, true)}
	apply(t, p, st)
	canReach(t, p, "eni-0d", "10.0.1.20:6379")

	st.NetworkACLs[0].Ingress = append(st.NetworkACLs[0].Ingress,
		ACLEntry{Number: 50, Protocol: "6", FromPort: 6379, ToPort: 6379, CIDR: pfx("10.0.2.40/32")})
	apply(t, p, st)
	cannotReach(t, p, "eni-0d", "10.0.1.20:6379") // deny 50 before allow 100
	canReach(t, p, "eni-0a", "10.0.1.20:6379")

	// Idempotent: the same state again is no kernel change.
	path, err := p.NetnsPath("vpc-0a")
	if err != nil {
		t.Fatal(err)
	}
	before, err := nftGeneration(path)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, p, st)
	if after, err := nftGeneration(path); err != nil || after != before {
		t.Errorf("nft generation of the router %d -> %d, %v on the same state; want no commit", before, after, err)
	}

	// Back to no ACL.
	st.NetworkACLs = nil
	apply(t, p, st)
	canReach(t, p, "eni-0d", "10.0.1.20:6379")
}

// BenchmarkNetworkACLConnect: new TCP connections per second from eni-0d
// (subnet-02) to eni-0b (subnet-01), each opened, echoed once and closed,
// without ACLs ("none") and with a 20-entry ACL on both subnets whose
// matching entry comes last, so that every packet crosses 19 entries in
// each of two chains ("acl20"). The two alternate in rounds of 500
// connections within one run (the load of a shared machine and the
// client's TIME_WAIT sockets then weigh on both alike); each round's rate
// is kept and the medians are reported.
//
//	go test -run '^$' -bench NetworkACLConnect -benchtime 1x ./internal/netplane/
func BenchmarkNetworkACLConnect(b *testing.B) {
	const rounds, perRound = 6, 500
	p, _ := newTestPlane(b)
	st := testState()
	apply(b, p, st)
	serve(b, p, "eni-0b", 6379)
	var entries []ACLEntry
	for i := range 19 {
		entries = append(entries, ACLEntry{Number: 10 + i, Protocol: "6", FromPort: 1 + i, ToPort: 1 + i,
			CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)})
	}
	// The allow-all entry last: first, it would be the allow-all shortcut
	// and render nothing.
	es := append(entries, ACLEntry{Number: 1000, Protocol: "-1", CIDR: pfx("0.0.0.0/0"), Allow: true})
	variants := []struct {
		name string
		acls []NetworkACL
	}{
		{"none", nil},
		{"acl20", []NetworkACL{
			{ID: "acl-0one", VPC: "vpc-0a", Subnets: []string{"subnet-01"}, Ingress: es, Egress: es},
			{ID: "acl-0two", VPC: "vpc-0a", Subnets: []string{"subnet-02"}, Ingress: es, Egress: es},
		}},
	}
	rates := map[string][]float64{}
	for b.Loop() {
		for range rounds {
			for _, v := range variants {
				st.NetworkACLs = v.acls
				apply(b, p, st)
				if _, err := connect(p, "eni-0d", "10.0.1.20:6379", okTimeout); err != nil {
					b.Fatalf("%s: %v", v.name, err)
				}
				start := time.Now()
				for range perRound {
					conn, err := connect(p, "eni-0d", "10.0.1.20:6379", okTimeout)
					if err != nil {
						b.Fatalf("%s: %v", v.name, err)
					}
					conn.Close()
				}
				rates[v.name] = append(rates[v.name], perRound/time.Since(start).Seconds())
			}
		}
	}
	for _, v := range variants {
		b.ReportMetric(median(rates[v.name]), v.name+"-conns/s")
		b.Logf("%s: conns/s per round %.0f", v.name, rates[v.name])
	}
	b.ReportMetric(0, "ns/op")
}
