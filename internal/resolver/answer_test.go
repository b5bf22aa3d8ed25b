package resolver

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// summary is a response in a comparable form: the rcode and each section's
// records in presentation form, tabs squeezed to spaces.
type summary struct {
	Rcode      string
	TC         bool
	Answer, Ns []string
}

func summarize(m *dns.Msg) summary {
	s := summary{Rcode: dns.RcodeToString[m.Rcode], TC: m.Truncated}
	for _, rr := range m.Answer {
		s.Answer = append(s.Answer, strings.Join(strings.Fields(rr.String()), " "))
	}
	for _, rr := range m.Ns {
		s.Ns = append(s.Ns, strings.Join(strings.Fields(rr.String()), " "))
	}
	return s
}

const (
	cacheSOA = "use1.cache.amazonaws.com. 5 IN SOA use1.cache.amazonaws.com. hostmaster.use1.cache.amazonaws.com. 1 7200 900 1209600 5"
	ec2SOA   = "ec2.internal. 5 IN SOA ec2.internal. hostmaster.ec2.internal. 1 7200 900 1209600 5"
)

func TestRespond(t *testing.T) {
	tab := testTable(t)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  summary
	}{
		{"node-A", node1 + ".", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{node1 + ". 5 IN A 10.0.1.10"}}},
		{"node-mixed-case", "My-RG-001.KM2JZI.0001.use1.Cache.AmazonAWS.com.", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{node1 + ". 5 IN A 10.0.1.10"}}},
		{"primary-A-follows-CNAME", primary + ".", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{
			primary + ". 5 IN CNAME " + node1 + ".", node1 + ". 5 IN A 10.0.1.10"}}},
		{"reader-A-follows-CNAME", reader + ".", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{
			reader + ". 5 IN CNAME " + node2 + ".", node2 + ". 5 IN A 10.0.2.10"}}},
		{"primary-CNAME", primary + ".", dns.TypeCNAME, summary{Rcode: "NOERROR", Answer: []string{primary + ". 5 IN CNAME " + node1 + "."}}},
		{"node-AAAA-nodata", node1 + ".", dns.TypeAAAA, summary{Rcode: "NOERROR", Ns: []string{cacheSOA}}},
		{"primary-AAAA-chain-then-nodata", primary + ".", dns.TypeAAAA, summary{Rcode: "NOERROR",
			Answer: []string{primary + ". 5 IN CNAME " + node1 + "."}, Ns: []string{cacheSOA}}},
		{"node-MX-nodata", node1 + ".", dns.TypeMX, summary{Rcode: "NOERROR", Ns: []string{cacheSOA}}},
		{"node-ANY", node1 + ".", dns.TypeANY, summary{Rcode: "NOERROR", Answer: []string{node1 + ". 5 IN A 10.0.1.10"}}},
		{"primary-ANY-no-chase", primary + ".", dns.TypeANY, summary{Rcode: "NOERROR", Answer: []string{primary + ". 5 IN CNAME " + node1 + "."}}},
		{"memcached-config", memcfg + ".", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{memcfg + ". 5 IN A 10.0.1.20"}}},
		{"instance-60s", instance + ".", dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{instance + ". 60 IN A 10.0.1.5"}}},
		{"unknown-in-zone", unknownName + ".", dns.TypeA, summary{Rcode: "NXDOMAIN", Ns: []string{cacheSOA}}},
		{"unknown-instance", "ip-10-0-9-9.ec2.internal.", dns.TypeA, summary{Rcode: "NXDOMAIN", Ns: []string{ec2SOA}}},
		{"unknown-AAAA", unknownName + ".", dns.TypeAAAA, summary{Rcode: "NXDOMAIN", Ns: []string{cacheSOA}}},
		{"zone-apex-A", cacheZone + ".", dns.TypeA, summary{Rcode: "NOERROR", Ns: []string{cacheSOA}}},
		{"zone-apex-SOA", cacheZone + ".", dns.TypeSOA, summary{Rcode: "NOERROR", Answer: []string{cacheSOA}}},
		{"other-region", "x.km2jzi.0001.usw2.cache.amazonaws.com.", dns.TypeA, summary{Rcode: "REFUSED"}},
		{"outside", "example.com.", dns.TypeA, summary{Rcode: "REFUSED"}},
		{"root", ".", dns.TypeNS, summary{Rcode: "REFUSED"}},
		{"suffix-not-label", "xuse1.cache.amazonaws.com.", dns.TypeA, summary{Rcode: "REFUSED"}},
		{"AXFR", cacheZone + ".", dns.TypeAXFR, summary{Rcode: "REFUSED"}},
		{"IXFR", cacheZone + ".", dns.TypeIXFR, summary{Rcode: "REFUSED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := new(dns.Msg).SetQuestion(tt.qname, tt.qtype)
			resp := Respond(tab, req, dns.MinMsgSize)
			if diff := cmp.Diff(tt.want, summarize(resp)); diff != "" {
				t.Errorf("Respond(%s %s) (-want +got):\n%s", tt.qname, dns.TypeToString[tt.qtype], diff)
			}
			if resp.Id != req.Id || !resp.Response || !resp.RecursionAvailable || resp.Authoritative {
				t.Errorf("header id=%d qr=%v ra=%v aa=%v; want id %d, qr, ra, not aa", resp.Id, resp.Response, resp.RecursionAvailable, resp.Authoritative, req.Id)
			}
			if len(resp.Question) != 1 || resp.Question[0].Name != tt.qname {
				t.Errorf("question = %v, want the query's, as asked", resp.Question)
			}
		})
	}
}

func TestRespondMalformed(t *testing.T) {
	tab := testTable(t)
	chaos := new(dns.Msg).SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	notify := new(dns.Msg).SetNotify(cacheZone + ".")
	notify.Opcode = dns.OpcodeUpdate
	two := new(dns.Msg).SetQuestion(node1+".", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	none := new(dns.Msg)
	badVers := new(dns.Msg).SetQuestion(node1+".", dns.TypeA)
	badVers.SetEdns0(4096, false)
	badVers.IsEdns0().SetVersion(1)
	tests := []struct {
		name string
		req  *dns.Msg
		want int
	}{
		{"chaos-class", chaos, dns.RcodeRefused},
		{"update-opcode", notify, dns.RcodeNotImplemented},
		{"two-questions", two, dns.RcodeFormatError},
		{"no-question", none, dns.RcodeFormatError},
		{"edns-version-1", badVers, dns.RcodeBadVers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := Respond(tab, tt.req, dns.MinMsgSize)
			if resp.Rcode != tt.want || len(resp.Answer) != 0 {
				t.Errorf("rcode = %s with %d answers, want %s and none", dns.RcodeToString[resp.Rcode], len(resp.Answer), dns.RcodeToString[tt.want])
			}
			// The extended rcode survives packing (it lives in the OPT record).
			b, err := resp.Pack()
			if err != nil {
				t.Fatal(err)
			}
			var back dns.Msg
			if err := back.Unpack(b); err != nil || back.Rcode != tt.want {
				t.Errorf("unpacked rcode = %s, %v; want %s", dns.RcodeToString[back.Rcode], err, dns.RcodeToString[tt.want])
			}
		})
	}
}

func TestRespondCNAMEChains(t *testing.T) {
	tab := new(Table)
	z := "use1.cache.amazonaws.com"
	err := tab.Set([]string{z}, []Record{
		{Name: "loop-a." + z, Target: "loop-b." + z},
		{Name: "loop-b." + z, Target: "loop-a." + z},
		{Name: "dangling." + z, Target: "gone." + z},
		{Name: "outside." + z, Target: "example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		qname string
		want  summary
	}{
		{"loop-a." + z + ".", summary{Rcode: "SERVFAIL"}},
		{"dangling." + z + ".", summary{Rcode: "NXDOMAIN", Answer: []string{"dangling." + z + ". 0 IN CNAME gone." + z + "."}, Ns: []string{cacheSOA}}},
		{"outside." + z + ".", summary{Rcode: "NOERROR", Answer: []string{"outside." + z + ". 0 IN CNAME example.com."}}},
	}
	for _, tt := range tests {
		resp := Respond(tab, new(dns.Msg).SetQuestion(tt.qname, dns.TypeA), dns.MinMsgSize)
		if diff := cmp.Diff(tt.want, summarize(resp)); diff != "" {
			t.Errorf("Respond(%s A) (-want +got):\n%s", tt.qname, diff)
		}
	}
}

// bigTable holds a name with 100 addresses: an answer of ~1.6 kB, which does
// not fit in 512 bytes nor in the 1232 bytes EDNS allows over UDP.
func bigTable(t testing.TB) (*Table, string) {
	t.Helper()
	name := "many." + cacheZone
	var rs []Record
	for i := range 100 {
		rs = append(rs, Record{Name: name, TTL: CacheTTL, Addr: netip.AddrFrom4([4]byte{10, 0, 3, byte(i + 1)})})
	}
	tab := new(Table)
	if err := tab.Set([]string{cacheZone}, rs); err != nil {
		t.Fatal(err)
	}
	return tab, name
}

func TestRespondTruncates(t *testing.T) {
	tab, name := bigTable(t)
	plain := new(dns.Msg).SetQuestion(name+".", dns.TypeA)
	edns := new(dns.Msg).SetQuestion(name+".", dns.TypeA)
	edns.SetEdns0(4096, false)
	tests := []struct {
		name    string
		req     *dns.Msg
		tcp     bool
		maxLen  int
		wantTC  bool
		wantAll bool
	}{
		{"udp-512", plain, false, 512, true, false},
		{"udp-edns-capped-1232", edns, false, 1232, true, false},
		{"tcp", plain, true, dns.MaxMsgSize, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := maxSize(tt.req, tt.tcp)
			if size != tt.maxLen {
				t.Errorf("maxSize = %d, want %d", size, tt.maxLen)
			}
			resp := Respond(tab, tt.req, size)
			b, err := resp.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > tt.maxLen || resp.Truncated != tt.wantTC || (len(resp.Answer) == 100) != tt.wantAll {
				t.Errorf("%d bytes, TC=%v, %d answers; want <= %d bytes, TC=%v, all 100: %v", len(b), resp.Truncated, len(resp.Answer), tt.maxLen, tt.wantTC, tt.wantAll)
			}
			if tt.req.IsEdns0() != nil && resp.IsEdns0() == nil {
				t.Error("EDNS query answered without OPT record")
			}
		})
	}
}

func TestMaxSize(t *testing.T) {
	tests := []struct {
		edns uint16 // 0: no EDNS
		want int
	}{{0, 512}, {100, 512}, {512, 512}, {1000, 1000}, {1232, 1232}, {4096, 1232}, {65535, 1232}}
	for _, tt := range tests {
		req := new(dns.Msg).SetQuestion(node1+".", dns.TypeA)
		if tt.edns != 0 {
			req.SetEdns0(tt.edns, false)
		}
		if got := maxSize(req, false); got != tt.want {
			t.Errorf("maxSize(udp, edns %d) = %d, want %d", tt.edns, got, tt.want)
		}
	}
	if got := maxSize(new(dns.Msg), true); got != 65535 {
		t.Errorf("maxSize(tcp) = %d, want 65535", got)
	}
}

// TestRespondSeesUpdate: after Set, the very next query answers from the
// new view (a failover moving the primary endpoint to the other node).
func TestRespondSeesUpdate(t *testing.T) {
	tab := testTable(t)
	req := new(dns.Msg).SetQuestion(primary+".", dns.TypeA)
	if got := summarize(Respond(tab, req, 512)).Answer; !slices.Contains(got, node1+". 5 IN A 10.0.1.10") {
		t.Fatalf("before failover: %v", got)
	}
	if err := tab.Set([]string{cacheZone, ec2Zone}, testRecords(node2)); err != nil {
		t.Fatal(err)
	}
	want := []string{primary + ". 5 IN CNAME " + node2 + ".", node2 + ". 5 IN A 10.0.2.10"}
	if diff := cmp.Diff(want, summarize(Respond(tab, req, 512)).Answer); diff != "" {
		t.Errorf("after failover (-want +got):\n%s", diff)
	}
}
