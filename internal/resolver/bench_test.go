package resolver

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The figures and the command are in BENCH.md.

// reportLatency reports the median and 99th percentile of ds in µs, and how
// many of them happened per second over elapsed, as rate (queries/s…).
func reportLatency(b *testing.B, ds []time.Duration, elapsed time.Duration, rate string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	pct := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(ds))/elapsed.Seconds(), rate)
}

// dialClient opens a persistent client connection to addr.
func dialClient(b *testing.B, network, addr string) (*dns.Client, *dns.Conn) {
	c := &dns.Client{Net: network}
	conn, err := c.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return c, conn
}

// query asks for the primary endpoint (a CNAME and the node's A record: the
// common case) and checks the answer.
func query(b *testing.B, c *dns.Client, conn *dns.Conn, name string) *dns.Msg {
	resp, _, err := c.ExchangeWithConn(new(dns.Msg).SetQuestion(name, dns.TypeA), conn)
	if err != nil {
		b.Fatal(err)
	}
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 2 {
		b.Fatalf("unexpected answer: %v", resp)
	}
	return resp
}

// BenchmarkQuery: one client asking one query at a time, over loopback, as
// an application resolving an endpoint before connecting does.
func BenchmarkQuery(b *testing.B) {
	for _, network := range []string{"udp", "tcp"} {
		b.Run(network, func(b *testing.B) {
			addr := startServer(b, testTable(b))
			c, conn := dialClient(b, network, addr)
			ds := make([]time.Duration, 0, b.N)
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				query(b, c, conn, primary+".")
				ds = append(ds, time.Since(t0))
			}
			reportLatency(b, ds, time.Since(start), "queries/s")
		})
	}
}

// BenchmarkQueryParallel: GOMAXPROCS×4 clients over UDP at once, for the
// server's throughput.
func BenchmarkQueryParallel(b *testing.B) {
	addr := startServer(b, testTable(b))
	var (
		mu  sync.Mutex // guards all
		all []time.Duration
	)
	b.SetParallelism(4)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Net: "udp"}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		var ds []time.Duration
		for pb.Next() {
			t0 := time.Now()
			resp, _, err := c.ExchangeWithConn(new(dns.Msg).SetQuestion(primary+".", dns.TypeA), conn)
			if err != nil || len(resp.Answer) != 2 {
				b.Errorf("query: %v, %v", resp, err)
				return
			}
			ds = append(ds, time.Since(t0))
		}
		mu.Lock()
		all = append(all, ds...)
		mu.Unlock()
	})
	reportLatency(b, all, time.Since(start), "queries/s")
}

// BenchmarkUpdateVisible: from a record change (a failover moving the
// primary endpoint's CNAME to the other node, Table.Set) until a client
// asking over UDP gets the new answer. Also reports the most queries a
// client needed to see it (1: the first query after Set already does).
func BenchmarkUpdateVisible(b *testing.B) {
	tab := testTable(b)
	addr := startServer(b, tab)
	c, conn := dialClient(b, "udp", addr)
	ds := make([]time.Duration, 0, b.N)
	maxQueries, i := 0, 0
	start := time.Now()
	for b.Loop() {
		i++
		to, want := node2, ip2
		if i%2 == 0 {
			to, want = node1, ip1
		}
		t0 := time.Now()
		if err := tab.Set([]string{cacheZone, ec2Zone}, testRecords(to)); err != nil {
			b.Fatal(err)
		}
		for n := 1; ; n++ {
			resp := query(b, c, conn, primary+".")
			if resp.Answer[1].(*dns.A).A.Equal(net.IP(want.AsSlice())) {
				ds = append(ds, time.Since(t0))
				maxQueries = max(maxQueries, n)
				break
			}
			if n == 1000 {
				b.Fatalf("the change is not visible after %d queries", n)
			}
		}
	}
	reportLatency(b, ds, time.Since(start), "changes/s")
	b.ReportMetric(float64(maxQueries), "max-queries")
}

// BenchmarkRespond: the server's own work for one query (lookup, CNAME
// chase, response built and packed), without sockets or scheduling.
func BenchmarkRespond(b *testing.B) {
	tab := testTable(b)
	req := new(dns.Msg).SetQuestion(primary+".", dns.TypeA)
	for b.Loop() {
		if _, err := Respond(tab, req, dns.MinMsgSize).Pack(); err != nil {
			b.Fatal(err)
		}
	}
}
