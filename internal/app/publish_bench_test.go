package app_test

// Figures of publishing to the host: internal/app/BENCH-publish.md.

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// redisBench runs redis-benchmark (argv prefix pre, e.g. nsenter into an
// instance's namespace) against addr and returns requests per second by
// test (GET, SET).
func redisBench(tb testing.TB, pre []string, addr string, requests, clients int) map[string]float64 {
	tb.Helper()
	argv := append(slices.Clone(pre), "redis-benchmark", "-h", addr, "-p", "6379", "-t", "get,set",
		"-n", strconv.Itoa(requests), "-c", strconv.Itoa(clients), "--csv")
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		tb.Fatalf("%v: %v\n%s", argv, err, out)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		tb.Fatalf("redis-benchmark csv: %v\n%s", err, out)
	}
	rps := map[string]float64{}
	for _, r := range recs[1:] { // a header line, then one per test
		if v, err := strconv.ParseFloat(r[1], 64); err == nil {
			rps[r[0]] = v
		}
	}
	return rps
}

// BenchmarkPublishedVsInstance runs redis-benchmark against one cache node
// from the host through its published endpoint and from an instance in
// the cache's VPC, alternately, b.N rounds of each, and reports the median
// requests per second of both and their ratio (host / instance; the goal
// is at least 0.95).
//
//	go test -count=1 -run '^$' -bench PublishedVsInstance -benchtime 10x ./internal/app/
func BenchmarkPublishedVsInstance(b *testing.B) {
	for _, bin := range []string{"redis-server", "redis-benchmark", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("needs %s", bin)
		}
	}
	n, inst, published, private := publishedBenchCache(b)
	ns, err := n.App.Plane().NetnsPath(inst.ENI)
	if err != nil {
		b.Fatal(err)
	}
	fromInstance := []string{"nsenter", "--net=" + ns, "--"}
	const requests, clients = 20000, 10
	redisBench(b, nil, published, requests, clients) // warm both paths
	redisBench(b, fromInstance, private, requests, clients)

	// Rounds alternate which side runs first; each round's ratio compares
	// two runs seconds apart, so that the machine's load, which changes
	// from minute to minute, weighs on both alike.
	host, instance, ratio := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	b.ResetTimer()
	for i := range b.N {
		var h, in map[string]float64
		if i%2 == 0 {
			h, in = redisBench(b, nil, published, requests, clients), redisBench(b, fromInstance, private, requests, clients)
		} else {
			in, h = redisBench(b, fromInstance, private, requests, clients), redisBench(b, nil, published, requests, clients)
		}
		for test := range h {
			host[test] = append(host[test], h[test])
			instance[test] = append(instance[test], in[test])
			ratio[test] = append(ratio[test], h[test]/in[test])
		}
	}
	b.StopTimer()
	for _, test := range []string{"GET", "SET"} {
		b.ReportMetric(median(host[test]), test+"-host-rps")
		b.ReportMetric(median(instance[test]), test+"-instance-rps")
		b.ReportMetric(median(ratio[test]), test+"-ratio")
		b.Logf("%s: host -> %s:6379 median %.0f rps, instance -> %s:6379 median %.0f rps, median ratio of the rounds %.3f (ratios %.2f)",
			test, published, median(host[test]), private, median(instance[test]), median(ratio[test]), ratio[test])
	}
}

// publishedBenchCache starts Cachalot with a one-node Redis cache whose
// group admits an instance's group and the host client, publishes it, and
// returns the instance, the published address the host reaches the node at
// and the node's private address (its name resolved on the instance).
func publishedBenchCache(b *testing.B) (*nettest.Env, nettest.Instance, string, string) {
	b.Helper()
	n := nettest.Start(b)
	vpc, _, _ := n.DefaultVPC(b)
	cg, sg := n.CreateGroup(b, "bench-client", vpc), n.CreateGroup(b, "bench-cache", vpc)
	n.AllowIn(b, sg, nettest.TCPPerm(6379, cg))
	n.AllowIn(b, sg, nettest.TCPPerm(6379, "169.254.64.1/32"))
	inst := n.RunInstance(b, "", cg)
	ec := elasticache.NewFromConfig(n.Config())
	if _, err := ec.CreateCacheCluster(context.Background(), &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("bench"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
		SecurityGroupIds: []string{sg}}); err != nil {
		b.Fatal(err)
	}
	name := nettest.WaitCluster(b, ec, "bench")
	out, code := cachalot(b, n.DataDir, "publish", "bench")
	if code != 0 {
		b.Fatalf("cachalot publish bench = %d:\n%s", code, out)
	}
	published := strings.Split(strings.Split(out, "\t")[2], ":")[0]
	n.WaitIdle(b)
	return n, inst, published, nettest.WaitResolve(b, n.App.Plane(), inst.ENI, name)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// BenchmarkPublishedVsInstanceGo is the same comparison with one Go client
// and one connection per side (no client CPU to share): GETs alternate in
// batches of 200 between a connection from the host to the published
// endpoint and one opened inside the instance's namespace to the private
// address, b.N rounds. It reports GETs per second on each side and the
// median of the rounds' ratios (host / instance).
//
//	go test -count=1 -run '^$' -bench PublishedVsInstanceGo -benchtime 400x ./internal/app/
func BenchmarkPublishedVsInstanceGo(b *testing.B) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		b.Skip("needs redis-server")
	}
	n, inst, published, private := publishedBenchCache(b)
	ctx := context.Background()
	hostConn, err := (&net.Dialer{}).DialContext(ctx, "tcp4", net.JoinHostPort(published, "6379"))
	if err != nil {
		b.Fatal(err)
	}
	defer hostConn.Close()
	instConn, err := n.App.Plane().Dial(ctx, inst.ENI, "tcp4", net.JoinHostPort(private, "6379"))
	if err != nil {
		b.Fatal(err)
	}
	defer instConn.Close()
	const batch = 200
	get := func(c net.Conn) time.Duration {
		r := bufio.NewReader(c)
		req := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
		buf := make([]byte, 5) // "$-1\r\n"
		t0 := time.Now()
		for range batch {
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "$-1\r\n" {
				b.Fatalf("GET = %q, %v", buf, err)
			}
		}
		return time.Since(t0)
	}
	get(hostConn)
	get(instConn)
	var hostT, instT time.Duration
	var ratios []float64
	b.ResetTimer()
	for i := range b.N {
		var h, in time.Duration
		if i%2 == 0 {
			h, in = get(hostConn), get(instConn)
		} else {
			in, h = get(instConn), get(hostConn)
		}
		hostT += h
		instT += in
		ratios = append(ratios, float64(in)/float64(h)) // host rate / instance rate
	}
	b.StopTimer()
	ops := float64(b.N * batch)
	b.ReportMetric(ops/hostT.Seconds(), "host-get/s")
	b.ReportMetric(ops/instT.Seconds(), "instance-get/s")
	b.ReportMetric(median(ratios), "ratio")
	b.Logf("GET, one connection: host -> %s:6379 %.0f/s, instance -> %s:6379 %.0f/s, median ratio of %d rounds %.3f",
		published, ops/hostT.Seconds(), private, ops/instT.Seconds(), b.N, median(ratios))
}
