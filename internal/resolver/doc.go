// Package resolver owns the Amazon-provided DNS server of a VPC as Cachalot
// realises it: a DNS server (github.com/miekg/dns) that answers, from a
// Source holding one VPC's view of the names, for the zones that view
// serves — the ElastiCache endpoint names and the EC2 private DNS names —
// with A records and, where ElastiCache uses them, CNAMEs; NXDOMAIN for an
// unknown name inside a served zone; REFUSED for everything else. It never
// forwards a query anywhere: a name it does not hold fails fast.
//
// The server is given its sockets (a net.PacketConn for UDP and a
// net.Listener for TCP) by the caller, which opens them inside the VPC's
// network namespace at the VPC's base address + 2 (and 169.254.169.253);
// this package does no network plumbing and knows no namespace. It also
// renders the resolv.conf an instance of the VPC sees.
//
// Table is the Source the wiring fills: the whole view is replaced at once
// (Set, level-triggered like every reconciler) and the next query sees the
// new records, so a failover that moves a name is visible immediately.
//
// Imported by the DNS controller (internal/dnsctl: one Server and one Table
// per VPC with enableDnsSupport) and the VPC-network controller
// (internal/vpcnet: the instances' resolv.conf); it imports dnsname and
// miekg/dns, nothing of the project's domains.
package resolver
