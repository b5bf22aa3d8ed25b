package elasticache_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// The cluster client of these tests is go-redis's ClusterClient, unmodified,
// run as on an instance: the test binary started again in the instance's
// network (TestClusterClientProcess, with ccEnv set), connecting to the
// configuration endpoint by its name, which the VPC's DNS answers.

const ccEnv = "CACHALOT_CLUSTER_CLIENT" // mode,addr,n,round

// ccResult is what a cluster client process reports, as JSON on its last
// line of output.
type ccResult struct {
	Ops, Errors, Wrong int64
	FirstError         string `json:",omitempty"`
	Found, DBSize      int64
	Live               int
	Duration           time.Duration
}

// TestClusterClientProcess is the cluster client process; it does
// nothing unless started by a test with ccEnv.
func TestClusterClientProcess(t *testing.T) {
	spec := os.Getenv(ccEnv)
	if spec == "" {
		t.Skip("a helper process, started by TestClusterModeReshard")
	}
	f := strings.Split(spec, ",")
	n, _ := strconv.Atoi(f[2])
	res, err := clusterClient(f[0], f[1], n, f[3])
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Printf("\n%s\n", b)
}

func clusterClient(mode, addr string, n int, round string) (res ccResult, err error) {
	ctx := context.Background()
	// While a slot moves, a key may be redirected more than go-redis's
	// default three times (MOVED to a shard whose view gossip has not
	// updated yet, then ASK): an application would allow more, as here.
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{addr}, MaxRedirects: 8})
	defer c.Close()
	t0 := time.Now()
	defer func() { res.Duration = time.Since(t0) }()
	switch mode {
	case "write":
		for from := 1; from <= n; from += 1000 {
			p := c.Pipeline()
			for i := from; i < from+1000 && i <= n; i++ {
				p.Set(ctx, "key:"+strconv.Itoa(i), round+":"+strconv.Itoa(i), 0)
			}
			if _, err := p.Exec(ctx); err != nil {
				return res, fmt.Errorf("write: %w", err)
			}
		}
	case "verify":
		for from := 1; from <= n; from += 1000 {
			p := c.Pipeline()
			var gets []*goredis.StringCmd
			for i := from; i < from+1000 && i <= n; i++ {
				gets = append(gets, p.Get(ctx, "key:"+strconv.Itoa(i)))
			}
			if _, err := p.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
				return res, fmt.Errorf("verify: %w", err)
			}
			for k, g := range gets {
				if v, err := g.Result(); err == nil && v == round+":"+strconv.Itoa(from+k) {
					res.Found++
				} else if res.FirstError == "" {
					res.FirstError = fmt.Sprintf("key:%d = %q, %v", from+k, v, err)
				}
			}
		}
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			size, err := m.DBSize(ctx).Result()
			mu.Lock()
			res.DBSize += size
			mu.Unlock()
			return err
		})
		if err != nil {
			return res, fmt.Errorf("dbsize: %w", err)
		}
	case "load":
		// Until stdin closes: GETs of the n keys written before (which
		// must keep their value) and SETs of live keys, from 4 workers;
		// then every live key must hold its last value.
		stop := make(chan struct{})
		go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
		var ops, errs, wrong atomic.Int64
		var first atomic.Value
		var wg sync.WaitGroup
		last := make([]map[string]string, 4)
		for w := range 4 {
			last[w] = map[string]string{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := 0; ; seq++ {
					select {
					case <-stop:
						return
					default:
					}
					if seq%2 == 0 {
						i := 1 + rand.IntN(n)
						v, err := c.Get(ctx, "key:"+strconv.Itoa(i)).Result()
						switch {
						case err != nil:
							errs.Add(1)
							first.CompareAndSwap(nil, err.Error())
						case v != round+":"+strconv.Itoa(i):
							wrong.Add(1)
							first.CompareAndSwap(nil, fmt.Sprintf("key:%d = %q", i, v))
						}
					} else {
						k := fmt.Sprintf("live:%d:%d", w, rand.IntN(2000))
						v := strconv.Itoa(seq)
						if err := c.Set(ctx, k, v, 0).Err(); err != nil {
							errs.Add(1)
							first.CompareAndSwap(nil, err.Error())
							delete(last[w], k) // unknown: not checked
						} else {
							last[w][k] = v
						}
					}
					ops.Add(1)
				}
			}()
		}
		wg.Wait()
		res.Ops, res.Errors, res.Wrong = ops.Load(), errs.Load(), wrong.Load()
		if s, ok := first.Load().(string); ok {
			res.FirstError = s
		}
		for _, m := range last {
			for k, want := range m {
				res.Live++
				if v, err := c.Get(ctx, k).Result(); err != nil || v != want {
					res.Wrong++
					if res.FirstError == "" {
						res.FirstError = fmt.Sprintf("%s = %q, %v; want %q", k, v, err, want)
					}
				}
			}
		}
	default:
		return res, fmt.Errorf("unknown mode %q", mode)
	}
	return res, nil
}

// clientProc is a cluster client process started on the instance.
type clientProc struct {
	stdin io.WriteCloser
	out   *strings.Builder
	done  chan error
}

// startClient starts a cluster client process on the instance.
func (w *clusterWorld) startClient(t *testing.T, mode string, n int, round string) *clientProc {
	t.Helper()
	cmd, err := w.env.App.InstanceCommand(context.Background(), w.eni, os.Args[0], "-test.run=^TestClusterClientProcess$", "-test.v=false")
	if err != nil {
		t.Fatal(err)
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, fmt.Sprintf("%s=%s,%s:6379,%d,%s", ccEnv, mode, w.cfg, n, round))
	p := &clientProc{out: &strings.Builder{}, done: make(chan error, 1)}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.stdin.Close()
		<-p.done
	})
	return p
}

// wait ends a client process (closing its stdin) and returns its result.
func (p *clientProc) wait(t *testing.T) ccResult {
	t.Helper()
	p.stdin.Close()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("cluster client: %v\n%s", err, p.out)
		}
	case <-time.After(5 * time.Minute):
		t.Fatalf("cluster client did not end:\n%s", p.out)
	}
	var res ccResult
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	var lastLine string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "{") {
			lastLine = sc.Text()
		}
	}
	if err := json.Unmarshal([]byte(lastLine), &res); err != nil {
		t.Fatalf("cluster client output: %v\n%s", err, p.out)
	}
	return res
}

// client runs a cluster client process to its end.
func (w *clusterWorld) client(t *testing.T, mode string, n int, round string) ccResult {
	t.Helper()
	return w.startClient(t, mode, n, round).wait(t)
}

// waitResharded waits until the group is available again after a
// resharding, and returns it.
func (w *clusterWorld) waitResharded(t *testing.T, what string) ectypes.ReplicationGroup {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		g := w.describe(t)
		if aws.ToString(g.Status) == "available" {
			if g.PendingModifiedValues != nil && g.PendingModifiedValues.Resharding != nil {
				t.Fatalf("%s: available with a resharding pending", what)
			}
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: group is %s", what, aws.ToString(g.Status))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// layout is a group's node groups as id=slots, and its members.
func layout(g ectypes.ReplicationGroup) ([]string, []string) {
	var slots, members []string
	for _, ng := range g.NodeGroups {
		slots = append(slots, aws.ToString(ng.NodeGroupId)+"="+aws.ToString(ng.Slots))
		for _, m := range ng.NodeGroupMembers {
			members = append(members, aws.ToString(m.CacheClusterId))
		}
	}
	slices.Sort(members)
	return slots, members
}

// TestClusterModeReshard: a 2-shard cluster-mode group with 100,000 keys
// written through go-redis's ClusterClient is scaled out to 3 shards and
// in to 2 with ModifyReplicationGroupShardConfiguration while a client
// keeps reading and writing; no key is lost or changed, no client request
// fails (MOVED and ASK are handled by the client), every key is held once;
// Describe shows the new node groups, slots and members; the scale-in is
// interrupted by a restart of the service and resumes. Bad requests get
// AWS's codes.
func TestClusterModeReshard(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	gw := &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "shop"}
	w := &clusterWorld{groupWorld: gw}
	ctx := context.Background()
	_, w.eni = w.instance(t)

	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("shop"),
		ReplicationGroupDescription: aws.String("shop"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on")}); err != nil {
		t.Fatal(err)
	}
	g := w.waitResharded(t, "create")
	w.cfg = aws.ToString(g.ConfigurationEndpoint.Address)
	reshardBadInput(t, w)

	const n = 100000
	if r := w.client(t, "write", n, "v1"); r.FirstError != "" {
		t.Fatalf("writing %d keys: %+v", n, r)
	}

	// Scale out 2 → 3 while a client reads and writes.
	load := w.startClient(t, "load", n, "v1")
	time.Sleep(300 * time.Millisecond) // the client is connected and busy
	t0 := time.Now()
	out, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("shop"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if rg := out.ReplicationGroup; aws.ToString(rg.Status) != "modifying" || rg.PendingModifiedValues == nil || rg.PendingModifiedValues.Resharding == nil ||
		rg.PendingModifiedValues.Resharding.SlotMigration == nil || aws.ToFloat64(rg.PendingModifiedValues.Resharding.SlotMigration.ProgressPercentage) != 0 {
		t.Errorf("ModifyReplicationGroupShardConfiguration = %s %+v", aws.ToString(rg.Status), rg.PendingModifiedValues)
	}
	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("shop"), NodeGroupCount: aws.Int32(4), ApplyImmediately: aws.Bool(true)}); code(err) != "InvalidReplicationGroupState" {
		t.Errorf("a second resharding while modifying = %v, want InvalidReplicationGroupState", err)
	}
	g = w.waitResharded(t, "scale out")
	took := time.Since(t0)
	r := load.wait(t)
	t.Logf("scale out 2→3 with %d keys: %s; client during it: %+v", n, took.Round(time.Millisecond), r)
	if r.Ops == 0 || r.Errors != 0 || r.Wrong != 0 {
		t.Errorf("client during the scale-out: %+v, want no error and no wrong value", r)
	}
	slots, members := layout(g)
	if want := []string{"0001=0-5461", "0002=8192-13652", "0003=5462-8191,13653-16383"}; !slices.Equal(slots, want) {
		t.Errorf("node groups after scale out = %v, want %v", slots, want)
	}
	if want := []string{"shop-0001-001", "shop-0001-002", "shop-0002-001", "shop-0002-002", "shop-0003-001", "shop-0003-002"}; !slices.Equal(members, want) {
		t.Errorf("members after scale out = %v, want %v", members, want)
	}
	w.waitEvent(t, ectypes.SourceTypeReplicationGroup, "shop", "Completed shard configuration modification of replication group shop from 2 to 3 node groups")
	if v := w.client(t, "verify", n, "v1"); v.Found != n || v.DBSize != int64(n+r.Live) {
		t.Errorf("after scale out: %+v, want %d keys found and %d held", v, n, n+r.Live)
	}

	// Scale in 3 → 2, keeping 0001 and 0003 (0002's slots go to fill
	// them up to 8192 each), with a restart of the service half way.
	load = w.startClient(t, "load", n, "v1")
	time.Sleep(300 * time.Millisecond)
	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("shop"), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true),
		NodeGroupsToRetain: []string{"0001", "0003"}}); err != nil {
		t.Fatal(err)
	}
	for {
		g := w.describe(t)
		if aws.ToString(g.Status) == "available" {
			break // done before the restart: the restart re-adopts it
		}
		if p := g.PendingModifiedValues; p != nil && p.Resharding != nil && aws.ToFloat64(p.Resharding.SlotMigration.ProgressPercentage) > 20 {
			t.Logf("restarting the service at %.1f%%", aws.ToFloat64(p.Resharding.SlotMigration.ProgressPercentage))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.restartApp(t)
	g = w.waitResharded(t, "scale in")
	r = load.wait(t)
	t.Logf("client during the scale-in: %+v", r)
	if r.Ops == 0 || r.Errors != 0 || r.Wrong != 0 {
		t.Errorf("client during the scale-in: %+v, want no error and no wrong value", r)
	}
	slots, members = layout(g)
	if want := []string{"0001=0-5461,8192-10921", "0003=5462-8191,10922-16383"}; !slices.Equal(slots, want) {
		t.Errorf("node groups after scale in = %v, want %v", slots, want)
	}
	if want := []string{"shop-0001-001", "shop-0001-002", "shop-0003-001", "shop-0003-002"}; !slices.Equal(members, want) {
		t.Errorf("members after scale in = %v, want %v", members, want)
	}
	if v := w.client(t, "verify", n, "v1"); v.Found != n || v.DBSize < int64(n) {
		t.Errorf("after scale in: %+v, want %d keys found", v, n)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out := w.cli(t, "redis-cli -h "+w.cfg+" cluster info | grep -E 'cluster_state|cluster_known_nodes' | tr -d '\\r'")
		if out == "cluster_state:ok\ncluster_known_nodes:4" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after scale in: CLUSTER INFO = %q, want 4 nodes known", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// restartApp restarts Cachalot on the same data dir.
func (w *clusterWorld) restartApp(t *testing.T) {
	t.Helper()
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: w.dir})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
}

// reshardBadInput: ModifyReplicationGroupShardConfiguration's bad requests
// get AWS's codes and change nothing.
func reshardBadInput(t *testing.T, w *clusterWorld) {
	ctx := context.Background()
	in := func(n int32, f func(*elasticache.ModifyReplicationGroupShardConfigurationInput)) *elasticache.ModifyReplicationGroupShardConfigurationInput {
		i := &elasticache.ModifyReplicationGroupShardConfigurationInput{ReplicationGroupId: aws.String("shop"), NodeGroupCount: aws.Int32(n), ApplyImmediately: aws.Bool(true)}
		if f != nil {
			f(i)
		}
		return i
	}
	for _, c := range []struct {
		name string
		in   *elasticache.ModifyReplicationGroupShardConfigurationInput
		want string
	}{
		{"ApplyImmediately false", in(3, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.ApplyImmediately = aws.Bool(false)
		}), "InvalidParameterValue"},
		{"91 node groups", in(91, nil), "NodeGroupsPerReplicationGroupQuotaExceeded"},
		{"0 node groups", in(0, nil), "InvalidParameterValue"},
		{"scale in without a list", in(1, nil), "InvalidParameterValue"},
		{"both lists", in(1, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.NodeGroupsToRemove, i.NodeGroupsToRetain = []string{"0001"}, []string{"0002"}
		}), "InvalidParameterCombination"},
		{"unknown node group", in(1, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.NodeGroupsToRemove = []string{"0009"}
		}), "InvalidParameterValue"},
		{"remove all", in(1, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.NodeGroupsToRemove = []string{"0001", "0002"}
		}), "InvalidParameterValue"},
		{"retain count", in(1, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.NodeGroupsToRetain = []string{"0001", "0002"}
		}), "InvalidParameterValue"},
		{"list on scale out", in(3, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.NodeGroupsToRemove = []string{"0001"}
		}), "InvalidParameterCombination"},
		{"zones on scale in", in(1, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.NodeGroupsToRemove = []string{"0002"}
			i.ReshardingConfiguration = []ectypes.ReshardingConfiguration{{PreferredAvailabilityZones: []string{"us-east-1a"}}}
		}), "InvalidParameterCombination"},
		{"zones count", in(3, func(i *elasticache.ModifyReplicationGroupShardConfigurationInput) {
			i.ReshardingConfiguration = []ectypes.ReshardingConfiguration{{PreferredAvailabilityZones: []string{"us-east-1a"}}}
		}), "InvalidParameterValue"},
		{"balanced already", in(2, nil), "InvalidParameterValue"},
		{"unknown group", func() *elasticache.ModifyReplicationGroupShardConfigurationInput {
			i := in(3, nil)
			i.ReplicationGroupId = aws.String("nope")
			return i
		}(), "ReplicationGroupNotFoundFault"},
	} {
		if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, c.in); code(err) != c.want {
			t.Errorf("%s: ModifyReplicationGroupShardConfiguration = %v, want %s", c.name, err, c.want)
		}
	}
	g := w.describe(t)
	if slots, members := layout(g); aws.ToString(g.Status) != "available" || len(slots) != 2 || len(members) != 4 {
		t.Errorf("after bad requests: %s %v %v", aws.ToString(g.Status), slots, members)
	}
}

// TestClusterModeReshard3to5to2 is the sequence at a CI size: a
// 3-shard group with 20,000 keys written through go-redis's ClusterClient
// is scaled out to 5 shards and in to 2 (NodeGroupsToRemove) while a
// client keeps reading and writing, with no client error, no wrong value
// and every key held once; then one shard's primary is killed with
// kill -9 under the same load, its replica is promoted, and the client
// recovers: every key is still there and new writes reach every shard.
func TestClusterModeReshard3to5to2(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	gw := &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "shop"}
	w := &clusterWorld{groupWorld: gw}
	ctx := context.Background()
	_, w.eni = w.instance(t)

	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("shop"),
		ReplicationGroupDescription: aws.String("shop"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on")}); err != nil {
		t.Fatal(err)
	}
	g := w.waitResharded(t, "create")
	w.cfg = aws.ToString(g.ConfigurationEndpoint.Address)

	const n = 20000
	if r := w.client(t, "write", n, "v1"); r.FirstError != "" {
		t.Fatalf("writing %d keys: %+v", n, r)
	}
	reshard := func(in *elasticache.ModifyReplicationGroupShardConfigurationInput, shards int) {
		t.Helper()
		load := w.startClient(t, "load", n, "v1")
		time.Sleep(300 * time.Millisecond) // the client is connected and busy
		t0 := time.Now()
		in.ReplicationGroupId, in.ApplyImmediately = aws.String("shop"), aws.Bool(true)
		if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, in); err != nil {
			t.Fatal(err)
		}
		g := w.waitResharded(t, fmt.Sprintf("to %d shards", shards))
		took := time.Since(t0)
		r := load.wait(t)
		t.Logf("to %d shards with %d keys: %s; client during it: %+v", shards, n, took.Round(time.Millisecond), r)
		if r.Ops == 0 || r.Errors != 0 || r.Wrong != 0 {
			t.Errorf("client during the resharding to %d shards: %+v, want no error and no wrong value", shards, r)
		}
		if slots, members := layout(g); len(slots) != shards || len(members) != 2*shards {
			t.Errorf("after resharding to %d shards: node groups %v, members %v", shards, slots, members)
		}
		// Held once: the n keys plus the live keys (this client's, and at
		// most the 4×2000 the load clients ever write), none twice.
		if v := w.client(t, "verify", n, "v1"); v.Found != n || v.DBSize < int64(n+r.Live) || v.DBSize > n+4*2000 {
			t.Errorf("after resharding to %d shards: %+v, want %d keys found and %d to %d held", shards, v, n, n+r.Live, n+4*2000)
		}
	}
	reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(5)}, 5)
	reshard(&elasticache.ModifyReplicationGroupShardConfigurationInput{NodeGroupCount: aws.Int32(2),
		NodeGroupsToRemove: []string{"0001", "0004", "0005"}}, 2)
	slots, _ := layout(w.describe(t))
	if len(slots) != 2 || !strings.HasPrefix(slots[0], "0002=") || !strings.HasPrefix(slots[1], "0003=") {
		t.Errorf("node groups after scale in = %v, want 0002 and 0003", slots)
	}

	// kill -9 of 0003's primary under load: the client sees errors while
	// the replica takes over, then goes on; no key written before is lost.
	load := w.startClient(t, "load", n, "v1")
	time.Sleep(300 * time.Millisecond)
	w.killShardPrimary(t, "shop-0003-001", "shop-0003-002")
	r := load.wait(t)
	t.Logf("client during the kill -9: %+v", r)
	if r.Ops == 0 {
		t.Errorf("client during the kill -9: %+v, want requests served", r)
	}
	if v := w.client(t, "verify", n, "v1"); v.Found != n {
		t.Errorf("after the kill -9: %+v, want %d keys found", v, n)
	}
	if r := w.client(t, "write", n, "v2"); r.FirstError != "" {
		t.Fatalf("writing after the kill -9: %+v", r)
	}
	if v := w.client(t, "verify", n, "v2"); v.Found != n {
		t.Errorf("after writing again: %+v, want %d keys with their last value", v, n)
	}
}
