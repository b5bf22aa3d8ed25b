package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
)

// createFigures: CreateReplicationGroup (1 primary + 5 replicas) until
// Describe says available, then DeleteReplicationGroup until it is gone.
func createFigures(ctx context.Context, s *cachalotproc.Server, o options) error {
	var available, deleted []time.Duration
	for i := range o.creations {
		id := fmt.Sprintf("create-%02d", i)
		t0 := time.Now()
		if _, err := s.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
			ReplicationGroupDescription: aws.String("bench"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(6),
			AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
			return fmt.Errorf("create %s: %w", id, err)
		}
		if _, err := waitGroup(ctx, s, id, o.poll, func(ectypes.ReplicationGroup) bool { return true }); err != nil {
			return err
		}
		available = append(available, time.Since(t0))
		t1 := time.Now()
		if _, err := s.EC.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(id)}); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
		for {
			_, err := s.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
			if err != nil && strings.Contains(err.Error(), "ReplicationGroupNotFoundFault") {
				break
			}
			if time.Since(t1) > time.Minute || ctx.Err() != nil {
				return fmt.Errorf("%s not deleted after a minute: %v", id, err)
			}
			time.Sleep(o.poll)
		}
		deleted = append(deleted, time.Since(t1))
	}
	fmt.Printf("## 1. Create 1 primary + 5 replicas\n\n")
	fmt.Printf("CreateReplicationGroup (`cache.t3.micro`, NumCacheClusters 6, automatic failover) until DescribeReplicationGroups says "+
		"`available` (every replica replicating, link up), polled every %v; then DeleteReplicationGroup until ReplicationGroupNotFoundFault.\n\n", o.poll)
	fmt.Printf("| measure | p50 | max | n |\n|---|---|---|---|\n")
	fmt.Printf("| create → available %s\n| delete → gone %s\n\n", summary(available), summary(deleted))
	return nil
}

// failoverFigures: a group of 1 primary + 2 replicas with automatic
// failover; primaries killed while the writer writes, then TestFailover.
func failoverFigures(ctx context.Context, s *cachalotproc.Server, wr *writerProc, o options) error {
	const id = "bench"
	if _, err := s.EC.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
		ReplicationGroupDescription: aws.String("bench"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(3),
		AutomaticFailoverEnabled: aws.Bool(true), MultiAZEnabled: aws.Bool(true)}); err != nil {
		return err
	}
	g, err := waitGroup(ctx, s, id, o.poll, func(ectypes.ReplicationGroup) bool { return true })
	if err != nil {
		return err
	}
	endpoint := net.JoinHostPort(aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), strconv.Itoa(int(aws.ToInt32(g.NodeGroups[0].PrimaryEndpoint.Port))))
	var resume, resumeWait []time.Duration
	var lost, lostWait, acked, ackedWait []int
	for i := range o.kills + o.kills/2 {
		wait := i >= o.kills
		d, l, a, err := killRun(ctx, s, wr, id, endpoint, i, wait, o.poll)
		if err != nil {
			return err
		}
		if wait {
			resumeWait, lostWait, ackedWait = append(resumeWait, d), append(lostWait, l), append(ackedWait, a)
		} else {
			resume, lost, acked = append(resume, d), append(lost, l), append(acked, a)
		}
		log.Printf("kill %d (wait %v): resumed after %s, %d of %d acknowledged writes lost", i, wait, ms(d), l, a)
	}
	if o.kills > 0 {
		fmt.Printf("## 2. Primary killed → first write accepted through the primary endpoint\n\n")
		fmt.Printf("A client inside the instance writes `SET w:<run>:<n>` continuously (timeout %v, retry every %v) to the primary endpoint, "+
			"by its DNS name, resolved by the VPC's DNS server at every (re)connection. After 300 ms of writes, `kill -9` of the primary's engine; "+
			"the clock runs from the kill to the first write acknowledged after it. Then the client checks every acknowledged key on the new primary: "+
			"**lost** counts those missing (asynchronous replication). The same with `WAIT 1 100` after each SET (acknowledged only once a replica "+
			"has it).\n\n", writeTimeout, retryEvery)
		fmt.Printf("| client | p50 | max | n |\n|---|---|---|---|\n")
		fmt.Printf("| SET %s\n| SET + WAIT 1 %s\n\n", summary(resume), summary(resumeWait))
		fmt.Printf("Writes lost per failover: SET: %s (of %s acknowledged); SET + WAIT 1: %s (of %s).\n\n", ints(lost), ints(acked), ints(lostWait), ints(ackedWait))
	}
	if o.tests > 0 {
		return testFailoverFigures(ctx, s, id, o)
	}
	return nil
}

// killRun is one kill: writes, kill -9 of the primary, the endpoint
// followed until the group is available again, then the count of lost
// writes.
func killRun(ctx context.Context, s *cachalotproc.Server, wr *writerProc, id, endpoint string, i int, wait bool, poll time.Duration) (time.Duration, int, int, error) {
	g, err := waitGroup(ctx, s, id, poll, func(ectypes.ReplicationGroup) bool { return true })
	if err != nil {
		return 0, 0, 0, err
	}
	primary := primaryOf(g)
	run := strconv.Itoa(i)
	w := "0"
	if wait {
		w = "1"
	}
	if err := wr.Send("run %s %s %s", run, endpoint, w); err != nil {
		return 0, 0, 0, err
	}
	time.Sleep(300 * time.Millisecond)
	pids := cachalotproc.NodePIDs(s.Account + ".us-east-1." + primary + ".0001")
	if len(pids) != 1 {
		return 0, 0, 0, fmt.Errorf("engine of %s: pids %v", primary, pids)
	}
	t0 := time.Now()
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		return 0, 0, 0, err
	}
	resumed := make(chan int64, 1)
	go func() {
		line, err := wr.Read(30 * time.Second)
		if err == nil && strings.HasPrefix(line, "resumed "+run+" ") {
			ns, _ := strconv.ParseInt(strings.Fields(line)[2], 10, 64)
			resumed <- ns
			return
		}
		log.Printf("writer: %q %v", line, err)
		resumed <- 0
	}()
	var at int64
	select {
	case at = <-resumed:
		if at == 0 {
			return 0, 0, 0, errors.New("the writer did not resume")
		}
	case <-ctx.Done():
		return 0, 0, 0, ctx.Err()
	}
	d := time.Unix(0, at).Sub(t0)
	if _, err := waitGroup(ctx, s, id, poll, func(g ectypes.ReplicationGroup) bool { return primaryOf(g) != primary }); err != nil {
		return 0, 0, 0, err
	}
	if err := wr.Send("stop %s", run); err != nil {
		return 0, 0, 0, err
	}
	// A write timing out later (a loaded host) is another "resumed": skip.
	line, err := wr.Read(30 * time.Second)
	for err == nil && strings.HasPrefix(line, "resumed ") {
		line, err = wr.Read(30 * time.Second)
	}
	f := strings.Fields(line)
	if err != nil || len(f) != 4 || f[0] != "lost" {
		return 0, 0, 0, fmt.Errorf("writer: %q %v", line, err)
	}
	lost, _ := strconv.Atoi(f[2])
	acked, _ := strconv.Atoi(f[3])
	return d, lost, acked, nil
}

// testFailoverFigures: TestFailover → "Failover … completed" event, and →
// available.
func testFailoverFigures(ctx context.Context, s *cachalotproc.Server, id string, o options) error {
	var event, available []time.Duration
	for range o.tests {
		g, err := waitGroup(ctx, s, id, o.poll, func(ectypes.ReplicationGroup) bool { return true })
		if err != nil {
			return err
		}
		before := primaryOf(g)
		t0 := time.Now()
		if _, err := s.EC.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String(id), NodeGroupId: aws.String("0001")}); err != nil {
			return err
		}
		for {
			ev, err := s.EC.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: ectypes.SourceTypeReplicationGroup,
				SourceIdentifier: aws.String(id), StartTime: aws.Time(t0.Add(-time.Second))})
			if err != nil {
				return err
			}
			found := false
			for _, e := range ev.Events {
				found = found || strings.HasPrefix(aws.ToString(e.Message), "Failover from primary node "+before)
			}
			if found {
				event = append(event, time.Since(t0))
				break
			}
			if time.Since(t0) > time.Minute {
				return errors.New("no failover event after a minute")
			}
			time.Sleep(o.poll)
		}
		if _, err := waitGroup(ctx, s, id, o.poll, func(g ectypes.ReplicationGroup) bool { return primaryOf(g) != before }); err != nil {
			return err
		}
		available = append(available, time.Since(t0))
	}
	fmt.Printf("## 3. TestFailover\n\n")
	fmt.Printf("TestFailover on the same group; DescribeEvents (replication-group) and DescribeReplicationGroups polled every %v.\n\n", o.poll)
	fmt.Printf("| measure | p50 | max | n |\n|---|---|---|---|\n")
	fmt.Printf("| call → \"Failover from primary node … completed\" %s\n| call → available, the old primary replaced and replicating %s\n\n", summary(event), summary(available))
	return nil
}

func ints(v []int) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, " ")
}

func describe(ctx context.Context, s *cachalotproc.Server, id string) (ectypes.ReplicationGroup, error) {
	out, err := s.EC.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	if err != nil {
		return ectypes.ReplicationGroup{}, err
	}
	return out.ReplicationGroups[0], nil
}

// waitGroup polls until the group is available and cond holds.
func waitGroup(ctx context.Context, s *cachalotproc.Server, id string, poll time.Duration, cond func(ectypes.ReplicationGroup) bool) (ectypes.ReplicationGroup, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		g, err := describe(ctx, s, id)
		if err == nil && aws.ToString(g.Status) == "available" && cond(g) {
			return g, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return g, fmt.Errorf("group %s is %s after 2 minutes: %v", id, aws.ToString(g.Status), err)
		}
		time.Sleep(poll)
	}
}

func primaryOf(g ectypes.ReplicationGroup) string {
	if len(g.NodeGroups) == 0 {
		return ""
	}
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "primary" {
			return aws.ToString(m.CacheClusterId)
		}
	}
	return ""
}

// writerProc is the parent's handle on the writer.
type writerProc struct{ *cachalotproc.Child }

func startWriter(ctx context.Context, s *cachalotproc.Server, inst, self string) (*writerProc, error) {
	c, err := s.StartLineChild(ctx, inst, self, "-writer", 10*time.Second, 50, 20*time.Millisecond)
	if err != nil {
		return nil, err
	}
	return &writerProc{c}, nil
}
