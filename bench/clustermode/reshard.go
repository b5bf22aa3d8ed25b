package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

// Online resharding (ModifyReplicationGroupShardConfiguration): a 2×(1+1)
// group, -reshard-keys keys written through go-redis's ClusterClient from
// an instance, then scaled out to 3 shards while a client on the instance
// keeps reading and writing; the time from the request to `available`,
// the keys the new shard holds afterwards (all moved there) per second,
// and the client's errors.

// clientResult is what a cluster client child reports, as JSON.
type clientResult struct {
	Ops, Errors, Wrong int64
	FirstError         string `json:",omitempty"`
	Found              int64
	DBSize             map[string]int64 `json:",omitempty"` // by primary address
	Duration           time.Duration
}

// clusterChild is the child started on the instance (-cluster-client):
// one line on stdin, "mode host:port n", then, for load, until stdin
// closes; its result on stdout.
func clusterChild() error {
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return err
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return fmt.Errorf("bad request %q", line)
	}
	n, _ := strconv.Atoi(f[2])
	res, err := runClient(f[0], f[1], n, in)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func runClient(mode, addr string, n int, stdin io.Reader) (res clientResult, err error) {
	ctx := context.Background()
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{addr}})
	defer c.Close()
	res.DBSize = map[string]int64{}
	t0 := time.Now()
	defer func() { res.Duration = time.Since(t0) }()
	val := func(i int) string { return "value-" + strconv.Itoa(i) }
	switch mode {
	case "write", "verify":
		for from := 1; from <= n; from += 1000 {
			p := c.Pipeline()
			var gets []*goredis.StringCmd
			for i := from; i < from+1000 && i <= n; i++ {
				if mode == "write" {
					p.Set(ctx, "key:"+strconv.Itoa(i), val(i), 0)
				} else {
					gets = append(gets, p.Get(ctx, "key:"+strconv.Itoa(i)))
				}
			}
			if _, err := p.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
				return res, fmt.Errorf("%s: %w", mode, err)
			}
			for k, g := range gets {
				if v, err := g.Result(); err == nil && v == val(from+k) {
					res.Found++
				}
			}
		}
		var mu sync.Mutex
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			size, err := m.DBSize(ctx).Result()
			mu.Lock()
			res.DBSize[m.Options().Addr] = size
			mu.Unlock()
			return err
		})
		if err != nil {
			return res, err
		}
	case "load":
		stop := make(chan struct{})
		go func() { io.Copy(io.Discard, stdin); close(stop) }()
		var ops, errs, wrong atomic.Int64
		var first atomic.Value
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := 0; ; seq++ {
					select {
					case <-stop:
						return
					default:
					}
					var err error
					if seq%2 == 0 {
						i := 1 + rand.IntN(n)
						var v string
						if v, err = c.Get(ctx, "key:"+strconv.Itoa(i)).Result(); err == nil && v != val(i) {
							wrong.Add(1)
						}
					} else {
						err = c.Set(ctx, fmt.Sprintf("live:%d:%d", w, rand.IntN(2000)), strconv.Itoa(seq), 0).Err()
					}
					if err != nil {
						errs.Add(1)
						first.CompareAndSwap(nil, err.Error())
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
	default:
		return res, fmt.Errorf("unknown mode %q", mode)
	}
	return res, nil
}

// child is a started cluster client child.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out io.ReadCloser
}

func startClient(ctx context.Context, s *cachalotproc.Server, instance, mode, addr string, n int) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd, in, out, _, err := s.StartChild(ctx, instance, self, "-cluster-client")
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(in, "%s %s %d\n", mode, addr, n); err != nil {
		return nil, err
	}
	return &child{cmd, in, out}, nil
}

func (c *child) wait() (clientResult, error) {
	c.in.Close()
	var res clientResult
	err := json.NewDecoder(c.out).Decode(&res)
	if werr := c.cmd.Wait(); err == nil {
		err = werr
	}
	return res, err
}

func runChild(ctx context.Context, s *cachalotproc.Server, instance, mode, addr string, n int) (clientResult, error) {
	c, err := startClient(ctx, s, instance, mode, addr, n)
	if err != nil {
		return clientResult{}, err
	}
	return c.wait()
}

// reshardFigures: scale out 2 → 3 shards with o.reshardKeys keys.
func reshardFigures(ctx context.Context, s *cachalotproc.Server, o options) error {
	const id = "resharded"
	if _, err := s.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
		ReplicationGroupDescription: aws.String("bench"), CacheNodeType: aws.String("cache.t3.micro"),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on"), NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	if err := waitAvailable(ctx, s, id, o.poll); err != nil {
		return err
	}
	d, err := s.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf("%s:%d", aws.ToString(d.ReplicationGroups[0].ConfigurationEndpoint.Address), aws.ToInt32(d.ReplicationGroups[0].ConfigurationEndpoint.Port))
	inst, err := s.LaunchInstance(ctx)
	if err != nil {
		return err
	}
	n := o.reshardKeys
	w, err := runChild(ctx, s, inst.ID, "write", cfg, n)
	if err != nil {
		return fmt.Errorf("write %d keys: %w", n, err)
	}
	log.Printf("%d keys written in %s", n, w.Duration.Round(time.Millisecond))
	load, err := startClient(ctx, s, inst.ID, "load", cfg, n)
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	load1 := hostinfo.LoadAvg()
	t0 := time.Now()
	var moving time.Time // first seen with slots moved
	if _, err := s.EC.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String(id), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true)}); err != nil {
		return fmt.Errorf("reshard: %w", err)
	}
	for {
		out, err := s.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
		if err != nil {
			return err
		}
		rg := out.ReplicationGroups[0]
		if aws.ToString(rg.Status) == "available" {
			break
		}
		if p := rg.PendingModifiedValues; moving.IsZero() && p != nil && p.Resharding != nil && p.Resharding.SlotMigration != nil &&
			aws.ToFloat64(p.Resharding.SlotMigration.ProgressPercentage) > 0 {
			moving = time.Now()
		}
		if time.Since(t0) > 10*time.Minute || ctx.Err() != nil {
			return fmt.Errorf("not resharded after 10 minutes")
		}
		time.Sleep(o.poll)
	}
	took := time.Since(t0)
	l, err := load.wait()
	if err != nil {
		return fmt.Errorf("load client: %w", err)
	}
	v, err := runChild(ctx, s, inst.ID, "verify", cfg, n)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var moved int64 // what the primary that was not there before holds
	for addr, size := range v.DBSize {
		if _, old := w.DBSize[addr]; !old {
			moved += size
		}
	}
	if moving.IsZero() {
		moving = t0
	}
	migrating := time.Since(moving) - time.Since(t0) + took
	log.Printf("resharded in %s: %d keys moved; client %+v; verify %+v", took.Round(time.Millisecond), moved, l, v)
	fmt.Printf("## 3. Online resharding 2 → 3 shards\n\n")
	fmt.Printf("A 2×(1 primary + 1 replica) group (`default.redis7.cluster.on`); %d keys written through go-redis's ClusterClient "+
		"(unmodified, from an instance, through the configuration endpoint); then ModifyReplicationGroupShardConfiguration NodeGroupCount 3 "+
		"until DescribeReplicationGroups says `available` again, while a ClusterClient on the instance runs 4 workers of GET (of the keys "+
		"written, value checked) and SET (of 8,000 other keys). Keys moved: what the new shard holds afterwards (5,461 slots moved, "+
		"CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE of up to 1,000 keys a slot a command, 64 slots a batch).\n\n", n)
	fmt.Printf("| measure | value |\n|---|---|\n")
	fmt.Printf("| request → available | %s |\n", ms(took))
	fmt.Printf("| of which slots moving (first ProgressPercentage > 0 → available) | %s |\n", ms(migrating))
	fmt.Printf("| keys moved to the new shard | %d |\n", moved)
	fmt.Printf("| keys moved per second, request → available | %.0f |\n", float64(moved)/took.Seconds())
	fmt.Printf("| keys moved per second, slots moving | %.0f |\n", float64(moved)/migrating.Seconds())
	fmt.Printf("| client requests during it | %d |\n", l.Ops)
	fmt.Printf("| client errors (after go-redis's MOVED/ASK handling) | %d |\n", l.Errors)
	fmt.Printf("| wrong values read | %d |\n", l.Wrong)
	fmt.Printf("| keys found afterwards | %d of %d |\n", v.Found, n)
	fmt.Printf("| load average before / after | %s / %s |\n\n", load1, hostinfo.LoadAvg())
	if cliTook, cliMoved, err := redisCLIReshard(ctx, n); err != nil {
		log.Printf("redis-cli reference: %v", err)
		fmt.Printf("Reference not measured: %v\n\n", err)
	} else {
		log.Printf("redis-cli --cluster rebalance: %d keys in %s", cliMoved, cliTook.Round(time.Millisecond))
		fmt.Printf("Reference, same run, same machine: `redis-cli --cluster rebalance --cluster-use-empty-masters` (defaults: "+
			"10 keys a MIGRATE) on three redis-server processes on loopback started by the benchmark (two masters holding the %d keys, "+
			"one empty master), no client load, outside Cachalot: %d keys moved in %s, %.0f keys/s. Ratio Cachalot (slots moving) / "+
			"redis-cli: %.2f.\n\n", n, cliMoved, ms(cliTook), float64(cliMoved)/cliTook.Seconds(),
			(float64(moved)/migrating.Seconds())/(float64(cliMoved)/cliTook.Seconds()))
	}
	if l.FirstError != "" {
		fmt.Printf("First client error: `%s`\n\n", l.FirstError)
	}
	return deleteGroup(ctx, s, id, o.poll)
}
