package sgeval

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// starEntry is the number of the implicit last entry that denies.
const starEntry = 32767

// aclProto is the protocol number ACL entries name for a flow protocol.
func aclProto(p string) string {
	switch p {
	case "tcp":
		return "6"
	case "udp":
		return "17"
	case "icmp":
		return "1"
	case "icmpv6":
		return "58"
	}
	return p
}

// aclEntryMatches reports whether an entry covers a packet: its peer
// address (source inbound, destination outbound), protocol number, and
// destination port (or ICMP type and code).
func aclEntryMatches(en *ec2.TopoACLEntry, proto string, port, code int32, peer netip.Addr) bool {
	if !en.CIDR.IsValid() || !en.CIDR.Contains(peer) {
		return false
	}
	if en.Protocol == "-1" {
		return true
	}
	if en.Protocol != proto {
		return false
	}
	switch proto {
	case "6", "17":
		return en.FromPort <= port && port <= en.ToPort
	case "1", "58":
		return en.FromPort == -1 || (en.FromPort == port && (en.ToPort == -1 || en.ToPort == code))
	}
	return true
}

// aclDecide returns the number of the entry deciding a packet (starEntry
// when none matches) and whether it allows.
func aclDecide(a *ec2.TopoNetworkACL, egress bool, proto string, port, code int32, peer netip.Addr) (int32, bool) {
	for i := range a.Entries { // sorted by direction and number
		en := &a.Entries[i]
		if en.Egress == egress && aclEntryMatches(en, proto, port, code, peer) {
			return en.Number, en.Allow
		}
	}
	return starEntry, false
}

// aclDecideRange decides every destination port in [lo, hi] (TCP, UDP):
// it returns the first port denied and the entry denying it, or ok.
func aclDecideRange(a *ec2.TopoNetworkACL, egress bool, proto string, lo, hi int32, peer netip.Addr) (port, entry int32, ok bool) {
	// The decision is constant between entry boundaries: try lo and every
	// boundary inside the range.
	points := []int32{lo}
	for _, en := range a.Entries {
		for _, p := range []int32{en.FromPort, en.ToPort + 1} {
			if p > lo && p <= hi {
				points = append(points, p)
			}
		}
	}
	first := int32(0)
	for i, p := range points {
		n, allow := aclDecide(a, egress, proto, p, 0, peer)
		if !allow {
			return p, n, false
		}
		if i == 0 {
			first = n
		}
	}
	return lo, first, true
}

// checkACLs adds what the network ACLs of the flow's subnets deny, both
// ways for flows that wait for an answer (see the package doc).
func (e *Evaluator) checkACLs(v *Verdict, f Flow, proto string, src, dst *ec2.TopoInterface, srcAddr, dstAddr netip.Addr) {
	if src != nil && dst != nil && src.SubnetID == dst.SubnetID {
		return
	}
	p := aclProto(proto)
	answered := p == "6" || p == "17" || (p == "1" && f.Port == 8)
	ephLo, ephHi := int32(EphemeralFirst), int32(EphemeralLast)
	if f.SrcPort > 0 {
		ephLo, ephHi = f.SrcPort, f.SrcPort
	}
	check := func(ifc *ec2.TopoInterface, egress, reply bool, peer netip.Addr) {
		if ifc == nil {
			return
		}
		a := e.acls[ifc.SubnetID]
		if a == nil {
			return
		}
		var (
			entry, port int32
			ok          bool
		)
		port = f.Port
		switch {
		case !reply:
			entry, ok = aclDecide(a, egress, p, f.Port, f.Code, peer)
		case p == "1": // echo reply
			port = 0
			entry, ok = aclDecide(a, egress, p, 0, 0, peer)
		default:
			port, entry, ok = aclDecideRange(a, egress, p, ephLo, ephHi, peer)
		}
		if ok {
			v.ACLs = append(v.ACLs, ACLRef{ACL: a.ID, Subnet: ifc.SubnetID, Entry: entry, Egress: egress, Reply: reply})
			return
		}
		dir, prep := "inbound", "from"
		if egress {
			dir, prep = "outbound", "to"
		}
		what := fmt.Sprintf("%s/%d", proto, port)
		if reply {
			what = "the answer " + what
			if p != "1" {
				what = fmt.Sprintf("the answer %s to port %d", proto, port)
				if ephLo != ephHi {
					what += fmt.Sprintf(" (client ports %d-%d)", ephLo, ephHi)
				}
			} else {
				what = "the echo reply"
			}
		}
		by := "entry " + strconv.Itoa(int(entry))
		if entry == starEntry {
			by = "the * entry (no entry matched)"
		}
		v.Missing = append(v.Missing, Missing{Kind: "network-acl", Interface: ifc.ID, Protocol: proto, Port: port, Peer: peer.String(),
			ACL: a.ID, Subnet: ifc.SubnetID, Entry: entry, Egress: egress, Reply: reply,
			Reason: fmt.Sprintf("network ACL %s of %s denies %s %s %s %s: %s", a.ID, ifc.SubnetID, dir, what, prep, peer, by)})
	}
	check(src, true, false, dstAddr)
	check(dst, false, false, srcAddr)
	if answered {
		check(dst, true, true, srcAddr)
		check(src, false, true, dstAddr)
	}
}

// ACLRef names the network ACL entry that allows one packet of the flow
// (Reply: the answer's) at a subnet boundary.
type ACLRef struct {
	ACL, Subnet string
	Entry       int32
	Egress      bool
	Reply       bool
}

func (r ACLRef) String() string {
	dir := "inbound"
	if r.Egress {
		dir = "outbound"
	}
	what := ""
	if r.Reply {
		what = " (the answer)"
	}
	return fmt.Sprintf("network ACL %s of %s: %s entry %d allows%s", r.ACL, r.Subnet, dir, r.Entry, what)
}
