package dnsctl

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/resolver"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// flat renders a view as "name ttl address" lines and its zones.
func flat(v view) []string {
	out := []string{fmt.Sprintf("zones %v", v.zones)}
	for _, r := range v.records {
		out = append(out, fmt.Sprintf("%s %d %s", r.Name, r.TTL, r.Addr))
	}
	return out
}

func TestViews(t *testing.T) {
	topo := &ec2.Topology{
		VPCs: []ec2.TopoVPC{
			{Region: "us-east-1", ID: "vpc-default", DNSSupport: true, DNSHostnames: true},
			{Region: "us-east-1", ID: "vpc-new", DNSSupport: true},
			{Region: "us-east-1", ID: "vpc-off"},
			{Region: "eu-west-1", ID: "vpc-eu", DNSSupport: true, DNSHostnames: true},
		},
		Interfaces: []ec2.TopoInterface{
			{ID: "eni-inst", VpcID: "vpc-default", IP: ip("172.31.32.4"), InstanceID: "i-1", InstanceState: "running"},
			{ID: "eni-stopped", VpcID: "vpc-default", IP: ip("172.31.32.5"), InstanceID: "i-2", InstanceState: "stopped"},
			{ID: "eni-gone", VpcID: "vpc-default", IP: ip("172.31.32.6"), InstanceID: "i-3", InstanceState: "terminated"},
			{ID: "eni-node", VpcID: "vpc-default", IP: ip("172.31.0.4"), RequesterID: ec2.RequesterElastiCache},
			{ID: "eni-new", VpcID: "vpc-new", IP: ip("10.0.1.5"), InstanceID: "i-4", InstanceState: "running"},
			{ID: "eni-eu", VpcID: "vpc-eu", IP: ip("10.8.0.9"), InstanceID: "i-5", InstanceState: "running"},
		},
	}
	caches := []elasticache.EndpointName{
		{Name: "web.km2jzi.0001.use1.cache.amazonaws.com", IP: ip("172.31.0.4")},
		{Name: "sessions.km2jzi.cfg.use1.cache.amazonaws.com", IP: ip("10.0.1.9")},
		{Name: "sessions.km2jzi.0001.use1.cache.amazonaws.com", IP: ip("10.0.1.10")},
		{Name: "web.km2jzi.0001.use1.cache.amazonaws.com", IP: ip("172.31.0.4")}, // twice: kept once
	}
	zones := "zones [cache.amazonaws.com ec2.internal compute.internal]"
	cacheLines := []string{
		"sessions.km2jzi.0001.use1.cache.amazonaws.com 5 10.0.1.10",
		"sessions.km2jzi.cfg.use1.cache.amazonaws.com 5 10.0.1.9",
		"web.km2jzi.0001.use1.cache.amazonaws.com 5 172.31.0.4",
	}
	sorted := func(lines ...string) []string {
		out := append(slices.Clone(cacheLines), lines...)
		slices.Sort(out)
		return append([]string{zones}, out...)
	}
	want := map[string][]string{
		// Both attributes: the caches and the VPC's private DNS names.
		"vpc-default": sorted(
			"ip-172-31-0-4.ec2.internal 60 172.31.0.4",
			"ip-172-31-32-4.ec2.internal 60 172.31.32.4",
			"ip-172-31-32-5.ec2.internal 60 172.31.32.5"),
		// DNS support only: the caches (all of them: public names), no
		// private DNS names.
		"vpc-new": sorted(),
		// Another region: its own EC2 domain.
		"vpc-eu": sorted("ip-10-8-0-9.eu-west-1.compute.internal 60 10.8.0.9"),
		// vpc-off: no server at all.
	}
	got := map[string][]string{}
	for id, v := range views(topo, caches, "cache.amazonaws.com") {
		got[id] = flat(v)
		var tb resolver.Table
		if err := tb.Set(v.zones, v.records); err != nil {
			t.Errorf("view of %s: Table.Set = %v", id, err)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("views (-want +got):\n%s", diff)
	}
}
