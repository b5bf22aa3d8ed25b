package resolver

import (
	"net/netip"
	"testing"
)

// A VPC's view as the wiring would build it: a Redis replication group with
// two nodes (the primary endpoint a CNAME to the primary node, the reader a
// CNAME to the replica), a Memcached cluster's configuration endpoint, and
// one instance's private DNS name.
const (
	cacheZone   = "use1.cache.amazonaws.com"
	ec2Zone     = "ec2.internal"
	node1       = "my-rg-001.km2jzi.0001.use1.cache.amazonaws.com"
	node2       = "my-rg-002.km2jzi.0001.use1.cache.amazonaws.com"
	primary     = "my-rg.km2jzi.ng.0001.use1.cache.amazonaws.com"
	reader      = "my-rg-ro.km2jzi.ng.0001.use1.cache.amazonaws.com"
	memcfg      = "my-mc.km2jzi.cfg.use1.cache.amazonaws.com"
	instance    = "ip-10-0-1-5.ec2.internal"
	unknownName = "nope.km2jzi.0001.use1.cache.amazonaws.com"
)

var (
	ip1  = netip.MustParseAddr("10.0.1.10")
	ip2  = netip.MustParseAddr("10.0.2.10")
	ipMC = netip.MustParseAddr("10.0.1.20")
	ipI  = netip.MustParseAddr("10.0.1.5")
)

func testRecords(primaryNode string) []Record {
	replica := node2
	if primaryNode == node2 {
		replica = node1
	}
	return []Record{
		{Name: node1, TTL: CacheTTL, Addr: ip1},
		{Name: node2, TTL: CacheTTL, Addr: ip2},
		{Name: primary, TTL: CacheTTL, Target: primaryNode},
		{Name: reader, TTL: CacheTTL, Target: replica},
		{Name: memcfg, TTL: CacheTTL, Addr: ipMC},
		{Name: instance, TTL: InstanceTTL, Addr: ipI},
	}
}

func testTable(t testing.TB) *Table {
	t.Helper()
	tab := new(Table)
	if err := tab.Set([]string{cacheZone, ec2Zone}, testRecords(node1)); err != nil {
		t.Fatal(err)
	}
	return tab
}
