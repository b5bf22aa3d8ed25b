package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/smithy-go"
	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

// The control plane under load (-control N): N aws-sdk-go-v2 clients, each
// with its own HTTP client and connection, call serve back to back for
// -control-duration, alternating a read and a write, while -control-clusters
// single-node Redis clusters are created at the start and then rebooted
// again and again as soon as each is available, so that the reconcilers
// (cache controller, network controller, engine supervisor) work all along.
//
// Reads are picked at random among DescribeCacheClusters (all, and one with
// its nodes), DescribeSecurityGroups, DescribeCacheParameterGroups and
// DescribeInstances. Writes are each client's own cycle, on resources no
// other client touches: a security group created, tagged, untagged and
// deleted (CreateSecurityGroup, CreateTags, DeleteTags,
// DeleteSecurityGroup), or for one client in four (the account may hold 150
// parameter groups) a parameter group created, modified and deleted
// (CreateCacheParameterGroup, ModifyCacheParameterGroup,
// DeleteCacheParameterGroup). The SDK does not retry (RetryMaxAttempts 1):
// every error is counted, by its code.

type controlOptions struct {
	clients    int
	duration   time.Duration
	clusters   int
	writesOnly bool
}

// sample is one call's outcome.
type sample struct {
	op    string
	write bool
	lat   time.Duration
	code  string // "" on success
}

// controlClient is one client's SDK clients and write cycle.
type controlClient struct {
	n        int
	EC       *elasticache.Client
	EC2      *awsec2.Client
	family   string
	vpc      string
	clusters []string
	rng      *rand.Rand

	step  int    // next write of the cycle
	cycle int    // cycles started
	res   string // the cycle's resource (group id or parameter group name)
	out   []sample
}

func controlPlane(ctx context.Context, s *cachalotproc.Server, o controlOptions) error {
	fmt.Printf("## Control plane under load\n\n")
	fmt.Printf("%d aws-sdk-go-v2 clients (each its own HTTP client and connection, no SDK retries), for %v, each alternating a read "+
		"(DescribeCacheClusters all or one with its nodes, DescribeSecurityGroups, DescribeCacheParameterGroups, DescribeInstances, at random) "+
		"and the next write of its own cycle (security group: create, tag, untag, delete; one client in four: parameter group: create, modify, delete), "+
		"while %d single-node Redis clusters are created at the start and each rebooted again as soon as it is available.\n\n",
		o.clients, o.duration, o.clusters)
	if o.writesOnly {
		fmt.Printf("Writes only (-control-writes-only): every call is the next write of the client's cycle.\n\n")
	}
	family, vpc, err := controlSetup(ctx, s)
	if err != nil {
		return err
	}
	var clusters []string
	for i := range o.clusters {
		id := fmt.Sprintf("ctl-%02d", i)
		if _, err := s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(id),
			Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
			return fmt.Errorf("create %s: %w", id, err)
		}
		clusters = append(clusters, id)
	}
	clients := make([]*controlClient, o.clients)
	for i := range clients {
		clients[i] = newControlClient(s, i, family, vpc, clusters)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var churn churnStats
	var churnDone sync.WaitGroup
	churnDone.Go(func() { churnClusters(runCtx, s, clusters, &churn) })
	loadBefore := hostinfo.LoadAvg()
	start := time.Now()
	end := start.Add(o.duration)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c.loop(runCtx, end, o.writesOnly) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	churnDone.Wait()
	var all []sample
	for _, c := range clients {
		all = append(all, c.out...)
	}
	reportControl(all, elapsed, &churn, loadBefore)
	// Leave the installation as it was for the modes after this one.
	for _, id := range clusters {
		_, _ = s.EC.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)})
	}
	return nil
}

// controlSetup returns the default parameter group family of the
// installed Redis and the default VPC.
func controlSetup(ctx context.Context, s *cachalotproc.Server) (family, vpc string, err error) {
	pgs, err := s.EC.DescribeCacheParameterGroups(ctx, &elasticache.DescribeCacheParameterGroupsInput{})
	if err != nil {
		return "", "", fmt.Errorf("describe parameter groups: %w", err)
	}
	for _, g := range pgs.CacheParameterGroups {
		if f := aws.ToString(g.CacheParameterGroupFamily); strings.HasPrefix(f, "redis") && f > family {
			family = f
		}
	}
	if family == "" {
		return "", "", errors.New("no redis parameter group family")
	}
	vpcs, err := s.EC2.DescribeVpcs(ctx, &awsec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		return "", "", fmt.Errorf("default VPC: %v (%d)", err, len(vpcs.Vpcs))
	}
	return family, aws.ToString(vpcs.Vpcs[0].VpcId), nil
}

func newControlClient(s *cachalotproc.Server, n int, family, vpc string, clusters []string) *controlClient {
	// An HTTP client (and so connections) of its own, as n separate
	// programs would have.
	hc := awshttp.NewBuildableClient()
	cfg := aws.Config{
		Region: cachalotproc.Region, BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1, HTTPClient: hc,
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: s.Key, SecretAccessKey: s.Secret}},
	}
	return &controlClient{n: n, EC: elasticache.NewFromConfig(cfg), EC2: awsec2.NewFromConfig(cfg),
		family: family, vpc: vpc, clusters: clusters, rng: rand.New(rand.NewPCG(uint64(n), 7))}
}

func (c *controlClient) loop(ctx context.Context, end time.Time, writesOnly bool) {
	for time.Now().Before(end) && ctx.Err() == nil {
		if !writesOnly {
			c.record(c.read(ctx))
		}
		if time.Now().After(end) {
			return
		}
		c.record(c.write(ctx))
	}
}

func (c *controlClient) record(op string, write bool, lat time.Duration, err error) {
	c.out = append(c.out, sample{op: op, write: write, lat: lat, code: errCode(err)})
}

// errCode is an API error's code, or a description of a transport error.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "(client: " + err.Error() + ")"
	case errors.As(err, &ne):
		return "(transport: " + ne.Error() + ")"
	}
	return "(other: " + err.Error() + ")"
}

func timed(f func() error) (time.Duration, error) {
	t := time.Now()
	err := f()
	return time.Since(t), err
}

func (c *controlClient) read(ctx context.Context) (string, bool, time.Duration, error) {
	n := c.rng.IntN(5)
	if n == 1 && len(c.clusters) == 0 {
		n = 0
	}
	switch n {
	case 0:
		d, err := timed(func() error {
			_, err := c.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
			return err
		})
		return "DescribeCacheClusters (all)", false, d, err
	case 1:
		id := c.clusters[c.rng.IntN(len(c.clusters))]
		d, err := timed(func() error {
			_, err := c.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
			return err
		})
		return "DescribeCacheClusters (one, nodes)", false, d, err
	case 2:
		d, err := timed(func() error {
			_, err := c.EC2.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{})
			return err
		})
		return "DescribeSecurityGroups", false, d, err
	case 3:
		d, err := timed(func() error {
			_, err := c.EC.DescribeCacheParameterGroups(ctx, &elasticache.DescribeCacheParameterGroupsInput{})
			return err
		})
		return "DescribeCacheParameterGroups", false, d, err
	default:
		d, err := timed(func() error {
			_, err := c.EC2.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{})
			return err
		})
		return "DescribeInstances", false, d, err
	}
}

// write makes the next call of the client's cycle. A failed create is
// tried again; a failed later step moves on (the delete at the end
// removes what is there).
func (c *controlClient) write(ctx context.Context) (string, bool, time.Duration, error) {
	if c.n%4 == 0 {
		return c.writeParameterGroup(ctx)
	}
	var op string
	var d time.Duration
	var err error
	switch c.step {
	case 0:
		op = "CreateSecurityGroup"
		name := fmt.Sprintf("ctl-c%03d-%d", c.n, c.cycle)
		var out *awsec2.CreateSecurityGroupOutput
		d, err = timed(func() error {
			var err error
			out, err = c.EC2.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("control-plane bench"), VpcId: aws.String(c.vpc)})
			return err
		})
		if err != nil {
			return op, true, d, err
		}
		c.res = aws.ToString(out.GroupId)
		c.cycle++
	case 1:
		op = "CreateTags"
		d, err = timed(func() error {
			_, err := c.EC2.CreateTags(ctx, &awsec2.CreateTagsInput{Resources: []string{c.res}, Tags: []ec2types.Tag{{Key: aws.String("bench"), Value: aws.String("control")}}})
			return err
		})
	case 2:
		op = "DeleteTags"
		d, err = timed(func() error {
			_, err := c.EC2.DeleteTags(ctx, &awsec2.DeleteTagsInput{Resources: []string{c.res}, Tags: []ec2types.Tag{{Key: aws.String("bench")}}})
			return err
		})
	case 3:
		op = "DeleteSecurityGroup"
		d, err = timed(func() error {
			_, err := c.EC2.DeleteSecurityGroup(ctx, &awsec2.DeleteSecurityGroupInput{GroupId: aws.String(c.res)})
			return err
		})
	}
	c.step = (c.step + 1) % 4
	return op, true, d, err
}

func (c *controlClient) writeParameterGroup(ctx context.Context) (string, bool, time.Duration, error) {
	var op string
	var d time.Duration
	var err error
	switch c.step {
	case 0:
		op = "CreateCacheParameterGroup"
		name := fmt.Sprintf("ctl-pg-c%03d-%d", c.n, c.cycle)
		d, err = timed(func() error {
			_, err := c.EC.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String(name),
				CacheParameterGroupFamily: aws.String(c.family), Description: aws.String("control-plane bench")})
			return err
		})
		if err != nil {
			return op, true, d, err
		}
		c.res = name
		c.cycle++
	case 1:
		op = "ModifyCacheParameterGroup"
		d, err = timed(func() error {
			_, err := c.EC.ModifyCacheParameterGroup(ctx, &elasticache.ModifyCacheParameterGroupInput{CacheParameterGroupName: aws.String(c.res),
				ParameterNameValues: []ectypes.ParameterNameValue{{ParameterName: aws.String("maxmemory-policy"), ParameterValue: aws.String("allkeys-lru")}}})
			return err
		})
	case 2:
		op = "DeleteCacheParameterGroup"
		d, err = timed(func() error {
			_, err := c.EC.DeleteCacheParameterGroup(ctx, &elasticache.DeleteCacheParameterGroupInput{CacheParameterGroupName: aws.String(c.res)})
			return err
		})
	}
	c.step = (c.step + 1) % 3
	return op, true, d, err
}

// churnStats counts what the reconcilers were given to do.
type churnStats struct {
	reboots   atomic.Int64
	available atomic.Int64 // times a cluster was seen available
	errs      sync.Map     // code -> *atomic.Int64
}

func (c *churnStats) err(code string) {
	v, _ := c.errs.LoadOrStore(code, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// churnClusters reboots each cluster as soon as it is available, until ctx
// ends.
func churnClusters(ctx context.Context, s *cachalotproc.Server, clusters []string, st *churnStats) {
	for ctx.Err() == nil {
		out, err := s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err != nil {
			if ctx.Err() == nil {
				st.err(errCode(err))
			}
			continue
		}
		for _, c := range out.CacheClusters {
			id := aws.ToString(c.CacheClusterId)
			if !slices.Contains(clusters, id) || aws.ToString(c.CacheClusterStatus) != "available" {
				continue
			}
			st.available.Add(1)
			if _, err := s.EC.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String(id), CacheNodeIdsToReboot: []string{"0001"}}); err != nil {
				if ctx.Err() == nil {
					st.err(errCode(err))
				}
				continue
			}
			st.reboots.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func pct(lats []time.Duration, p float64) time.Duration {
	if len(lats) == 0 {
		return 0
	}
	return lats[int(p*float64(len(lats)-1))]
}

func ms1(d time.Duration) string { return fmt.Sprintf("%.1f", ms(d)) }

func reportControl(all []sample, elapsed time.Duration, churn *churnStats, loadBefore string) {
	byOp := map[string][]time.Duration{}
	errsByOp := map[string]int{}
	codes := map[string]int{}
	var reads, writes []time.Duration
	var readErrs, writeErrs int
	writeOp := map[string]bool{}
	for _, s := range all {
		byOp[s.op] = append(byOp[s.op], s.lat)
		writeOp[s.op] = s.write
		if s.write {
			writes = append(writes, s.lat)
		} else {
			reads = append(reads, s.lat)
		}
		if s.code != "" {
			errsByOp[s.op]++
			codes[s.op+": "+s.code]++
			if s.write {
				writeErrs++
			} else {
				readErrs++
			}
		}
	}
	slices.Sort(reads)
	slices.Sort(writes)
	fmt.Printf("Measured %v; load average before %s, after %s. Reconcilers' work meanwhile: %d reboots issued (clusters seen available %d times).\n\n",
		elapsed.Round(time.Millisecond), loadBefore, hostinfo.LoadAvg(), churn.reboots.Load(), churn.available.Load())
	fmt.Printf("| calls | n | errors | per second | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range []struct {
		name string
		l    []time.Duration
		errs int
	}{{"reads", reads, readErrs}, {"**writes**", writes, writeErrs}} {
		if len(r.l) == 0 {
			continue
		}
		fmt.Printf("| %s | %d | %d | %.0f | %s | %s | %s |\n", r.name, len(r.l), r.errs, float64(len(r.l))/elapsed.Seconds(),
			ms1(pct(r.l, 0.5)), ms1(pct(r.l, 0.99)), ms1(r.l[len(r.l)-1]))
	}
	fmt.Printf("\n| operation | kind | n | errors | p50 ms | p99 ms |\n|---|---|---:|---:|---:|---:|\n")
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		l := byOp[op]
		slices.Sort(l)
		kind := "read"
		if writeOp[op] {
			kind = "write"
		}
		fmt.Printf("| %s | %s | %d | %d | %s | %s |\n", op, kind, len(l), errsByOp[op], ms1(pct(l, 0.5)), ms1(pct(l, 0.99)))
	}
	fmt.Printf("\nErrors by code: ")
	if len(codes) == 0 {
		fmt.Printf("none.\n")
	} else {
		keys := make([]string, 0, len(codes))
		for k := range codes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				fmt.Printf("; ")
			}
			fmt.Printf("%s × %d", k, codes[k])
		}
		fmt.Printf(".\n")
	}
	var churnErrs []string
	churn.errs.Range(func(k, v any) bool {
		churnErrs = append(churnErrs, fmt.Sprintf("%s × %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(churnErrs)
	if len(churnErrs) > 0 {
		fmt.Printf("Errors of the reboot loop (not counted above): %s.\n", strings.Join(churnErrs, "; "))
	}
	fmt.Println()
	log.Printf("control plane: %d reads, %d writes (%.0f writes/s), %d+%d errors", len(reads), len(writes), float64(len(writes))/elapsed.Seconds(), readErrs, writeErrs)
}
