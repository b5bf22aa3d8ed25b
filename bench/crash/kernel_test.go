package main

import (
	"maps"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testSnapshot() netSnapshot {
	return netSnapshot{
		vpcs:    []string{"vpc-1"},
		subnets: map[string]netip.Prefix{"subnet-1": netip.MustParsePrefix("172.31.0.0/20")},
		enis: []eniInfo{
			{id: "eni-a", vpc: "vpc-1", subnet: "subnet-1", ip: netip.MustParseAddr("172.31.0.4"), groups: []string{"sg-1"}, instance: "i-1"},
			{id: "eni-b", vpc: "vpc-1", subnet: "subnet-1", ip: netip.MustParseAddr("172.31.0.5"), groups: []string{"sg-2"},
				desc: "ElastiCache c1-0001", requester: "amazon-elasticache"},
		},
		rules: []ruleInfo{{id: "sgr-1", group: "sg-2", ref: "sg-1"}, {id: "sgr-2", group: "sg-1"}},
		nodes: []nodeInfo{{engineID: "1.us-east-1.c1.0001", eni: "eni-b"}},
	}
}

// TestExpectedKernel pins the facts expected of a small network: a router,
// two interfaces, a group reference and one cache node.
func TestExpectedKernel(t *testing.T) {
	f := expectedKernel("cl12345", testSnapshot())
	ia, ib := linkName("cl12345", 'i', "eni-a"), linkName("cl12345", 'i', "eni-b")
	r := "cl12345-vpc-1"
	want := []string{
		"addr cl12345-eni-a/eth0 172.31.0.4/20",
		"addr cl12345-eni-b/eth0 172.31.0.5/20",
		"addr " + r + "/" + ia + " 172.31.0.1/32",
		"addr " + r + "/" + ib + " 172.31.0.1/32",
		"chain " + r + "/in-eni-a", "chain " + r + "/in-eni-b",
		"chain " + r + "/out-eni-a", "chain " + r + "/out-eni-b",
		"engine 1.us-east-1.c1.0001 in cl12345-eni-b",
		"link " + r + "/" + ia, "link " + r + "/" + ib,
		"member " + r + "/sg-1 172.31.0.4",
		"netns cl12345-eni-a", "netns cl12345-eni-b", "netns " + r,
		"route cl12345-eni-a/172.31.0.0/20 dev eth0", "route cl12345-eni-a/default via 172.31.0.1 dev eth0",
		"route cl12345-eni-b/172.31.0.0/20 dev eth0", "route cl12345-eni-b/default via 172.31.0.1 dev eth0",
		"route " + r + "/172.31.0.4/32 dev " + ia, "route " + r + "/172.31.0.5/32 dev " + ib,
		"rule " + r + "/sgr-1", "rule " + r + "/sgr-2",
		"set " + r + "/sg-1",
		"table " + r + "/inet cl12345",
		"vmap " + r + "/egress " + ia + " -> out-eni-a", "vmap " + r + "/egress " + ib + " -> out-eni-b",
		"vmap " + r + "/ingress " + ia + " -> in-eni-a", "vmap " + r + "/ingress " + ib + " -> in-eni-b",
	}
	slices.Sort(want)
	got := slices.Sorted(maps.Keys(f))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expectedKernel (-want +got):\n%s", diff)
	}
}

// TestDiffFacts: a fact only expected is missing, one only observed is
// orphaned.
func TestDiffFacts(t *testing.T) {
	want := expectedKernel("cl12345", testSnapshot())
	got := facts{}
	for k := range want {
		got[k] = true
	}
	delete(got, "engine 1.us-east-1.c1.0001 in cl12345-eni-b")
	got["netns cl12345-eni-gone"] = true
	missing, orphaned := diffFacts(want, got)
	if !slices.Equal(missing, []string{"engine 1.us-east-1.c1.0001 in cl12345-eni-b"}) || !slices.Equal(orphaned, []string{"netns cl12345-eni-gone"}) {
		t.Errorf("diffFacts = missing %v, orphaned %v", missing, orphaned)
	}
}

// TestMatchInterfaces: an ElastiCache interface no node owns is orphaned,
// a node without one is missing.
func TestMatchInterfaces(t *testing.T) {
	snap := testSnapshot()
	snap.nodes = nil
	snap.enis = append(snap.enis, eniInfo{id: "eni-c", desc: "ElastiCache c9-0001", requester: "amazon-elasticache"})
	snap.matchInterfaces("1", nil)
	var got []string
	for _, p := range snap.problems {
		got = append(got, p.class+" "+p.what)
	}
	want := []string{"api-orphaned interface eni-b", "api-orphaned interface eni-c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("matchInterfaces with no clusters (-want +got):\n%s", diff)
	}
}
