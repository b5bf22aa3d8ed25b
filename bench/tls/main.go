// Command tls measures issue 14's TLS figure through the real product: it
// starts `cachalot serve` (as root, namespaces network mode) with a fresh
// data dir, launches one EC2 instance in the default security group,
// creates a Redis OSS cluster with TransitEncryptionEnabled (and, for
// context, one without), and runs `redis-benchmark --tls --cacert` from
// inside the instance against the TLS cache's endpoint name, alternating
// in the same run with the same redis-server binary started by hand with
// TLS on 127.0.0.1 of the host (a certificate this program makes), reached
// by redis-benchmark --tls on the host. It prints a Markdown report on
// stdout and progress on stderr. Everything started is removed on exit.
// Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/tls [-requests 100000] [-rounds 5] > bench/tls/RESULTS.md
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/csv"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin              string
	requests, rounds int
	clients          int
	keep             bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.requests, "requests", 100000, "redis-benchmark requests per test")
	flag.IntVar(&o.rounds, "rounds", 5, "alternating rounds over the five targets")
	flag.IntVar(&o.clients, "c", 50, "redis-benchmark parallel connections")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.Parse()
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

// target is one thing redis-benchmark is run against.
type target struct {
	name string
	argv func(extra ...string) *exec.Cmd // redis-benchmark with its connection flags
}

func run(ctx context.Context, o options) error {
	fmt.Printf("# TLS in transit through the product: figures of issue 14\n\n")
	hostinfo.PrintGenerated("tls")
	b, err := cachalotproc.StartBench(ctx, o.bin, cachalotproc.Options{
		DirPrefix: "cachalot-tlsbench-", Key: "AKIATLSBENCHBENCHBNC", Secret: "tlsbench-secret", LogLevel: "warn",
	}, o.keep)
	if err != nil {
		return err
	}
	defer b.Close()
	srv, inst, work, productCA := b.Server, b.Inst, b.Work, b.CA
	tlsHost, err := createCache(ctx, srv, "tlsbench", true)
	if err != nil {
		return err
	}
	plainHost, err := createCache(ctx, srv, "plainbench", false)
	if err != nil {
		return err
	}
	prefHost, err := createPreferredGroup(ctx, srv, "prefbench")
	if err != nil {
		return err
	}
	handPort, handCA, stop, err := startByHand(ctx, work, true)
	if err != nil {
		return err
	}
	defer stop()
	plainPort, _, stopPlain, err := startByHand(ctx, work, false)
	if err != nil {
		return err
	}
	defer stopPlain()
	instPort, instCA, stopInst, err := startInInstance(ctx, srv, inst.ID, work)
	if err != nil {
		return err
	}
	defer stopInst()
	log.Printf("TLS cache %s, plain cache %s, by hand 127.0.0.1:%d", tlsHost, plainHost, handPort)

	n, c := strconv.Itoa(o.requests), strconv.Itoa(o.clients)
	common := []string{"-c", c, "-n", n, "-t", "set,get", "--csv"}
	targets := []target{
		{"TLS cache, from the instance", func(...string) *exec.Cmd {
			return srv.ExecCmd(ctx, inst.ID, append([]string{"redis-benchmark", "--tls", "--cacert", productCA, "-h", tlsHost, "-p", "6379"}, common...)...)
		}},
		{"TLS by hand, host loopback", func(...string) *exec.Cmd {
			return exec.CommandContext(ctx, "redis-benchmark", append([]string{"--tls", "--cacert", handCA, "-h", "127.0.0.1", "-p", strconv.Itoa(handPort)}, common...)...)
		}},
		{"plain cache, from the instance", func(...string) *exec.Cmd {
			return srv.ExecCmd(ctx, inst.ID, append([]string{"redis-benchmark", "-h", plainHost, "-p", "6379"}, common...)...)
		}},
		{"plain by hand, host loopback", func(...string) *exec.Cmd {
			return exec.CommandContext(ctx, "redis-benchmark", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(plainPort)}, common...)...)
		}},
		{"TLS by hand, the instance's loopback", func(...string) *exec.Cmd {
			return srv.ExecCmd(ctx, inst.ID, append([]string{"redis-benchmark", "--tls", "--cacert", instCA, "-h", "127.0.0.1", "-p", strconv.Itoa(instPort)}, common...)...)
		}},
		{"preferred, TLS, from the instance", func(...string) *exec.Cmd {
			return srv.ExecCmd(ctx, inst.ID, append([]string{"redis-benchmark", "--tls", "--cacert", productCA, "-h", prefHost, "-p", "6379"}, common...)...)
		}},
		{"preferred, plaintext, from the instance", func(...string) *exec.Cmd {
			return srv.ExecCmd(ctx, inst.ID, append([]string{"redis-benchmark", "-h", prefHost, "-p", "6379"}, common...)...)
		}},
	}
	res := map[string]map[string][]float64{}
	for r := range o.rounds {
		order := slices.Clone(targets)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			got, err := benchmark(t.argv())
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if res[t.name] == nil {
				res[t.name] = map[string][]float64{}
			}
			for test, rps := range got {
				res[t.name][test] = append(res[t.name][test], rps)
			}
			log.Printf("round %d %s: %v", r+1, t.name, got)
		}
	}
	report(o, res, targets)
	fmt.Printf("\nLoad average at the end: %s.\n", hostinfo.LoadAvg())
	return nil
}

func report(o options, res map[string]map[string][]float64, targets []target) {
	fmt.Printf("`redis-benchmark -c %d -n %d -t set,get --csv`, %d rounds, the order of the seven targets reversed every other round: "+
		"(1) `--tls --cacert <cachalot ca>` from inside an instance to the endpoint name of a cache.t3.micro cluster created with "+
		"TransitEncryptionEnabled (the engine's own TLS; the path crosses the instance's veth, the VPC router and nftables); "+
		"(2) the same redis-server binary started by hand with `--port 0 --tls-port P --tls-auth-clients no` on the host's "+
		"127.0.0.1, reached by `redis-benchmark --tls` on the host; for context, (3) and (4) the same without TLS: from the "+
		"instance to a cluster without TLS, and by hand on the host's loopback. Medians of requests/s; the ratios are per "+
		"round, median: (1)/(2) is the goal of issue 14 (≥ 0.9); (3)/(4) is the same path without TLS, i.e. what the "+
		"instance-to-node network path costs by itself.\n\n", o.clients, o.requests, o.rounds)
	fmt.Printf("| test | (1) %s | (2) %s | (3) %s | (4) %s | (1)/(2) | (3)/(4) |\n|---|---|---|---|---|---|---|\n", targets[0].name, targets[1].name, targets[2].name, targets[3].name)
	defer reportPreferred(res, targets)
	for _, test := range []string{"SET", "GET"} {
		r := func(i int) []float64 { return res[targets[i].name][test] }
		fmt.Printf("| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", test, median(r(0)), median(r(1)), median(r(2)), median(r(3)), ratio(r(0), r(1)), ratio(r(2), r(3)))
	}
	fmt.Printf("\nThe same TLS engine by hand inside the instance's own network namespace, client and server on its loopback "+
		"(the same identity and namespace as the cache's clients, no namespace crossing): (5) %s. The cache from the instance against it, (1)/(5):\n\n", targets[4].name)
	fmt.Printf("| test | (1) | (5) | (1)/(5) |\n|---|---|---|---|\n")
	for _, test := range []string{"SET", "GET"} {
		r := func(i int) []float64 { return res[targets[i].name][test] }
		fmt.Printf("| %s | %.0f | %.0f | %.2f |\n", test, median(r(0)), median(r(4)), ratio(r(0), r(4)))
	}
}

// createCache creates a one-node Redis OSS cluster, TLS or not, waits
// until it is available and returns its node's endpoint name.
func createCache(ctx context.Context, srv *cachalotproc.Server, id string, tls bool) (string, error) {
	_, err := srv.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(id),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), TransitEncryptionEnabled: aws.Bool(tls)})
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := srv.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			return "", err
		}
		cl := out.CacheClusters[0]
		if aws.ToString(cl.CacheClusterStatus) == "available" && len(cl.CacheNodes) > 0 && cl.CacheNodes[0].Endpoint != nil {
			if aws.ToBool(cl.TransitEncryptionEnabled) != tls {
				return "", fmt.Errorf("cluster %s: TransitEncryptionEnabled %v, want %v", id, aws.ToBool(cl.TransitEncryptionEnabled), tls)
			}
			return aws.ToString(cl.CacheNodes[0].Endpoint.Address), nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("cluster %s not available after 2 minutes", id)
}

// startByHand starts redis-server on 127.0.0.1, with TLS (a CA and a
// certificate made here) or without; it returns its port, the CA file
// and a stop.
func startByHand(ctx context.Context, dir string, tls bool) (int, string, func(), error) {
	name := "plain"
	if tls {
		name = "tls"
	}
	dir = filepath.Join(dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, "", nil, err
	}
	caFile, certFile, keyFile, err := makeCerts(dir)
	if err != nil {
		return 0, "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	if tls {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "no")
	}
	cmd := exec.CommandContext(ctx, "redis-server", args...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		return 0, "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for range 200 {
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			c.Close()
			return port, caFile, stop, nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	stop()
	return 0, "", nil, fmt.Errorf("redis-server by hand did not listen on %d", port)
}

// startInInstance starts redis-server with TLS on 127.0.0.1 inside the
// instance's network namespace (as the instance's identity: its files are
// world-readable test material), stopped by its own timeout at the latest.
func startInInstance(ctx context.Context, srv *cachalotproc.Server, inst, work string) (int, string, func(), error) {
	dir := filepath.Join(work, "instance")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, "", nil, err
	}
	caFile, certFile, keyFile, err := makeCerts(dir)
	if err != nil {
		return 0, "", nil, err
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		return 0, "", nil, err
	}
	const port = 16379
	cmd := srv.ExecCmd(ctx, inst, "timeout", "900", "redis-server", "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", "/tmp",
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "no")
	if err := cmd.Start(); err != nil {
		return 0, "", nil, err
	}
	stop := func() {
		_, _ = srv.ExecIn(context.WithoutCancel(ctx), inst, "redis-cli", "--tls", "--cacert", caFile, "-p", strconv.Itoa(port), "shutdown", "nosave")
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	for range 200 {
		out, _ := srv.ExecIn(ctx, inst, "redis-cli", "--tls", "--cacert", caFile, "-p", strconv.Itoa(port), "ping")
		if strings.Contains(string(out), "PONG") {
			return port, caFile, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return 0, "", nil, fmt.Errorf("redis-server in the instance did not answer on %d", port)
}

// makeCerts writes a CA and a certificate for 127.0.0.1 signed by it.
func makeCerts(dir string) (ca, cert, key string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tlsbench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return "", "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		return "", "", "", err
	}
	ca, cert, key = filepath.Join(dir, "hand-ca.pem"), filepath.Join(dir, "hand-cert.pem"), filepath.Join(dir, "hand-key.pem")
	for _, f := range []struct {
		path string
		typ  string
		der  []byte
		mode os.FileMode
	}{{ca, "CERTIFICATE", caDER, 0o644}, {cert, "CERTIFICATE", leafDER, 0o644}, {key, "EC PRIVATE KEY", keyDER, 0o600}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return "", "", "", err
		}
	}
	return ca, cert, key, nil
}

// benchmark runs one redis-benchmark and returns requests/s by test.
func benchmark(cmd *exec.Cmd) (map[string]float64, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %w: %s", cmd.Args, err, stderr.String())
	}
	// cachalot exec may print a note before the CSV: keep the CSV lines.
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, `"`) {
			lines = append(lines, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", out, err)
	}
	res := map[string]float64{}
	for _, r := range recs {
		if len(r) < 2 || r[0] == "test" {
			continue
		}
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			continue
		}
		res[r[0]] = v
	}
	if res["SET"] == 0 || res["GET"] == 0 {
		return nil, fmt.Errorf("no SET/GET figures in %q", out)
	}
	return res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// ratio is the median of the per-round ratios a[i]/b[i].
func ratio(a, b []float64) float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		rs = append(rs, a[i]/b[i])
	}
	return median(rs)
}

// reportPreferred is the figure of TransitEncryptionMode preferred: a
// group created without TLS and moved to preferred (the first of the two
// steps), whose cache port a front in the node's namespace splits between
// the engine's TLS and plaintext listeners, against the caches with the
// engine alone on the port: TLS through the front (6) vs TLS required
// (1), plaintext through the front (7) vs no TLS (3), same run, same
// path from the instance.
func reportPreferred(res map[string]map[string][]float64, targets []target) {
	fmt.Printf("\n## TransitEncryptionMode preferred: the cost of the front\n\n"+
		"A one-node replication group created without TLS, then modified to TransitEncryptionEnabled with "+
		"TransitEncryptionMode preferred: its engine listens on two ports of its own and a front in the node's "+
		"network namespace (the daemon, splice(2) between the sockets, no TLS termination) hands each connection "+
		"on the cache port to one or the other by its first byte. (6) %s and (7) %s, to its `master.` name on the "+
		"cache port, against (1) and (3): the engine alone on the port, TLS required and no TLS, from the same "+
		"instance in the same rounds. Goal ≥ 0.9.\n\n", targets[5].name, targets[6].name)
	fmt.Printf("| test | (6) preferred, TLS | (1) required, TLS | (6)/(1) | (7) preferred, plaintext | (3) no TLS, plaintext | (7)/(3) |\n|---|---|---|---|---|---|---|\n")
	for _, test := range []string{"SET", "GET"} {
		r := func(i int) []float64 { return res[targets[i].name][test] }
		fmt.Printf("| %s | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n", test, median(r(5)), median(r(0)), ratio(r(5), r(0)), median(r(6)), median(r(2)), ratio(r(6), r(2)))
	}
}

// createPreferredGroup creates a one-node Redis OSS replication group
// without TLS, moves it to TransitEncryptionMode preferred (enabling
// in-transit encryption on an existing group, first step) and returns its
// primary endpoint's name.
func createPreferredGroup(ctx context.Context, srv *cachalotproc.Server, id string) (string, error) {
	_, err := srv.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
		ReplicationGroupDescription: aws.String("preferred bench"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(1)})
	if err != nil {
		return "", err
	}
	wait := func(mode string) (string, error) {
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			out, err := srv.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
			if err != nil {
				return "", err
			}
			g := out.ReplicationGroups[0]
			if aws.ToString(g.Status) == "available" && string(g.TransitEncryptionMode) == mode && len(g.NodeGroups) > 0 && g.NodeGroups[0].PrimaryEndpoint != nil {
				return aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return "", fmt.Errorf("group %s not available in mode %q after 2 minutes", id, mode)
	}
	if _, err := wait(""); err != nil {
		return "", err
	}
	if _, err := srv.EC.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(id), ApplyImmediately: aws.Bool(true),
		TransitEncryptionEnabled: aws.Bool(true), TransitEncryptionMode: "preferred"}); err != nil {
		return "", err
	}
	return wait("preferred")
}
