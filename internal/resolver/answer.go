package resolver

import (
	"net"
	"slices"

	"github.com/miekg/dns"
)

// Message sizes.
const (
	// ednsSize is the UDP payload size the server advertises and the most it
	// sends over UDP whatever a client advertises: the size DNS Flag Day
	// 2020 settled on, which avoids IP fragmentation.
	ednsSize = 1232
	// maxChain bounds how many CNAMEs an answer follows.
	maxChain = 8
)

// Respond computes the response to req from src, truncated to fit size
// bytes (the transport's limit: see maxSize). It is pure apart from the
// Lookups; the server's handler is Respond plus a write.
//
// A query for a name in a served zone is answered like the Amazon-provided
// DNS server answers it: the records of the queried type, following CNAMEs
// (an A query for a primary endpoint gets the CNAME and the node's A
// record); NOERROR with no answer and the zone's SOA when the name exists
// without records of that type (an AAAA query for a cache endpoint);
// NXDOMAIN with the SOA when the name does not exist. ANY gets the records
// the name owns, without following a CNAME. Anything else — names outside
// the served zones, classes other than IN, zone transfers — is REFUSED,
// and opcodes other than QUERY are NOTIMP. Recursion is advertised, as on
// AWS, but nothing is ever forwarded.
func Respond(src Source, req *dns.Msg, size int) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	resp.Compress = true
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(ednsSize, false)
		if opt.Version() != 0 {
			resp.Rcode = dns.RcodeBadVers // RFC 6891 6.1.3: the extended rcode goes in the OPT record
			return resp
		}
	}
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	case len(req.Question) != 1:
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	q := req.Question[0]
	switch {
	case q.Qclass != dns.ClassINET, q.Qtype == dns.TypeAXFR, q.Qtype == dns.TypeIXFR:
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	answer(src, resp, canonical(q.Name), q.Qtype)
	resp.Truncate(size)
	return resp
}

// answer fills resp for a question about name (canonical) of type qtype.
func answer(src Source, resp *dns.Msg, name string, qtype uint16) {
	records, zone := src.Lookup(name)
	if zone == "" {
		resp.Rcode = dns.RcodeRefused
		return
	}
	seen := make([]string, 1, maxChain+1)
	seen[0] = name
	for range maxChain {
		cname := cnameOf(records)
		if cname != nil && qtype != dns.TypeCNAME && qtype != dns.TypeANY {
			resp.Answer = append(resp.Answer, rr(*cname))
			next := cname.Target
			if slices.Contains(seen, next) {
				break // a loop
			}
			seen = append(seen, next)
			if records, zone = src.Lookup(next); zone == "" {
				return // the target is not ours to answer for: the CNAME is the answer
			}
			name = next
			continue
		}
		for _, r := range records {
			if qtype == dns.TypeANY || qtype == typeOf(r) {
				resp.Answer = append(resp.Answer, rr(r))
			}
		}
		if qtype == dns.TypeSOA && name == zone {
			resp.Answer = append(resp.Answer, soa(zone))
		}
		if len(records) == 0 && name != zone {
			resp.Rcode = dns.RcodeNameError // RFC 6604: the rcode speaks of the last name of the chain
		}
		if len(resp.Answer) == 0 || resp.Rcode == dns.RcodeNameError || !answers(resp.Answer, name, qtype) {
			resp.Ns = append(resp.Ns, soa(zone))
		}
		return
	}
	// A CNAME loop, or a chain longer than maxChain: what a recursive
	// resolver answers too.
	resp.Answer, resp.Rcode = nil, dns.RcodeServerFailure
}

// answers reports whether the answer section holds a record of qtype owned
// by name (the end of the chain), i.e. whether the answer is not NODATA.
func answers(ans []dns.RR, name string, qtype uint16) bool {
	for _, a := range ans {
		h := a.Header()
		if canonical(h.Name) == name && (qtype == dns.TypeANY || h.Rrtype == qtype) {
			return true
		}
	}
	return false
}

func cnameOf(records []Record) *Record {
	for i := range records {
		if records[i].IsCNAME() {
			return &records[i]
		}
	}
	return nil
}

func typeOf(r Record) uint16 {
	if r.IsCNAME() {
		return dns.TypeCNAME
	}
	return dns.TypeA
}

func rr(r Record) dns.RR {
	h := dns.RR_Header{Name: dns.Fqdn(r.Name), Rrtype: typeOf(r), Class: dns.ClassINET, Ttl: r.TTL}
	if r.IsCNAME() {
		return &dns.CNAME{Hdr: h, Target: dns.Fqdn(r.Target)}
	}
	return &dns.A{Hdr: h, A: net.IP(r.Addr.AsSlice())}
}

// soa is a served zone's SOA record, given in the authority section of
// negative answers so resolvers cache them for NegativeTTL only.
func soa(zone string) dns.RR {
	z := dns.Fqdn(zone)
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: z, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: NegativeTTL},
		Ns:  z, Mbox: "hostmaster." + z,
		Serial: 1, Refresh: 7200, Retry: 900, Expire: 1209600, Minttl: NegativeTTL,
	}
}

// maxSize returns the largest response a client can take over the
// transport: 65535 bytes over TCP; over UDP 512 bytes, or the size the
// client advertises in EDNS capped at ednsSize.
func maxSize(req *dns.Msg, tcp bool) int {
	if tcp {
		return dns.MaxMsgSize
	}
	opt := req.IsEdns0()
	if opt == nil {
		return dns.MinMsgSize
	}
	return int(max(dns.MinMsgSize, min(opt.UDPSize(), ednsSize)))
}
