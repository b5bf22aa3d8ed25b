package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
)

// Replication groups (issue 12) in the campaign: created (1 primary and 1
// or 2 replicas, automatic failover on or off), failed over with
// TestFailover, deleted — each call possibly cut by the kill. After a
// restart every group must converge, available with exactly one primary
// among its members (waitGroupsConverged); its member clusters are
// checked as clusters by the kernel checks (one engine per node, in its
// namespace).

// maxReplicationGroups bounds a worker's live groups (2–3 engines each).
const maxReplicationGroups = 1

// rgState is a replication group: its member count and whether automatic
// failover is on. Who is primary is not part of it: a failover may move
// it at any time.
type rgState struct {
	members  int
	failover bool
}

func (g rgState) String() string { return fmt.Sprintf("members=%d failover=%v", g.members, g.failover) }

func (w *worker) createReplicationGroup() *call {
	if len(w.present("rg")) >= maxReplicationGroups || !containsEngine(w.engines, "redis") {
		return nil
	}
	id := w.name("crg")
	post := rgState{members: 2 + w.rng.IntN(2), failover: w.rng.IntN(2) == 0}
	gid := w.defSG // a worker's own groups come and go; the default group stays
	return &call{key: "rg/" + id, op: "CreateReplicationGroup " + id, post: post, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{
			ReplicationGroupId: aws.String(id), ReplicationGroupDescription: aws.String("crash campaign"), Engine: aws.String("redis"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(int32(post.members)),
			AutomaticFailoverEnabled: aws.Bool(post.failover), SecurityGroupIds: []string{gid},
		})
		return post, err
	}}
}

func (w *worker) deleteReplicationGroup() *call {
	gs := w.present("rg")
	if len(gs) == 0 {
		return nil
	}
	k := w.any(gs)
	return &call{key: k, op: "DeleteReplicationGroup " + nameOf(k), do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(nameOf(k))})
		return nil, err
	}}
}

// testFailover changes who is primary, not the group's state.
func (w *worker) testFailover() *call {
	var gs []string
	for _, k := range w.present("rg") {
		if w.m.get(k).(rgState).failover {
			gs = append(gs, k)
		}
	}
	if len(gs) == 0 {
		return nil
	}
	k := w.any(gs)
	cur := w.m.get(k)
	return &call{key: k, op: "TestFailover " + nameOf(k), post: cur, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String(nameOf(k)), NodeGroupId: aws.String("0001")})
		return cur, err
	}}
}

// observeGroups adds every replication group to the observation.
func observeGroups(ctx context.Context, s *server, o *observation) error {
	groups, err := describeGroups(ctx, s)
	if err != nil {
		return err
	}
	for _, g := range groups {
		f := g.AutomaticFailover == ectypes.AutomaticFailoverStatusEnabled || g.AutomaticFailover == ectypes.AutomaticFailoverStatusEnabling
		o.states["rg/"+aws.ToString(g.ReplicationGroupId)] = rgState{members: len(g.MemberClusters), failover: f}
	}
	return nil
}

func describeGroups(ctx context.Context, s *server) ([]ectypes.ReplicationGroup, error) {
	var out []ectypes.ReplicationGroup
	var marker *string
	for {
		page, err := s.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{Marker: marker})
		if err != nil {
			return nil, fmt.Errorf("describe replication groups: %w", err)
		}
		out = append(out, page.ReplicationGroups...)
		if marker = page.Marker; marker == nil {
			return out, nil
		}
	}
}

// waitGroupsConverged waits until every replication group is available
// with exactly one primary, every member in the group's node group: what
// the group controller owes after a restart (a failover half done when the
// service died is finished).
func waitGroupsConverged(ctx context.Context, s *server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		groups, err := describeGroups(ctx, s)
		var pending []string
		if err == nil {
			for _, g := range groups {
				primaries := 0
				members := g.NodeGroups[0].NodeGroupMembers
				for _, m := range members {
					if aws.ToString(m.CurrentRole) == "primary" {
						primaries++
					}
				}
				if st := aws.ToString(g.Status); st != "available" || primaries != 1 || len(members) != len(g.MemberClusters) {
					pending = append(pending, fmt.Sprintf("%s (%s, %d primaries, %d/%d members)", aws.ToString(g.ReplicationGroupId), st,
						primaries, len(members), len(g.MemberClusters)))
				}
			}
			if len(pending) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("not converged after %v: %w", limit, err)
			}
			return fmt.Errorf("not converged after %v: %v", limit, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// servicePeering adds what the network plane makes for a replication
// group's members, which the EC2 API does not show (internal/ec2,
// servicepeering.go): a synthetic group per group, sg-peering<hash of
// account/region/label>, attached to the members' interfaces, whose two
// rules (sgr-peering-in, sgr-peering-out) reference itself.
func (snap *netSnapshot) servicePeering(account string, clusters []ectypes.CacheCluster) {
	made := map[string]bool{}
	for _, c := range clusters {
		rg := aws.ToString(c.ReplicationGroupId)
		if rg == "" {
			continue
		}
		sum := sha256.Sum256([]byte(account + "/" + region + "/elasticache replication group " + rg))
		gid := "sg-peering" + hex.EncodeToString(sum[:])[:17]
		for _, n := range c.CacheNodes {
			desc := "ElastiCache " + aws.ToString(c.CacheClusterId) + "-" + aws.ToString(n.CacheNodeId)
			for i := range snap.enis {
				if snap.enis[i].desc == desc {
					snap.enis[i].groups = append(snap.enis[i].groups, gid)
				}
			}
		}
		if !made[gid] {
			made[gid] = true
			snap.rules = append(snap.rules, ruleInfo{id: "sgr-peering-in", group: gid, ref: gid}, ruleInfo{id: "sgr-peering-out", group: gid, ref: gid})
		}
	}
}
