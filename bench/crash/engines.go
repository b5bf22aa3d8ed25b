package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
)

// engineReport is what the engine kill loop saw.
type engineReport struct {
	kills          int
	delays         []time.Duration // kill -> a new engine answering PING
	minBackoff     []time.Duration // the restart policy's delay for each kill
	recovering     int             // "Recovering cache nodes" events
	restarted      int             // "Cache node … restarted" events
	dataSurvived   bool
	persistenceCfg string
}

// The engine supervisor's restart policy (internal/engine restarts.go):
// 100 ms after the first failure, doubling, at most 30 s.
func policyDelay(n int) time.Duration { return min(100*time.Millisecond<<n, 30*time.Second) }

// engineLoop creates a one-node Redis cluster, writes a key, kills its
// engine with SIGKILL kills times in a row (each time once the previous
// restart answers), and checks the supervisor restarted it each time, no
// sooner than its backoff, with the events DescribeEvents shows; then
// reads the key back and deletes the cluster.
func (c *campaign) engineLoop(ctx context.Context) (*engineReport, error) {
	id := "crash-engkill"
	ns, addr, port, err := c.engineTarget(ctx, id)
	if err != nil {
		return nil, err
	}
	redis := func(args ...string) (string, error) {
		// Inside the node's own namespace: nothing dials a VPC address from the host.
		out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, "redis-cli", "-h", addr, "-p", port}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := redis("SET", "crash-key", "survives?"); err != nil || out != "OK" {
		return nil, fmt.Errorf("redis SET in %s: %q, %v", ns, out, err)
	}
	engineID := c.s.account + "." + region + "." + id + ".0001"
	// CONFIG is restricted for clients, as on ElastiCache: read the
	// persistence settings from the node's rendered configuration.
	r := &engineReport{persistenceCfg: persistence(filepath.Join(c.s.dir, "engines", engineID, "redis.conf"))}
	start := time.Now().Add(-time.Second)
	events := func() (recovering, restarted int, err error) {
		ev, err := c.s.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceIdentifier: aws.String(id),
			SourceType: ectypes.SourceTypeCacheCluster, StartTime: aws.Time(start)})
		if err != nil {
			return 0, 0, fmt.Errorf("describe events: %w", err)
		}
		for _, e := range ev.Events {
			m := aws.ToString(e.Message)
			switch {
			case strings.HasPrefix(m, "Recovering cache nodes"):
				recovering++
			case strings.HasPrefix(m, "Cache node") && strings.HasSuffix(m, "restarted"):
				restarted++
			}
		}
		return recovering, restarted, nil
	}
	for i := range c.o.engineKills {
		pid := enginePID(c.s.dir, engineID)
		if pid == 0 {
			return nil, fmt.Errorf("no engine process for %s", engineID)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return nil, fmt.Errorf("kill %d: %w", pid, err)
		}
		t0 := time.Now()
		var back time.Duration
		// Back means: a new process answers PING, and the supervisor has
		// said so (its "restarted" event), so that the next kill finds
		// the node running, not starting.
		for {
			if p := enginePID(c.s.dir, engineID); back == 0 && p != 0 && p != pid {
				if out, err := redis("PING"); err == nil && out == "PONG" {
					back = time.Since(t0)
				}
			}
			if back > 0 {
				rec, res, err := events()
				if err != nil {
					return nil, err
				}
				r.recovering, r.restarted = rec, res
				if rec > i && res > i {
					break
				}
			}
			if time.Since(t0) > c.o.converge {
				c.violations = append(c.violations, violation{"engine-events", engineID, fmt.Sprintf(
					"kill %d: after %v: answering again: %v; %d \"Recovering cache nodes\" and %d \"restarted\" events, want %d of each",
					i+1, c.o.converge, back > 0, r.recovering, r.restarted, i+1)})
				return r, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		r.kills++
		r.delays = append(r.delays, back)
		r.minBackoff = append(r.minBackoff, policyDelay(i))
		if back < policyDelay(i) {
			c.violations = append(c.violations, violation{"engine-backoff", engineID,
				fmt.Sprintf("kill %d: back after %v, sooner than the policy's %v", i+1, back, policyDelay(i))})
		}
	}
	out, _ := redis("GET", "crash-key")
	r.dataSurvived = out == "survives?"
	log.Printf("engine loop: %d kills, back after %v; events: %d recovering, %d restarted; data survived: %v",
		r.kills, r.delays, r.recovering, r.restarted, r.dataSurvived)
	if _, err := c.s.w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)}); err != nil {
		return nil, fmt.Errorf("delete %s: %w", id, err)
	}
	c.m.begin("cluster/"+id, nil, "DeleteCacheCluster "+id)
	c.m.ack("cluster/"+id, nil)
	return r, nil
}

// engineTarget creates the one-node Redis cluster id (recorded in the
// model), waits until it is available, and returns its node's namespace,
// address and port.
func (c *campaign) engineTarget(ctx context.Context, id string) (ns, addr, port string, err error) {
	post := clusterState{engine: "redis", nodes: nodeIDs(1), groups: []string{"default"}}
	c.m.begin("cluster/"+id, post, "CreateCacheCluster "+id)
	if _, err := c.s.w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String(id), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
	}); err != nil {
		return "", "", "", fmt.Errorf("create %s: %w", id, err)
	}
	c.m.ack("cluster/"+id, post)
	clusters, err := waitConverged(ctx, c.s, c.o.converge)
	if err != nil {
		return "", "", "", err
	}
	var node ectypes.CacheNode
	for _, cl := range clusters {
		if aws.ToString(cl.CacheClusterId) == id {
			node = cl.CacheNodes[0]
		}
	}
	enis, err := c.s.ec2.DescribeNetworkInterfaces(ctx, &awsec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{{Name: aws.String("description"), Values: []string{"ElastiCache " + id + "-0001"}}},
	})
	if err != nil || len(enis.NetworkInterfaces) != 1 || node.Endpoint == nil {
		return "", "", "", fmt.Errorf("the node of %s: %v", id, err)
	}
	e := enis.NetworkInterfaces[0]
	// The node's address, not its name, which may not resolve on the host.
	return c.prefix + "-" + aws.ToString(e.NetworkInterfaceId), aws.ToString(e.PrivateIpAddress),
		strconv.Itoa(int(aws.ToInt32(node.Endpoint.Port))), nil
}

// persistence summarises the appendonly and save lines of a redis.conf.
func persistence(conf string) string {
	b, err := os.ReadFile(conf)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(l, "appendonly ") || strings.HasPrefix(l, "save ") {
			out = append(out, "`"+strings.TrimSpace(l)+"`")
		}
	}
	return strings.Join(out, ", ")
}

// enginePID is the pid of the process working in the node's directory (or
// below it), 0 if none.
func enginePID(dataDir, engineID string) int {
	dir := filepath.Join(dataDir, "engines", engineID)
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if cwd, err := os.Readlink(p + "/cwd"); err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) {
			pid, _ := strconv.Atoi(filepath.Base(p))
			return pid
		}
	}
	return 0
}
