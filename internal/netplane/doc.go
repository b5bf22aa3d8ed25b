// Package netplane owns the Linux network plane of Cachalot: it makes an
// EC2-style network real with network namespaces, veth pairs, routes and
// nftables, so that a security group decides, in the kernel and statefully,
// who may connect to whom.
//
// Its input is a pure desired State (VPCs, subnets, network interfaces,
// security groups, active peerings) that imports nothing of Cachalot's; the
// wiring package translates the EC2 model into it. NewPlan turns a State into
// a Plan (names, links, addresses, routes and one nft ruleset per enforcement
// point) without touching the kernel, so it is tested without root. A Plane
// converges the kernel to a Plan. Any package may import netplane; netplane
// imports nothing of Cachalot's.
//
// # Design note
//
// Topology. Every VPC gets a "router" namespace (<prefix>-<vpc-id>) and every
// network interface its own namespace (<prefix>-<eni-id>) holding one link,
// eth0, the end of a veth pair whose other end (<prefix>-i<hash>) sits in the
// VPC's router namespace. The network is routed, not bridged: the router has a
// /32 route per interface address and carries its subnet's gateway address
// (.1) as a /32 on that interface's router-side link, with proxy ARP on, so
// an instance sees an ordinary subnet (its address with the subnet's prefix
// length, a default route via .1) while every packet between two interfaces,
// even in one subnet, crosses the router. That single crossing point is what
// makes enforcement complete: there is no bridge for a packet to sneak
// through and no br_netfilter to depend on. .0, .1, .2 (resolver), .3 and the
// broadcast address are reserved as on AWS.
//
// The DNS server. A VPC with DNS (enableDnsSupport) has its Amazon-provided
// DNS server's addresses — the primary block's base + 2 and 169.254.169.253 —
// on its router's lo, so an instance reaches them through its default
// route (or, in the subnet holding base + 2, by the router's ARP reply). The
// server is not netplane's: the caller opens sockets in the router namespace
// (the daemon's resolver, internal/dnsctl). The router's input chain admits
// DNS (UDP and TCP port 53) to those addresses from each interface of the
// VPC, on its own link and with its own address, before any security group
// (they do not apply, as on AWS); nothing from a peering or the internet.
//
// Peerings. An active peering is a veth pair
// between two routers (<prefix>-p<hash> on both ends) plus device routes for
// the CIDRs each side routes to the other; it exists only while the peering is
// in State.
//
// The internet. One namespace, <prefix>-internet, stands for the world
// outside AWS. It exists while a VPC has an internet gateway (State.
// InternetGateways) or an outside client exists (State.Outside), and is
// linked by a veth pair (<prefix>-g<hash of the igw id> on both ends) to the
// router of every VPC with a gateway, and by another (<prefix>-o<hash>, eth0
// on the far end) to the namespace of every outside client
// (<prefix>-outside-<address>), which holds its address as a /32 and a
// default route to the internet. The links carry 169.254.0.1 on the internet
// side and 169.254.0.2 on the router side, reached as on-link gateways, so
// no subnet is shared. The internet's only routes are the public addresses
// of interfaces in VPCs with a gateway (to their router) and the outside
// clients; the router's routes to the gateway are what its subnets' route
// tables send there (usually 0.0.0.0/0). The router does the gateway's
// one-to-one NAT in the nat chains of its table: destination Elastic IP ->
// private address for packets from the gateway's link (the source is kept,
// so security groups see the client's real address), private address ->
// Elastic IP for packets leaving by it. A packet may leave by the gateway
// only from an interface with a public address whose subnet routes the
// destination there, checked before the conntrack shortcut, so replies obey
// it too: a private subnet's Elastic IP is unreachable, as on AWS.
//
// The host. A server published to the host (State.Published: a cache node,
// reached by programs on the host at a loopback address of its own and the
// engine's port) is reached through a link between the host's namespace and
// its VPC's router (<prefix>-h<hash of the vpc id>, the same name on both
// ends), which exists while the VPC has a published endpoint. Loopback
// address 127.64.x.y (PublishedRange, 127.64.0.0/18) has the link address
// 169.254.64+x.y (HostLinkRange): the host's table "inet <prefix>"
// translates, in the output hook only, destination loopback:port to link
// address:port, and the source of whatever leaves by a host link to the
// host client address 169.254.64.1 (HostClientAddr), which every host link
// holds; the host has a /32 route per link address on its link, and the
// link carries route_localnet, since the host's packets leave with a
// loopback source before the translation. The router holds the link
// addresses on its end, translates each to its server's private address
// (host-dnat) and forwards by its ordinary chains: the server's ingress
// rules see the host client, so security groups decide as for any client,
// and a rule must admit 169.254.64.1 (or a CIDR holding it). Two VPCs
// with the same private addresses publish side by side, since the host
// routes link addresses, never a VPC's: no range the host uses is routed
// into a VPC, and a route the host already has to a link address is never
// replaced (the endpoint is then left out and reported). The links are
// one-way: the router drops anything from the host but the host client's
// packets to an interface, and anything to the host but replies; the host's
// table accepts on them only replies (input) and forwards nothing to or
// from them, so no VPC reaches the host or, through it, anything else.
// Nothing is exposed beyond the host: only the host's own packets are
// translated (the output hook), and 127/8 is not routable from outside.
//
// Containment. No namespace has a link to the host namespace but the host
// links above, and the only default routes lead to the internet namespace,
// which has no default route and no route but to our namespaces, so no
// packet can reach the host's uplink or beyond: unroutable destinations are
// dropped by a router or the internet. The daemon reaches an interface's
// addresses from inside its namespace (Command, Dial, Listen), never
// through the host.
//
// Enforcement. Security groups are enforced in the router namespace, where a
// user holding a shell in an instance cannot flush them. Each router has one
// table, "inet <prefix>", whose forward chain (policy drop) accepts
// established and related packets first, drops invalid ones, then dispatches
// by verdict maps: iifname -> the source interface's egress chain (a matching
// rule returns, no match drops) and oifname -> the destination interface's
// ingress chain (a matching rule accepts, no match drops). A packet between
// two interfaces thus passes the sender's egress and the receiver's ingress,
// as on AWS. Egress chains begin with the source/destination check (a packet
// must carry the interface's own address; IPv6 is dropped since no interface
// has an IPv6 address). Traffic to a peering link is accepted after the
// sender's egress (the peer's router checks its own ingress); traffic from one
// peering to another is dropped (no transitive peering). The router's input
// chain drops everything but queries to the VPC's DNS server (above).
//
// Fast path. Every packet crossing the router costs its IP stack, its
// netfilter hooks and a second veth hop, about a tenth of a Redis client's
// throughput (BENCH.md, "The eBPF fast path"). So a tc program (TCX
// ingress, fastpath_linux.go, built with cilium/ebpf's assembler: no
// compiler, no object file) on the router's end of each interface's veth
// forwards by itself the packets of connections the router has already
// accepted, when nothing but conntrack would decide them: IPv4 TCP without
// SYN, FIN or RST, from the interface's own primary address to the primary
// address of an interface of the same subnet (no ACL applies inside a
// subnet), whose conntrack entry in the router (bpf_skb_ct_lookup) is
// confirmed, has seen a reply, is ESTABLISHED, not dying and without NAT;
// a flow that passed is cached for 20 ms (an LRU map: its tuple, the link
// it came by, where it goes), and its packets from the same link skip the
// lookups until then; SYN, FIN and RST drop a flow from the cache both
// ways, and the plane's changes to the map empty it. It rewrites the Ethernet header from its map (no FIB
// lookup: the plane made the links, addresses and /32 routes, so it knows
// where each interface address goes), decrements the TTL, refreshes the
// entry's timeout once half of it has run down, and hands the packet to the
// destination's namespace (bpf_redirect_peer). Everything else (setup and teardown, other subnets,
// peerings, the internet, the host, NAT, another address) takes the router
// as before, so nftables still decides every connection: a revoke keeps
// established connections, a deleted or flushed entry sends the flow's
// packets to the slow path (within the cache's 20 ms), where they are
// judged as new. Since the router's
// conntrack no longer sees every segment, its TCP window tracking is
// liberal in routers (nf_conntrack_tcp_be_liberal, and
// nf_conntrack_tcp_ignore_invalid_rst): the segments it does see must not be
// found out of window and dropped. Each router has its own program and a
// hash map (interface address -> its router-side link's ifindex, the subnet
// tag, which is the link's gateway address, and the Ethernet addresses of
// the router's end and of eth0, read from the kernel on every Apply and on
// an ApplyChange of that router; an interface whose eth0 cannot be read has
// no entry and takes the slow path), attached without a bpf_link
// (BPF_PROG_ATTACH), so it stays while the daemon restarts and goes with the link; a new Plane
// replaces a program of ours in place (BPF_F_REPLACE) on its first Apply.
// Config.NoFastPath turns it off (the next Apply detaches it). A kernel
// without BTF, TCX or the conntrack kfuncs gets the slow path only (logged
// once).
//
// Network ACLs (State.NetworkACLs) are checked in the same forward chain,
// before the conntrack shortcut, since they are stateless: the verdict maps
// nacl-out (source link) and nacl-in (destination link) jump to one chain
// per subnet boundary and direction (nacl-out-<subnet>, nacl-in-<subnet>),
// which returns a packet staying inside the subnet, then walks the ACL's
// entries in rule-number order (allow: return; deny: drop) and drops what
// none matched (the "*" entry). A direction whose first entry allows all
// IPv4 traffic (the default ACL) gets no map element, and a router none of
// whose subnets needs a chain gets no ACL maps at all. The ACL chains are
// part of the Frame, so an ACL change replaces the table (see nacl.go).
//
// Group references compile to named sets (set sg-… { type ipv4_addr })
// holding the primary private addresses of every interface in the group, in
// any VPC; a membership change rewrites only the elements. Each rule carries
// a comment naming its sgr-… and group. Every change is one atomic nft
// transaction: a structural change (a peering, an internet gateway, the
// first load) replaces the table (add; delete; define) through a new nft -f;
// a change of rules, members or interfaces (the same frame base: Frame
// without set and map elements, group sets and interface chains) goes
// through the router's long-lived nft -i session and touches only what
// changed: the elements that left or joined a set or map (verdict maps, the
// DNS clients, Elastic IPs), the group sets and interface chains that came
// or went, and, in each interface chain whose rules changed, the rules gone
// (deleted by handle) and the new ones (appended, with the chain's final
// drop deleted and appended again after them). Nothing is inserted at a position, since nft then reads every
// rule of the table first; so after incremental changes the kernel's order
// of a chain's accept (egress: return) rules may differ from the rendered
// text, which decides nothing (same verdict, no side effect). Changing the
// ruleset never touches conntrack, so, as on AWS, revoking a rule does not cut
// connections already established; new ones are refused. To know what the
// kernel holds without listing a large table, the Plane remembers the
// nftables generation (bumped by the kernel on every commit in a namespace)
// that its last load produced, read through a netlink socket it keeps open
// in each router: same generation and same ruleset, nothing to do; any
// other commit there since, by anyone, and the table is replaced. After a
// restart memory is empty and every table is replaced once.
//
// ApplyChange is Apply for a change: when the namespaces, links, addresses
// and routes of the new plan are those of the last successful Apply (and
// every namespace is the same inode), it converges only the rulesets, so a
// security-group change costs its nft change and no walk of every
// namespace; the daemon walks them all (Apply) at start, on every full
// reconcile and after a failure. Netlink handles of our namespaces stay
// open across Applies.
//
// Security groups are enforced for IPv4 (the interfaces have only IPv4
// addresses); IPv6 CIDRs in rules are rendered faithfully but cannot match.
//
// Fail-closed ordering. A router's table is loaded before its links are
// created and before forwarding is switched on, and a link not yet in the
// verdict maps matches no chain and falls to policy drop.
//
// First packets. A new link gets its neighbour settings (ARP retry 100 ms,
// no proxy ARP delay) before it comes up, and no route leads to it before
// both ends of its veth are operationally up: a veth end drops what it is
// given until the kernel's link watcher has run for it, and a lost first
// ARP solicitation used to cost a new interface's first clients a second
// (internal/netplane/BENCH.md, "The first-connect tail on a new interface").
//
// Ownership. Every namespace and link we create is named <prefix>-…, where
// the prefix is per installation (Config.Prefix); the nft table is named
// <prefix> and lives only in our own router namespaces and, while something
// is published, in the host's. Apply deletes what carries the prefix but is
// no longer desired, and nothing else (on the host: our links, with their
// addresses and routes, and our table); Teardown deletes everything
// carrying the prefix. Linux interface names have at most
// 15 bytes, so link names are <prefix>-<role><hash>, the hash a truncated
// SHA-256 of the resource id; the planner refuses colliding names.
//
// Named namespaces live in /run/netns, shared with iproute2, which the
// Plane sets up exactly as "ip netns add" does before its first namespace
// (a shared bind mount of the directory onto itself); deleting a namespace
// also removes mounts of it hidden beneath that bind mount, which older
// versions left when iproute2 set the directory up after them (see
// netns_linux.go).
//
// Namespaces are entered only by handles bound to them (netlink.NewHandleAt),
// by children that enter and exec (nsenter), or by a fresh goroutine locked to
// its OS thread that is never unlocked, so the runtime discards the thread
// when the goroutine ends; the daemon's other threads never change namespace.
package netplane
