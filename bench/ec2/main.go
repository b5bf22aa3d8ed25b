// Command ec2 loads the same EC2 data into two endpoints — Cachalot and
// moto_server — and measures DescribeSecurityGroups and DescribeInstances
// (filtered and unfiltered) through aws-sdk-go-v2 against both, printing a
// Markdown report: requests/s, p50 and p99 per query, and the ratio.
//
// Every endpoint is on loopback; every loop is bounded (by -duration and
// -max-requests). Usage:
//
//	moto_server -p 5001 &
//	eval "$(go run ./cmd/cachalot env --data-dir DIR)"   # with `cachalot serve --listen 127.0.0.1:4566 --data-dir DIR` running
//	go run ./bench/ec2 -cachalot "$AWS_ENDPOINT_URL" -moto http://127.0.0.1:5001 > internal/ec2/BENCH.md
//
// -cachalot inprocess serves internal/ec2 through the real wire layer
// (internal/endpoint: SigV4, ec2Query codec) on a loopback port inside this
// process, for when the app does not wire EC2 yet.
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/store"
)

type target struct {
	name   string
	client *awsec2.Client
	raw    *awsec2.Client // reads response bodies without parsing them
	// filled by load
	groups    []string
	instances []string
	ips       []string
}

type query struct {
	name string
	call func(ctx context.Context, t *target, i int) (int, error) // returns items returned
}

// runOptions bound the measurements.
type runOptions struct {
	duration time.Duration // measuring time per query and endpoint
	maxReq   int           // request cap per query and endpoint
	conc     int           // concurrent clients
	repeat   int           // runs per query and endpoint; the median is reported
}

// result is one query's figures on one endpoint.
type result struct {
	rps         float64
	p50, p99    time.Duration
	items, reqs int
}

func main() {
	cachalotURL := flag.String("cachalot", os.Getenv("AWS_ENDPOINT_URL"), "Cachalot endpoint URL, or \"inprocess\"")
	motoURL := flag.String("moto", "", "moto_server endpoint URL (empty: Cachalot only)")
	groups := flag.Int("groups", 1000, "security groups to create")
	rules := flag.Int("rules", 50, "ingress rules per group")
	instances := flag.Int("instances", 5000, "instances to launch")
	var o runOptions
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measuring time per query and endpoint")
	flag.IntVar(&o.maxReq, "max-requests", 100000, "request cap per query and endpoint")
	flag.IntVar(&o.conc, "concurrency", 4, "concurrent clients")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (client and, in-process, server)")
	serve := flag.String("serve", "", "serve internal/ec2 through internal/endpoint on this loopback address and print its environment (no benchmark)")
	flag.IntVar(&o.repeat, "repeat", 3, "runs per query and endpoint; the median by requests/s is reported (a run longer than 30s is not repeated)")
	modes := flag.String("modes", "raw,sdk", "comma-separated: raw (response body read, not parsed), sdk (parsed by aws-sdk-go-v2)")
	flag.Parse()
	if *serve != "" {
		serveUntilSignal(*serve)
		return
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	log.SetFlags(0)
	ctx := context.Background()

	targets, stop := newTargets(*cachalotURL, *motoURL)
	defer stop()
	loadTimes := map[string]time.Duration{}
	for _, t := range targets {
		start := time.Now()
		if err := load(ctx, t, *groups, *rules, *instances); err != nil {
			log.Fatalf("load %s: %v", t.name, err)
		}
		loadTimes[t.name] = time.Since(start)
		log.Printf("loaded %s in %s", t.name, loadTimes[t.name].Round(time.Millisecond))
	}
	names, results := measureAll(ctx, targets, strings.Split(*modes, ","), o)
	printReport(targets, names, results)
	fmt.Printf("\nLoad (%d groups × %d rules, %d instances): ", *groups, *rules, *instances)
	for _, t := range targets {
		fmt.Printf("%s %s; ", t.name, loadTimes[t.name].Round(time.Millisecond))
	}
	fmt.Println()
}

// serveUntilSignal serves internal/ec2 in-process on addr and prints its
// environment, until SIGINT or SIGTERM.
func serveUntilSignal(addr string) {
	mustLoopback("http://" + addr)
	u, key, stop := serveInProcess(addr)
	fmt.Printf("export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_ENDPOINT_URL=%s\n", key.AccessKeyID, key.SecretAccessKey, u)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	stop()
}

// newTargets returns the endpoints to measure (Cachalot, and moto_server
// when motoURL is set) and what stops an in-process Cachalot.
func newTargets(cachalotURL, motoURL string) ([]*target, func()) {
	var targets []*target
	stop := func() {}
	switch cachalotURL {
	case "":
		log.Fatal("-cachalot is required (or AWS_ENDPOINT_URL)")
	case "inprocess":
		var u string
		var key account.Credentials
		u, key, stop = serveInProcess("127.0.0.1:0")
		targets = append(targets, &target{name: "cachalot (in-process wire)", client: newClient(u, key.AccessKeyID, key.SecretAccessKey), raw: newClient(u, key.AccessKeyID, key.SecretAccessKey, discardBody)})
	default:
		mustLoopback(cachalotURL)
		k, sk := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		targets = append(targets, &target{name: "cachalot", client: newClient(cachalotURL, k, sk), raw: newClient(cachalotURL, k, sk, discardBody)})
	}
	if motoURL != "" {
		mustLoopback(motoURL)
		targets = append(targets, &target{name: "moto_server", client: newClient(motoURL, "testing", "testing"), raw: newClient(motoURL, "testing", "testing", discardBody)})
	}
	return targets, stop
}

// benchQueries are the measured queries.
func benchQueries() []query {
	return []query{
		{"DescribeSecurityGroups, unfiltered (all groups)", func(ctx context.Context, t *target, i int) (int, error) {
			out, err := t.client.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{})
			return n(out, err, func() int { return len(out.SecurityGroups) })
		}},
		{"DescribeSecurityGroups, filter group-name (1 group)", func(ctx context.Context, t *target, i int) (int, error) {
			out, err := t.client.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
				{Name: aws.String("group-name"), Values: []string{fmt.Sprintf("bench-%04d", i%len(t.groups))}}}})
			return n(out, err, func() int { return len(out.SecurityGroups) })
		}},
		{"DescribeSecurityGroups, group id (1 group)", func(ctx context.Context, t *target, i int) (int, error) {
			out, err := t.client.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{GroupIds: []string{t.groups[i%len(t.groups)]}})
			return n(out, err, func() int { return len(out.SecurityGroups) })
		}},
		{"DescribeInstances, unfiltered (all instances)", func(ctx context.Context, t *target, i int) (int, error) {
			out, err := t.client.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{})
			return n(out, err, func() int { return countInstances(out.Reservations) })
		}},
		{"DescribeInstances, filter private-ip-address (1 instance)", func(ctx context.Context, t *target, i int) (int, error) {
			out, err := t.client.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{Filters: []ec2types.Filter{
				{Name: aws.String("private-ip-address"), Values: []string{t.ips[i%len(t.ips)]}}}})
			return n(out, err, func() int { return countInstances(out.Reservations) })
		}},
		{"DescribeInstances, filter instance.group-id (1 group, 100 instances)", func(ctx context.Context, t *target, i int) (int, error) {
			out, err := t.client.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{Filters: []ec2types.Filter{
				{Name: aws.String("instance.group-id"), Values: []string{t.groups[i%len(t.groups)]}}}})
			return n(out, err, func() int { return countInstances(out.Reservations) })
		}},
	}
}

// measureAll measures every query in every mode on every target; it returns
// the names "query [mode]" in order and results[name][target].
func measureAll(ctx context.Context, targets []*target, modes []string, o runOptions) ([]string, map[string]map[string]result) {
	results := map[string]map[string]result{}
	var names []string
	for _, mode := range modes {
		for _, q := range benchQueries() {
			name := q.name + " [" + mode + "]"
			names = append(names, name)
			results[name] = map[string]result{}
			for _, t := range targets {
				c := t.client
				if mode == "raw" {
					c = t.raw
				}
				items, err := q.call(ctx, t, 0) // counted with the parsing client
				if err != nil {
					log.Fatalf("%s on %s: %v", q.name, t.name, err)
				}
				r := measureMedian(ctx, &target{name: t.name, client: c, groups: t.groups, instances: t.instances, ips: t.ips}, q, items, o)
				results[name][t.name] = r
				log.Printf("%-66s %-28s %9.1f req/s  p50 %-10s p99 %-10s (%d requests, %d items/request)", name, t.name, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.reqs, items)
			}
		}
	}
	return names, results
}

// measureMedian runs q on t o.repeat times (once if a run lasts over 30s)
// and returns the run with the median requests/s.
func measureMedian(ctx context.Context, t *target, q query, items int, o runOptions) result {
	var runs []result
	for k := 0; k < max(1, o.repeat); k++ {
		lat, _, elapsed, err := measure(ctx, t, q, o.duration, o.maxReq, o.conc)
		if err != nil {
			log.Fatalf("%s on %s: %v", q.name, t.name, err)
		}
		slices.Sort(lat)
		runs = append(runs, result{rps: float64(len(lat)) / elapsed.Seconds(), p50: lat[len(lat)/2], p99: lat[min(len(lat)-1, len(lat)*99/100)], items: items, reqs: len(lat)})
		if elapsed > 30*time.Second {
			break
		}
	}
	slices.SortFunc(runs, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	return runs[len(runs)/2]
}

// printReport prints the figures per query and endpoint and, with two
// endpoints, their ratios.
func printReport(targets []*target, names []string, results map[string]map[string]result) {
	fmt.Printf("| query | endpoint | requests/s | p50 | p99 | items/response | requests |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, q := range names {
		for _, t := range targets {
			r := results[q][t.name]
			fmt.Printf("| %s | %s | %.1f | %s | %s | %d | %d |\n", q, t.name, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.items, r.reqs)
		}
	}
	if len(targets) == 2 {
		fmt.Printf("\n| query | Cachalot / moto requests/s | moto p99 / Cachalot p99 |\n|---|---:|---:|\n")
		for _, q := range names {
			a, b := results[q][targets[0].name], results[q][targets[1].name]
			fmt.Printf("| %s | %.1f× | %.1f× |\n", q, a.rps/b.rps, float64(b.p99)/float64(a.p99))
		}
	}
}

func n[T any](out *T, err error, f func() int) (int, error) {
	if err != nil {
		return 0, err
	}
	return f(), nil
}

func countInstances(rs []ec2types.Reservation) int {
	c := 0
	for _, r := range rs {
		c += len(r.Instances)
	}
	return c
}

func mustLoopback(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		log.Fatalf("bad URL %q: %v", raw, err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("refusing non-loopback endpoint %s", raw)
	}
}

// discardBody reads a successful response's body completely and hands the
// SDK an empty one, so that the measure is the server's (and the transfer's),
// not the SDK's XML parsing.
func discardBody(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("DiscardBody", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		if err != nil {
			return out, md, err
		}
		resp, ok := out.RawResponse.(*smithyhttp.Response)
		if !ok {
			return out, md, nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return out, md, err
		}
		if resp.StatusCode == http.StatusOK {
			b = nil
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return out, md, nil
	}), middleware.After)
}

func newClient(u, key, secret string, apiOptions ...func(*middleware.Stack) error) *awsec2.Client {
	return awsec2.NewFromConfig(aws.Config{
		APIOptions:   apiOptions,
		Region:       "us-east-1",
		BaseEndpoint: aws.String(u),
		Credentials:  credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}},
		// Go's HTTP client very rarely fails a keep-alive request with "use of
		// closed network connection"; the SDK's standard retry absorbs it (the
		// latency of a retried request includes the retry).
		RetryMaxAttempts: 3,
		HTTPClient:       &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute},
	})
}

type allowAll struct{}

func (allowAll) Authorize(context.Context, auth.Request) error { return nil }

func serveInProcess(addr string) (string, account.Credentials, func()) {
	dir, err := os.MkdirTemp("", "cachalot-bench-ec2-")
	if err != nil {
		log.Fatal(err)
	}
	st, err := store.OpenBolt(filepath.Join(dir, "state.db"))
	if err != nil {
		log.Fatal(err)
	}
	accts := account.New(st)
	creds, err := account.NewCredentials()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := accts.Ensure(context.Background(), "000000000000", creds); err != nil {
		log.Fatal(err)
	}
	h := endpoint.New(endpoint.Config{Keys: accts, Authorizer: allowAll{}, Services: []endpoint.Binding{
		{Service: ec2api.Metadata, Operations: ec2api.OperationTable(ec2.New(st, ec2.Config{Accounts: accts}))}}})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), creds, func() {
		srv.Close()
		st.Close()
		os.RemoveAll(dir)
	}
}

// load creates the groups (each with its ingress rules, in one call) and
// launches the instances in batches of 100 over the default subnets, each
// batch in one group and the default group.
func load(ctx context.Context, t *target, groups, rules, instances int) error {
	c := t.client
	vpcs, err := c.DescribeVpcs(ctx, &awsec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	if err != nil {
		return err
	}
	if len(vpcs.Vpcs) == 0 {
		return fmt.Errorf("no default VPC")
	}
	vpc := *vpcs.Vpcs[0].VpcId
	subnets, err := c.DescribeSubnets(ctx, &awsec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil {
		return err
	}
	var subnetIDs []string
	for _, s := range subnets.Subnets {
		subnetIDs = append(subnetIDs, *s.SubnetId)
	}
	slices.Sort(subnetIDs)
	var mu sync.Mutex
	t.groups = make([]string, groups)
	// One request at a time: moto_server is not safe under concurrent writes
	// ("dictionary changed size during iteration"), and it keeps the load
	// times comparable.
	err = parallel(groups, 1, func(i int) error {
		name := fmt.Sprintf("bench-%04d", i)
		out, err := c.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(name),
			Description: aws.String("bench group"), VpcId: aws.String(vpc)})
		if hasCode(err, "InvalidGroup.Duplicate") {
			// A retried create whose first attempt succeeded.
			got, derr := c.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
				{Name: aws.String("group-name"), Values: []string{name}}, {Name: aws.String("vpc-id"), Values: []string{vpc}}}})
			if derr != nil || len(got.SecurityGroups) != 1 {
				return fmt.Errorf("create %s: %w (lookup: %v)", name, err, derr)
			}
			out, err = &awsec2.CreateSecurityGroupOutput{GroupId: got.SecurityGroups[0].GroupId}, nil
		}
		if err != nil {
			return err
		}
		var perms []ec2types.IpPermission
		for k := range rules {
			p := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(1000 + k)), ToPort: aws.Int32(int32(1000 + k))}
			if k%5 == 0 && i > 0 {
				p.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: out.GroupId}}
			} else {
				p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(fmt.Sprintf("10.%d.%d.0/24", i%250, k))}}
			}
			perms = append(perms, p)
		}
		if _, err := c.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: out.GroupId, IpPermissions: perms}); err != nil && !hasCode(err, "InvalidPermission.Duplicate") {
			return err
		}
		mu.Lock()
		t.groups[i] = *out.GroupId
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	batches := (instances + 99) / 100
	err = parallel(batches, 1, func(b int) error {
		count := min(100, instances-b*100)
		out, err := c.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
			ClientToken: aws.String(fmt.Sprintf("bench-batch-%d", b)), // a retry must not launch twice
			MinCount:    aws.Int32(int32(count)), MaxCount: aws.Int32(int32(count)), SubnetId: aws.String(subnetIDs[b%len(subnetIDs)]),
			SecurityGroupIds:  []string{t.groups[(b*7)%groups]},
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("batch"), Value: aws.String(fmt.Sprint(b))}}}}})
		if err != nil {
			return err
		}
		mu.Lock()
		for _, i := range out.Instances {
			t.instances = append(t.instances, *i.InstanceId)
			t.ips = append(t.ips, *i.PrivateIpAddress)
		}
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	// instance.group-id queries hit groups that have instances: spread them.
	var used []string
	for b := range batches {
		used = append(used, t.groups[(b*7)%groups])
	}
	slices.Sort(used)
	t.groups = slices.Compact(used)
	return nil
}

func hasCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

func parallel(n, workers int, f func(i int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return <-errs
}

// measure runs q with conc clients until duration or maxReq, after a short warm-up.
func measure(ctx context.Context, t *target, q query, duration time.Duration, maxReq, conc int) ([]time.Duration, int, time.Duration, error) {
	items, err := q.call(ctx, t, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i += conc {
				mu.Lock()
				stop := len(lat) >= maxReq || firstErr != nil
				mu.Unlock()
				if stop || time.Now().After(deadline) {
					return
				}
				t0 := time.Now()
				_, err := q.call(ctx, t, i)
				d := time.Since(t0)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, 0, 0, firstErr
	}
	return lat, items, time.Since(start), nil
}
