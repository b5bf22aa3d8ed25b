package dnsctl

import (
	"cmp"
	"slices"

	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/resolver"
)

// Zones the EC2 private DNS names live in, whatever the region:
// ec2.internal (us-east-1) and <region>.compute.internal.
const (
	ec2Zone     = "ec2.internal"
	computeZone = "compute.internal"
)

// view is what one VPC's DNS server answers: the zones it serves (anything
// else is refused) and every record in them.
type view struct {
	zones   []string
	records []resolver.Record
}

// views computes, purely, the view of every VPC whose DNS server runs
// (enableDnsSupport), by VPC id:
//   - the endpoint names of every cache, whatever its account, region or
//     VPC, since ElastiCache's names are public DNS names resolving to
//     private addresses everywhere (a VPC without a route to the cache gets
//     the name, not a connection), with TTL resolver.CacheTTL;
//   - with enableDnsHostnames too, the private DNS name of every network
//     interface of the VPC (instances, cache nodes), ip-10-0-1-5.ec2.internal
//     or ip-….<region>.compute.internal, with TTL resolver.InstanceTTL;
//   - the zones: domain (the endpoint domain), ec2.internal and
//     compute.internal, where an unknown name does not exist (NXDOMAIN).
//
// A name given twice with the same address (two accounts whose ids
// collide, a cache described twice) is kept once.
func views(topo *ec2.Topology, caches []elasticache.EndpointName, domain string) map[string]view {
	zones := []string{domain, ec2Zone, computeZone}
	var shared []resolver.Record
	for _, c := range caches {
		shared = append(shared, resolver.Record{Name: c.Name, TTL: resolver.CacheTTL, Addr: c.IP})
	}
	out := map[string]view{}
	for _, v := range topo.VPCs {
		if !v.DNSSupport {
			continue
		}
		records := slices.Clone(shared)
		if v.DNSHostnames {
			for _, i := range topo.Interfaces {
				if i.VpcID != v.ID || !i.IP.IsValid() || i.InstanceState == "terminated" {
					continue
				}
				records = append(records, resolver.Record{Name: dnsname.PrivateDNSName(v.Region, i.IP.String()), TTL: resolver.InstanceTTL, Addr: i.IP})
			}
		}
		out[v.ID] = view{zones: zones, records: dedup(records)}
	}
	return out
}

// dedup sorts records by name and address and drops repeats.
func dedup(records []resolver.Record) []resolver.Record {
	slices.SortFunc(records, func(a, b resolver.Record) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.Addr.Compare(b.Addr))
	})
	return slices.CompactFunc(records, func(a, b resolver.Record) bool { return a.Name == b.Name && a.Addr == b.Addr })
}
