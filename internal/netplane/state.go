package netplane

import "net/netip"

// State is the whole desired network: what the EC2 model says exists now.
// Slices are unordered; ids are EC2 ids ("vpc-…", "subnet-…", "eni-…",
// "sg-…", "sgr-…", "pcx-…"). Apply always receives the whole State.
type State struct {
	VPCs       []VPC
	Subnets    []Subnet
	Interfaces []Interface
	Groups     []SecurityGroup
	// Peerings lists the active peering connections only; a peering that is
	// pending, rejected or deleted is simply absent.
	Peerings []Peering
	// InternetGateways lists the internet gateways attached to a VPC only; a
	// detached gateway is simply absent.
	InternetGateways []InternetGateway
	// Outside lists the addresses of simulated clients on the internet:
	// each gets a namespace of its own attached to the internet namespace
	// (see doc.go). They must lie outside every VPC's CIDRs, differ from
	// every PublicIP and be ordinary unicast IPv4 addresses.
	Outside []netip.Addr
	// Published lists the endpoints published to the host: servers in VPCs
	// that programs on the host reach at a loopback address of their own
	// (see PublishedEndpoint and doc.go, "The host").
	Published []PublishedEndpoint
	// NetworkACLs are the network ACLs with their subnet associations (see
	// NetworkACL). A subnet no ACL names has no ACL: nothing is checked at
	// its boundary.
	NetworkACLs []NetworkACL
}

// NetworkACL is a network ACL: a stateless filter at the boundary of each
// subnet in Subnets (subnets of VPC). A packet leaving such a subnet (to
// another subnet, a peering, the internet or the host) is checked against
// Egress, one entering it against Ingress; a packet between two
// interfaces of the same subnet is not checked. Entries are evaluated in
// ascending Number, the first whose protocol, ports and CIDR match
// decides; no match denies (AWS's "*" entry). Stateless: replies are
// checked like any packet.
type NetworkACL struct {
	ID      string // "acl-…"
	VPC     string
	Subnets []string
	Ingress []ACLEntry
	Egress  []ACLEntry
}

// ACLEntry is one numbered entry of a NetworkACL. Protocol, FromPort and
// ToPort are as in Rule (ports are destination ports, for both
// directions; ICMP type and code, -1 for any); CIDR is the packet's source
// for ingress, its destination for egress.
type ACLEntry struct {
	Number   int
	Protocol string
	FromPort int
	ToPort   int
	CIDR     netip.Prefix
	Allow    bool
}

// InternetGateway is an internet gateway attached to a VPC: the VPC's
// router is then linked to the internet namespace and does, as the gateway
// does on AWS, the one-to-one NAT between each interface's PublicIP and its
// PrivateIP.
type InternetGateway struct {
	ID  string // "igw-…"
	VPC string
	// SubnetRoutes says per subnet id of VPC which destinations that
	// subnet's route table sends to this gateway (0.0.0.0/0 for a public
	// subnet). Only interfaces of a subnet with a route to a destination
	// exchange packets with it through the gateway, replies included; a
	// subnet absent from the map has no such route.
	SubnetRoutes map[string][]netip.Prefix
	// NATGateways are the VPC's public NAT gateways, which reach the
	// internet through this gateway (natgw.go).
	NATGateways []NATGateway
}

// VPC is a virtual private cloud: one router namespace.
type VPC struct {
	ID string
	// CIDRs are the VPC's IPv4 CIDR blocks (primary first, then associated).
	CIDRs []netip.Prefix
	// DNS puts the addresses of the VPC's Amazon-provided DNS server in its
	// router — the primary block's base address + 2 and 169.254.169.253
	// (ResolverAddrs), on its lo — and admits DNS
	// queries to them (UDP and TCP port 53) from the VPC's interfaces, each
	// with its own address, whatever their security groups say. The server
	// is the caller's: sockets it opens in the router namespace (Listen,
	// ListenPacket with the VPC's id). Without DNS the addresses are absent
	// and such queries are dropped.
	DNS bool
}

// Subnet is an IPv4 subnet of a VPC.
type Subnet struct {
	ID   string
	VPC  string
	CIDR netip.Prefix
}

// Interface is an elastic network interface of an instance, a cache node or
// a NAT instance: one namespace, one eth0.
type Interface struct {
	ID        string // "eni-…"
	Subnet    string
	PrivateIP netip.Addr // primary private IPv4 address, inside the subnet
	// Groups are the ids of the security groups attached to the interface;
	// the union of their rules applies.
	Groups []string
	// Kind and Owner are labels for people (comments, link aliases), e.g.
	// "instance"/"i-0abc", "cache-node"/"my-cache-0001", "nat-instance"/"i-…".
	Kind  string
	Owner string
	// DisableSourceDestCheck is EC2's SourceDestCheck=false (NAT instances):
	// packets from the interface may then carry another source address.
	DisableSourceDestCheck bool
	// PublicIP is the associated Elastic IP, if any: reachable from the
	// internet namespace while the VPC has an internet gateway.
	PublicIP netip.Addr
}

// SecurityGroup is a VPC security group and its rules.
type SecurityGroup struct {
	ID      string
	VPC     string
	Ingress []Rule
	Egress  []Rule
}

// Rule is one security group rule, as in EC2's SecurityGroupRule (or one
// IpPermission carrying several sources under one id).
type Rule struct {
	ID string // "sgr-…"
	// Protocol is "-1" (all), "tcp", "udp", "icmp", "icmpv6" or an IP
	// protocol number ("6", "17", "1", "58", "47", …).
	Protocol string
	// FromPort and ToPort bound the port range for tcp and udp (-1/-1 or
	// 0/65535: all ports); for icmp and icmpv6 they are the type and the code
	// (-1: any). Ignored for other protocols.
	FromPort, ToPort int
	// The peers: IPv4 and IPv6 CIDRs and referenced security group ids. The
	// rule matches a packet whose peer is in any of them.
	CIDRs  []netip.Prefix
	Groups []string
}

// Peering is an active VPC peering connection.
type Peering struct {
	ID        string // "pcx-…"
	Requester PeeringSide
	Accepter  PeeringSide
}

// PeeringSide is one VPC of a peering and the destinations its route tables
// send over the peering (normally CIDRs of the other VPC).
type PeeringSide struct {
	VPC    string
	Routes []netip.Prefix
	// SubnetRoutes, when not nil, says per subnet id of VPC which of Routes
	// that subnet's route table sends over the peering: a packet leaving
	// through the peering from a subnet without a route to its destination
	// is dropped, replies included, as EC2 routes every packet by its source
	// subnet's table. A subnet absent from the map has no such route. nil:
	// every subnet uses Routes.
	SubnetRoutes map[string][]netip.Prefix
}
