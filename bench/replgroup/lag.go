package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
)

// Replication lag under load: a group of 1 primary + 2 replicas; the
// prober (this program re-executed inside the instance, `-lagprobe`)
// writes to the primary from lagWriters connections, pipelining
// lagPipeline SETs of lagValue bytes, and every lagSample reads INFO
// replication on each replica (slave_repl_offset) and right after on the
// primary (master_repl_offset). The lag in bytes is the difference; the
// time behind is how long ago the primary's offset was where the replica's
// is now, from a timeline of the primary's offset sampled every
// lagTimeline.
const (
	lagWriters  = 4
	lagPipeline = 16
	lagValue    = 100
	lagSample   = 100 * time.Millisecond
	lagTimeline = 2 * time.Millisecond
)

// lagFigures creates the group, runs the prober for d and prints the
// figure.
func lagFigures(ctx context.Context, s *cachalotproc.Server, inst, self string, d, poll time.Duration) error {
	const id = "lag"
	if _, err := s.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
		ReplicationGroupDescription: aws.String("bench"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(3),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	g, err := waitGroup(ctx, s, id, poll, func(ectypes.ReplicationGroup) bool { return true })
	if err != nil {
		return err
	}
	ng := g.NodeGroups[0]
	args := []string{self, "-lagprobe", "", d.String(), endpointOf(ng.PrimaryEndpoint)}
	if args[2], err = os.Readlink("/proc/self/ns/net"); err != nil {
		return err
	}
	for _, m := range ng.NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "replica" {
			args = append(args, endpointOf(m.ReadEndpoint))
		}
	}
	log.Printf("lag: probing %v for %v", args[4:], d)
	out, err := s.ExecIn(ctx, inst, args...)
	if err != nil {
		return err
	}
	fmt.Printf("## Replication lag under load\n\n")
	fmt.Printf("Group of 1 primary + 2 replicas (`cache.t3.micro`). From inside the instance, %d connections write to the primary endpoint "+
		"for %v, each pipelining %d `SET` of %d-byte values at a time, as fast as the primary answers. Every %v, INFO replication is read "+
		"on each replica (`slave_repl_offset`) and right after on the primary (`master_repl_offset`): **bytes behind** is the difference "+
		"(an upper bound: it includes the writes of one INFO round trip); **time behind** is how long before the replica's answer the "+
		"primary's offset was where the replica's is (from the primary's offset sampled every %v, interpolated; 0 when the replica is at the "+
		"last sampled offset).\n\n", lagWriters, d, lagPipeline, lagValue, lagSample, lagTimeline)
	fmt.Printf("%s\n", strings.TrimSpace(string(out)))
	fmt.Println()
	if _, err := s.EC.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)}); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

func endpointOf(e *ectypes.Endpoint) string {
	if e == nil {
		return ""
	}
	return net.JoinHostPort(aws.ToString(e.Address), strconv.Itoa(int(aws.ToInt32(e.Port))))
}

// offsetAt is the primary's replication offset at a time.
type offsetAt struct {
	t   time.Time
	off int64
}

// timeline is the primary's offset over time, appended by one goroutine
// and read by the sampler.
type timeline struct {
	mu  sync.Mutex
	pts []offsetAt
}

func (tl *timeline) add(p offsetAt) {
	tl.mu.Lock()
	tl.pts = append(tl.pts, p)
	tl.mu.Unlock()
}

// reached is when the primary's offset first reached off (interpolated
// between samples), or false if it had not by the last sample.
func (tl *timeline) reached(off int64) (time.Time, bool) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	i, _ := slices.BinarySearchFunc(tl.pts, off, func(p offsetAt, o int64) int { return int(min(max(p.off-o, -1), 1)) })
	switch {
	case i == len(tl.pts):
		return time.Time{}, false
	case i == 0:
		return tl.pts[0].t, true
	}
	a, b := tl.pts[i-1], tl.pts[i]
	frac := float64(off-a.off) / float64(b.off-a.off)
	return a.t.Add(time.Duration(frac * float64(b.t.Sub(a.t)))), true
}

// lagprobeMain is the prober: -lagprobe HOSTNS DURATION PRIMARY REPLICA…
// It prints the Markdown table on stdout.
func lagprobeMain() int {
	if len(os.Args) < 6 {
		fmt.Fprintln(os.Stderr, "usage: -lagprobe HOSTNS DURATION PRIMARY REPLICA…")
		return 2
	}
	if ns, _ := os.Readlink("/proc/self/ns/net"); ns == os.Args[2] {
		fmt.Fprintln(os.Stderr, "lagprobe: refusing to run in the host's network namespace")
		return 2
	}
	d, err := time.ParseDuration(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	primary, replicas := os.Args[4], os.Args[5:]
	if err := lagprobe(d, primary, replicas); err != nil {
		fmt.Fprintln(os.Stderr, "lagprobe:", err)
		return 1
	}
	return 0
}

func lagprobe(d time.Duration, primary string, replicas []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var writes atomic.Int64
	var wg sync.WaitGroup
	for w := range lagWriters {
		wg.Go(func() { lagWrite(ctx, primary, w, &writes) })
	}
	tl := &timeline{}
	pc, err := dialResp(primary)
	if err != nil {
		return err
	}
	defer pc.close()
	tc, err := dialResp(primary)
	if err != nil {
		return err
	}
	wg.Go(func() {
		defer tc.close()
		for ctx.Err() == nil {
			if off, err := replOffset(tc, "master_repl_offset"); err == nil {
				tl.add(offsetAt{time.Now(), off})
			}
			time.Sleep(lagTimeline)
		}
	})
	rcs := make([]*respConn, len(replicas))
	for i, r := range replicas {
		if rcs[i], err = dialResp(r); err != nil {
			return err
		}
		defer rcs[i].close()
	}
	bytesBehind := make([][]int64, len(replicas))
	timeBehind := make([][]time.Duration, len(replicas))
	start := time.Now()
	tick := time.NewTicker(lagSample)
	defer tick.Stop()
	for ctx.Err() == nil {
		<-tick.C
		for i, rc := range rcs {
			r, err := replOffset(rc, "slave_repl_offset")
			now := time.Now()
			if err != nil {
				continue
			}
			// The primary is read right after the replica: the difference
			// is an upper bound, by the writes of one INFO round trip.
			p, err := replOffset(pc, "master_repl_offset")
			if err != nil {
				continue
			}
			bytesBehind[i] = append(bytesBehind[i], max(p-r, 0))
			behind := time.Duration(0) // at or past the primary's last known offset
			if t, ok := tl.reached(r); ok {
				behind = max(now.Sub(t), 0)
			}
			timeBehind[i] = append(timeBehind[i], behind)
		}
	}
	elapsed := time.Since(start)
	wg.Wait()
	n := writes.Load()
	fmt.Printf("Writes acknowledged: %d in %v (%.0f/s, about %.1f MB/s of values).\n\n", n, elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), float64(n*lagValue)/elapsed.Seconds()/1e6)
	fmt.Printf("| replica | bytes behind p50 | p99 | max | time behind p50 | p99 | max | samples |\n|---|---|---|---|---|---|---|---|\n")
	for i, r := range replicas {
		b, t := bytesBehind[i], timeBehind[i]
		slices.Sort(b)
		slices.Sort(t)
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %d |\n", r, pct(b, 50), pct(b, 99), pct(b, 100),
			pctD(t, 50), pctD(t, 99), pctD(t, 100), len(b))
	}
	return nil
}

// lagWrite pipelines SETs to addr until ctx ends, reconnecting on errors.
func lagWrite(ctx context.Context, addr string, w int, writes *atomic.Int64) {
	value := strings.Repeat("v", lagValue)
	var b strings.Builder
	for n := range lagPipeline {
		key := fmt.Sprintf("lag:%d:%d", w, n)
		fmt.Fprintf(&b, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(value), value)
	}
	batch := b.String()
	var c *respConn
	for ctx.Err() == nil {
		if c == nil {
			var err error
			if c, err = dialResp(addr); err != nil {
				time.Sleep(retryEvery)
				continue
			}
		}
		if err := c.pipeline(batch, lagPipeline); err != nil {
			c.close()
			c = nil
			continue
		}
		writes.Add(lagPipeline)
	}
	if c != nil {
		c.close()
	}
}

// pipeline sends a batch of n commands and reads n simple replies.
func (c *respConn) pipeline(batch string, n int) error {
	_ = c.c.SetDeadline(time.Now().Add(writeTimeout))
	if _, err := c.c.Write([]byte(batch)); err != nil {
		return err
	}
	for range n {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "-") {
			return fmt.Errorf("%s", strings.TrimSpace(line[1:]))
		}
	}
	return nil
}

// replOffset reads one offset field of INFO replication.
func replOffset(c *respConn, field string) (int64, error) {
	info, err := c.do("INFO", "replication")
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO replication", field)
}

func pct(s []int64, p int) string {
	if len(s) == 0 {
		return "–"
	}
	return strconv.FormatInt(s[min(len(s)*p/100, len(s)-1)], 10)
}

func pctD(s []time.Duration, p int) string {
	if len(s) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", float64(s[min(len(s)*p/100, len(s)-1)].Microseconds())/1000)
}
