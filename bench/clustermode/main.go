// Command clustermode measures issue 13's figures through the real
// product: it starts `cachalot serve` (as root, namespaces network mode)
// with a fresh data dir and, through aws-sdk-go-v2 and real engines:
//
//  1. CreateReplicationGroup of 3 shards × (1 primary + 2 replicas) with
//     cluster mode enabled → available (every node in one Redis Cluster,
//     each shard's slots on its primary, every replica attached with its
//     link up, cluster_state:ok everywhere), and DeleteReplicationGroup →
//     gone, over -creations runs;
//  2. kill -9 of a shard primary's engine → the "Failover … completed"
//     event, and → the group available again (the old node back as a
//     replica), over -kills runs on one group.
//
// It prints a Markdown report on stdout and progress on stderr. Everything
// started is removed on exit (serve stopped, `cachalot teardown`, data dir
// deleted). Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/clustermode [-creations 10] [-kills 5] [-reshard-keys 100000] [-sg-requests 100000] > out.md
//
// 3. online resharding 2 → 3 shards of -reshard-keys keys with a
// cluster client reading and writing throughout (reshard.go);
// 4. redis-benchmark from an instance, through security-group
// enforcement, against the same run inside each node's own network
// namespace (sgpath.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin              string
	creations, kills int
	reshardKeys      int
	sgRequests       int
	sgRepeat         int
	poll             time.Duration
	keep             bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.creations, "creations", 10, "3×(1+2) cluster-mode groups created and deleted; 0 skips")
	flag.IntVar(&o.kills, "kills", 5, "shard primaries killed (kill -9) on one group; 0 skips")
	flag.DurationVar(&o.poll, "poll", 5*time.Millisecond, "DescribeReplicationGroups / DescribeEvents polling interval")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.IntVar(&o.reshardKeys, "reshard-keys", 100000, "keys in the group resharded 2 → 3 shards; 0 skips")
	flag.IntVar(&o.sgRequests, "sg-requests", 0, "redis-benchmark -n of the enforced vs direct comparison; 0 skips")
	flag.IntVar(&o.sgRepeat, "sg-repeat", 3, "(enforced, direct) pairs per cell of the comparison")
	hostNS := flag.String("cluster-client", "", "(internal) run as the cluster client on an instance; the host's network namespace")
	flag.Parse()
	if *hostNS != "" {
		if ns, _ := os.Readlink("/proc/self/ns/net"); ns == *hostNS {
			log.Fatal("the cluster client must run in an instance's network namespace")
		}
		if err := clusterChild(); err != nil {
			log.Fatal(err)
		}
		return
	}
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	fmt.Printf("# Cluster mode enabled through the product: figures of issue 13\n\n")
	hostinfo.PrintGenerated("clustermode")
	srv, err := cachalotproc.Start(ctx, bin, cachalotproc.Options{
		DirPrefix: "cachalot-cmbench-", Key: "AKIACMBENCHBENCHBNCH", Secret: "cmbench-secret", LogLevel: "warn",
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(o.keep); err != nil {
			log.Printf("cleanup: %v", err)
		}
	}()
	log.Printf("serving on %s", srv.URL)
	if o.creations > 0 {
		if err := createFigures(ctx, srv, o); err != nil {
			return err
		}
	}
	if o.kills > 0 {
		if err := killFigures(ctx, srv, o); err != nil {
			return err
		}
	}
	if o.reshardKeys > 0 {
		if err := reshardFigures(ctx, srv, o); err != nil {
			return err
		}
	}
	if o.sgRequests > 0 {
		if err := sgFigures(ctx, srv, o); err != nil {
			return err
		}
	}
	fmt.Printf("Load average at the end: %s.\n", hostinfo.LoadAvg())
	return nil
}

// create makes a 3×(1+2) cluster-mode group and waits until it is
// available.
func create(ctx context.Context, s *cachalotproc.Server, id string, poll time.Duration) error {
	if _, err := s.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
		ReplicationGroupDescription: aws.String("bench"), CacheNodeType: aws.String("cache.t3.micro"),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	return waitAvailable(ctx, s, id, poll)
}

func waitAvailable(ctx context.Context, s *cachalotproc.Server, id string, poll time.Duration) error {
	t0 := time.Now()
	for {
		out, err := s.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("describe %s: %w", id, err)
		}
		if aws.ToString(out.ReplicationGroups[0].Status) == "available" {
			return nil
		}
		if time.Since(t0) > 2*time.Minute || ctx.Err() != nil {
			return fmt.Errorf("%s not available after 2 minutes (%s)", id, aws.ToString(out.ReplicationGroups[0].Status))
		}
		time.Sleep(poll)
	}
}

func deleteGroup(ctx context.Context, s *cachalotproc.Server, id string, poll time.Duration) error {
	if _, err := s.EC.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)}); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	t0 := time.Now()
	for {
		_, err := s.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
		if err != nil && strings.Contains(err.Error(), "ReplicationGroupNotFoundFault") {
			return nil
		}
		if time.Since(t0) > time.Minute || ctx.Err() != nil {
			return fmt.Errorf("%s not deleted after a minute: %v", id, err)
		}
		time.Sleep(poll)
	}
}

// createFigures: create → available and delete → gone, -creations times.
func createFigures(ctx context.Context, s *cachalotproc.Server, o options) error {
	var available, deleted []time.Duration
	for i := range o.creations {
		id := fmt.Sprintf("shards-%02d", i)
		t0 := time.Now()
		if err := create(ctx, s, id, o.poll); err != nil {
			return err
		}
		available = append(available, time.Since(t0))
		t1 := time.Now()
		if err := deleteGroup(ctx, s, id, o.poll); err != nil {
			return err
		}
		deleted = append(deleted, time.Since(t1))
		log.Printf("%s: available after %s, deleted after %s", id, available[i].Round(time.Millisecond), deleted[i].Round(time.Millisecond))
	}
	fmt.Printf("## 1. Create 3 shards × (1 primary + 2 replicas), cluster mode enabled\n\n")
	fmt.Printf("CreateReplicationGroup (`cache.t3.micro`, `default.redis7.cluster.on`, NumNodeGroups 3, ReplicasPerNodeGroup 2) until "+
		"DescribeReplicationGroups says `available` (one Redis Cluster: slots on each shard's primary as every node sees them, replicas "+
		"attached with their link up, `cluster_state:ok` on every node), polled every %v; then DeleteReplicationGroup until "+
		"ReplicationGroupNotFoundFault. Goal: create p50 < 1 s.\n\n", o.poll)
	fmt.Printf("| measure | p50 | max | n |\n|---|---|---|---|\n")
	fmt.Printf("| create → available %s\n| delete → gone %s\n\n", summary(available), summary(deleted))
	return nil
}

// killFigures: kill -9 of shard primaries of one group, in turn.
func killFigures(ctx context.Context, s *cachalotproc.Server, o options) error {
	const id = "killed"
	if err := create(ctx, s, id, o.poll); err != nil {
		return err
	}
	primaries := map[string]string{"0001": id + "-0001-001", "0002": id + "-0002-001", "0003": id + "-0003-001"}
	replicas := map[string][]string{}
	for _, ng := range []string{"0001", "0002", "0003"} {
		replicas[ng] = []string{id + "-" + ng + "-002", id + "-" + ng + "-003"}
	}
	var promoted, available []time.Duration
	for i := range o.kills {
		ng := []string{"0001", "0002", "0003"}[i%3]
		from := primaries[ng]
		pids := cachalotproc.NodePIDs(s.Account + "." + cachalotproc.Region + "." + from + ".0001")
		if len(pids) != 1 {
			return fmt.Errorf("engine of %s: %d processes", from, len(pids))
		}
		t0 := time.Now()
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			return err
		}
		to, err := waitFailoverEvent(ctx, s, id, from, t0, o.poll)
		if err != nil {
			return err
		}
		promoted = append(promoted, time.Since(t0))
		if err := waitAvailable(ctx, s, id, o.poll); err != nil {
			return err
		}
		available = append(available, time.Since(t0))
		log.Printf("kill -9 of %s: %s promoted after %s, available after %s", from, to, promoted[i].Round(time.Millisecond), available[i].Round(time.Millisecond))
		primaries[ng] = to
	}
	fmt.Printf("## 2. kill -9 of a shard primary\n\n")
	fmt.Printf("One 3×(1+2) group; the engine of a shard's primary killed with SIGKILL (shards in turn), until the event " +
		"`Failover from primary node … completed` (the replica with the least lag promoted with CLUSTER FAILOVER TAKEOVER), and " +
		"until the group is `available` again (the old node replaced and attached as a replica).\n\n")
	fmt.Printf("| measure | p50 | max | n |\n|---|---|---|---|\n")
	fmt.Printf("| kill → failover completed event %s\n| kill → available %s\n\n", summary(promoted), summary(available))
	return deleteGroup(ctx, s, id, o.poll)
}

// waitFailoverEvent waits for the event of a failover from `from` after
// since and returns the promoted member.
func waitFailoverEvent(ctx context.Context, s *cachalotproc.Server, id, from string, since time.Time, poll time.Duration) (string, error) {
	prefix := "Failover from primary node " + from + " to replica node "
	for {
		out, err := s.EC.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: ectypes.SourceTypeReplicationGroup,
			SourceIdentifier: aws.String(id), StartTime: aws.Time(since.Add(-time.Second))})
		if err != nil {
			return "", err
		}
		for _, e := range out.Events {
			if m := aws.ToString(e.Message); strings.HasPrefix(m, prefix) && !aws.ToTime(e.Date).Before(since.Add(-time.Second)) {
				return strings.TrimSuffix(strings.TrimPrefix(m, prefix), " completed"), nil
			}
		}
		if time.Since(since) > time.Minute || ctx.Err() != nil {
			return "", fmt.Errorf("no failover of %s after a minute", from)
		}
		time.Sleep(poll)
	}
}

// summary prints p50 and max (and n) of durations.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "| – | – | 0 |"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("| %s | %s | %d |", ms(s[len(s)/2]), ms(s[len(s)-1]), len(s))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
