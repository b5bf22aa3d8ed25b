package app_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/miekg/dns"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// The figures and the commands are in internal/resolver/BENCH.md.

// dnsBench is a running Cachalot with a Redis cluster and an instance in
// the default VPC.
type dnsBench struct {
	n    *nettest.Env
	inst nettest.Instance
	name string // the cluster's node endpoint
}

func newDNSBench(b *testing.B) *dnsBench {
	n := nettest.Start(b)
	ec := elasticache.NewFromConfig(n.Config())
	if _, err := ec.CreateCacheCluster(context.Background(), &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("bench"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		b.Fatal(err)
	}
	d := &dnsBench{n: n, inst: n.RunInstance(b, "")}
	for deadline := time.Now().Add(60 * time.Second); d.name == ""; time.Sleep(50 * time.Millisecond) {
		out, err := ec.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("bench"), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil || time.Now().After(deadline) {
			b.Fatalf("cluster bench: %v", err)
		}
		if c := out.CacheClusters[0]; aws.ToString(c.CacheClusterStatus) == "available" {
			d.name = aws.ToString(c.CacheNodes[0].Endpoint.Address)
		}
	}
	n.WaitIdle(b)
	return d
}

// conn opens a client connection from inside the instance to the VPC's
// DNS server (172.31.0.2), as the instance's stub resolver does.
func (d *dnsBench) conn(b *testing.B, network string) *dns.Conn {
	c, err := d.n.App.Plane().Dial(context.Background(), d.inst.ENI, network, "172.31.0.2:53")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return &dns.Conn{Conn: c}
}

// ask sends one A query for name on conn and returns the answer.
func ask(c *dns.Conn, name string) (*dns.Msg, error) {
	client := &dns.Client{Timeout: 2 * time.Second}
	resp, _, err := client.ExchangeWithConn(new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA), c)
	return resp, err
}

// reportDNS reports the median and 99th percentile of ds in µs, and the
// rate of them per second over elapsed.
func reportDNS(b *testing.B, ds []time.Duration, elapsed time.Duration, rate string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	pct := func(p float64) float64 { return float64(ds[int(p*float64(len(ds)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(ds))/elapsed.Seconds(), rate)
}

// BenchmarkDNSFromInstance: an application on an instance resolving a
// cache's endpoint name, one query at a time, through the VPC's DNS server
// (the daemon's resolver in the VPC's router namespace, across the veth
// pair and the router's input chain).
func BenchmarkDNSFromInstance(b *testing.B) {
	d := newDNSBench(b)
	for _, network := range []string{"udp", "tcp"} {
		b.Run(network, func(b *testing.B) {
			c := d.conn(b, network)
			ds := make([]time.Duration, 0, b.N)
			start := time.Now()
			for b.Loop() {
				t0 := time.Now()
				resp, err := ask(c, d.name)
				if err != nil || resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
					b.Fatalf("query %s: %v, %v", d.name, resp, err)
				}
				ds = append(ds, time.Since(t0))
			}
			reportDNS(b, ds, time.Since(start), "queries/s")
		})
	}
}

// BenchmarkDNSFromInstanceParallel: GOMAXPROCS×4 clients on the instance
// asking over UDP at once, for queries/s.
func BenchmarkDNSFromInstanceParallel(b *testing.B) {
	d := newDNSBench(b)
	var (
		mu  sync.Mutex // guards all
		all []time.Duration
	)
	conns := make(chan *dns.Conn, 64)
	for range cap(conns) {
		conns <- d.conn(b, "udp")
	}
	b.SetParallelism(4)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := <-conns
		var ds []time.Duration
		for pb.Next() {
			t0 := time.Now()
			resp, err := ask(c, d.name)
			if err != nil || len(resp.Answer) != 1 {
				b.Errorf("query: %v, %v", resp, err)
				return
			}
			ds = append(ds, time.Since(t0))
		}
		mu.Lock()
		all = append(all, ds...)
		mu.Unlock()
	})
	reportDNS(b, all, time.Since(start), "queries/s")
}

// BenchmarkDNSChangeVisible: from an API call that changes what a VPC's
// server answers (ModifyVpcAttribute turning enableDnsHostnames on or off
// in the default VPC, so that the instance's own private DNS name appears
// or goes) until a client on the instance, asking over and over, sees the
// new answer: the API call, the store's watch, the DNS controller's
// reconcile (topology and names read whole, the view swapped) and one
// query. A cache record changing (a node replaced, a cluster deleted)
// takes the same path.
func BenchmarkDNSChangeVisible(b *testing.B) {
	d := newDNSBench(b)
	c := d.conn(b, "udp")
	vpc := d.inst.VPC
	self := "ip-" + strings.ReplaceAll(d.inst.IP, ".", "-") + ".ec2.internal"
	ds := make([]time.Duration, 0, b.N)
	var after []time.Duration // from the API call's return
	on := true                // the default VPC starts with hostnames on
	start := time.Now()
	for b.Loop() {
		on = !on
		want := dns.RcodeNameError
		if on {
			want = dns.RcodeSuccess
		}
		t0 := time.Now()
		if _, err := d.n.EC2.ModifyVpcAttribute(context.Background(), &ec2.ModifyVpcAttributeInput{VpcId: aws.String(vpc),
			EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(on)}}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for {
			resp, err := ask(c, self)
			if err != nil {
				b.Fatal(err)
			}
			if resp.Rcode == want {
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("%s: rcode %s 10 s after the change", self, dns.RcodeToString[resp.Rcode])
			}
		}
		ds = append(ds, time.Since(t0))
		after = append(after, time.Since(t1))
	}
	reportDNS(b, ds, time.Since(start), "changes/s")
	slices.Sort(after)
	b.ReportMetric(float64(after[len(after)/2])/float64(time.Microsecond), "after-api-p50-µs")
	b.ReportMetric(float64(after[(len(after)-1)*99/100])/float64(time.Microsecond), "after-api-p99-µs")
}
