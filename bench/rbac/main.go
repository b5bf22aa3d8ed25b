// Command rbac measures issue 14's RBAC figure through the real product:
// a user change (ModifyUser with a new password) → the change enforced on
// every member of a replication group. It starts `cachalot serve` (as
// root, namespaces network mode) with a fresh data dir, launches one EC2
// instance, creates a TLS replication group of -members clusters with a
// user group, and re-executes itself inside the instance's network
// namespace as a prober that holds one TLS connection per member (the
// installation's CA) and sends AUTH <user> <new password> on each every
// millisecond until all accept it. Each iteration: the time from just
// before the ModifyUser call to the last member accepting (the figure),
// and the ModifyUser call itself. It prints a Markdown report on stdout
// and progress on stderr; everything started is removed on exit.
// Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/rbac [-iterations 100] [-members 3] > bench/rbac/RESULTS.md
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin        string
	iterations int
	members    int
	keep       bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-probe" {
		os.Exit(probeMain())
	}
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.iterations, "iterations", 100, "ModifyUser password changes measured")
	flag.IntVar(&o.members, "members", 3, "clusters in the replication group")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.Parse()
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

const user = "bench"

func password(i int) string { return fmt.Sprintf("bench-password-%06d", i) }

func run(ctx context.Context, o options) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("# RBAC through the product: user change → enforced on every member (issue 14)\n\n")
	fmt.Printf("Generated %s on %s, %d CPUs shared with other work, load %s, by:\n\n", time.Now().UTC().Format(time.RFC3339), hostinfo.Describe(), hostinfo.CPUs(), hostinfo.LoadAvg())
	fmt.Printf("    go build -o bin/cachalot ./cmd/cachalot && go run ./bench/rbac %s\n\n", strings.Join(os.Args[1:], " "))
	b, err := cachalotproc.StartBench(ctx, o.bin, cachalotproc.Options{
		DirPrefix: "cachalot-rbacbench-", Key: "AKIARBACBENCHBENCHBN", Secret: "rbacbench-secret", LogLevel: "warn",
	}, o.keep)
	if err != nil {
		return err
	}
	defer b.Close()
	srv, inst, ca := b.Server, b.Inst, b.CA
	hosts, err := createGroup(ctx, srv, o.members)
	if err != nil {
		return err
	}
	pr, err := srv.StartLineChild(ctx, inst.ID, self, "-probe", 10*time.Second, 1, 0)
	if err != nil {
		return err
	}
	defer pr.Close()
	log.Printf("group members %v; prober ready", hosts)

	var enforced, api []float64
	for i := 1; i <= o.iterations; i++ {
		t0 := time.Now()
		if _, err := srv.EC.ModifyUser(ctx, &elasticache.ModifyUserInput{UserId: aws.String(user), Passwords: []string{password(i)}}); err != nil {
			return fmt.Errorf("ModifyUser %d: %w", i, err)
		}
		api = append(api, ms(time.Since(t0)))
		line, err := pr.Ask(time.Minute, "%s %s %s %s", ca, user, password(i), strings.Join(hosts, " "))
		if err != nil {
			return fmt.Errorf("iteration %d: prober: %w", i, err)
		}
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "ok" {
			return fmt.Errorf("iteration %d: prober: %s", i, line)
		}
		var last int64
		for _, x := range f[1:] {
			n, _ := strconv.ParseInt(x, 10, 64)
			last = max(last, n)
		}
		enforced = append(enforced, ms(time.Unix(0, last).Sub(t0)))
		if err := waitActive(ctx, srv); err != nil {
			return err
		}
		if i%10 == 0 {
			log.Printf("%d/%d: last %.1f ms", i, o.iterations, enforced[len(enforced)-1])
		}
	}
	fmt.Printf("A replication group of %d cache.t3.micro Redis OSS clusters (redis-server %s) with TransitEncryptionEnabled and a user group "+
		"(default user off, user %q `on ~* +@all` with a password). %d iterations: `ModifyUser` gives %q a new password; a prober inside an "+
		"EC2 instance's network namespace holds one TLS connection per member (verified with the installation's CA) and sends "+
		"`AUTH %s <new password>` on each every millisecond until all accept it. *Enforced* is from just before the ModifyUser call "+
		"to the last member accepting (the API's transaction, the cache controller's reconcile, ACL SETUSER on each member over its admin "+
		"connection); between iterations the bench waits for the user group to be active again. Times in ms.\n\n",
		o.members, redisVersion(), user, o.iterations, user, user)
	fmt.Printf("| figure | p50 | p90 | p99 | max |\n|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		v    []float64
	}{{"ModifyUser → new password accepted on every member", enforced}, {"ModifyUser API call alone", api}} {
		fmt.Printf("| %s | %.1f | %.1f | %.1f | %.1f |\n", r.name, pct(r.v, 50), pct(r.v, 90), pct(r.v, 99), pct(r.v, 100))
	}
	fmt.Printf("\nLoad average at the end: %s.\n", hostinfo.LoadAvg())
	return nil
}

// createGroup creates the user, the user group and the group, and returns
// the members' endpoint names once it is available.
func createGroup(ctx context.Context, srv *cachalotproc.Server, members int) ([]string, error) {
	if _, err := srv.EC.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String("bench-default"), UserName: aws.String("default"),
		Engine: aws.String("redis"), AccessString: aws.String("off"), NoPasswordRequired: aws.Bool(true)}); err != nil {
		return nil, err
	}
	if _, err := srv.EC.CreateUser(ctx, &elasticache.CreateUserInput{UserId: aws.String(user), UserName: aws.String(user),
		Engine: aws.String("redis"), AccessString: aws.String("on ~* +@all"), Passwords: []string{password(0)}}); err != nil {
		return nil, err
	}
	if _, err := srv.EC.CreateUserGroup(ctx, &elasticache.CreateUserGroupInput{UserGroupId: aws.String("bench"), Engine: aws.String("redis"),
		UserIds: []string{"bench-default", user}}); err != nil {
		return nil, err
	}
	if _, err := srv.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("rbacbench"),
		ReplicationGroupDescription: aws.String("rbac bench"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(int32(members)), TransitEncryptionEnabled: aws.Bool(true), UserGroupIds: []string{"bench"}}); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := srv.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("rbacbench")})
		if err != nil {
			return nil, err
		}
		g := out.ReplicationGroups[0]
		if aws.ToString(g.Status) == "available" {
			var hosts []string
			for _, m := range g.NodeGroups[0].NodeGroupMembers {
				hosts = append(hosts, aws.ToString(m.ReadEndpoint.Address))
			}
			return hosts, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("replication group not available after 3 minutes")
}

// waitActive waits until the user group is active (every member took the
// change, as the API reports it).
func waitActive(ctx context.Context, srv *cachalotproc.Server) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := srv.EC.DescribeUserGroups(ctx, &elasticache.DescribeUserGroupsInput{UserGroupId: aws.String("bench")})
		if err != nil {
			return err
		}
		if aws.ToString(out.UserGroups[0].Status) == "active" {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("user group not active after a minute")
}

// probeMain is the prober, inside the instance's network namespace. A
// request is "CA USER PASSWORD HOST…"; the answer "ok NS…" gives, per
// host, the Unix time in ns at which AUTH USER PASSWORD was accepted, or
// "fail REASON" after 30 s.
func probeMain() int {
	in, ok := cachalotproc.ChildReady("prober")
	if !ok {
		return 2
	}
	conns := map[string]*probeConn{}
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) < 4 {
			fmt.Println("fail bad request")
			continue
		}
		ca, usr, pw, hosts := f[0], f[1], f[2], f[3:]
		at := make([]int64, len(hosts))
		errs := make([]error, len(hosts))
		var wg sync.WaitGroup
		for i, h := range hosts {
			c := conns[h]
			if c == nil {
				c = &probeConn{host: h, ca: ca}
				conns[h] = c
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				at[i], errs[i] = c.until(usr, pw)
			}()
		}
		wg.Wait()
		if err := firstErr(errs); err != nil {
			fmt.Printf("fail %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		var s []string
		for _, a := range at {
			s = append(s, strconv.FormatInt(a, 10))
		}
		fmt.Printf("ok %s\n", strings.Join(s, " "))
	}
	return 0
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// probeConn is a TLS connection to one member, redialled when it breaks.
type probeConn struct {
	host, ca string
	c        *tls.Conn
	r        *bufio.Reader
}

func (p *probeConn) dial() error {
	pem, err := os.ReadFile(p.ca)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", net.JoinHostPort(p.host, "6379"), &tls.Config{RootCAs: pool, ServerName: p.host})
	if err != nil {
		return err
	}
	p.c, p.r = c, bufio.NewReader(c)
	return nil
}

// until sends AUTH every millisecond until it is accepted and returns
// when (Unix ns).
func (p *probeConn) until(usr, pw string) (int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if p.c == nil {
			if last = p.dial(); last != nil {
				time.Sleep(time.Millisecond)
				continue
			}
		}
		p.c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintf(p.c, "*3\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(usr), usr, len(pw), pw)
		line, err := p.r.ReadString('\n')
		if err != nil {
			p.c.Close()
			p.c, last = nil, err
			continue
		}
		if strings.HasPrefix(line, "+OK") {
			return time.Now().UnixNano(), nil
		}
		last = fmt.Errorf("%s: %s", p.host, strings.TrimSpace(line))
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("%s: not accepted after 30 s: %v", p.host, last)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct is the p-th percentile (nearest rank) of v.
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func redisVersion() string {
	b, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "?"
	}
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return "?"
}
