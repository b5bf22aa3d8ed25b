package elasticache

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Replica counts of cluster-mode groups: IncreaseReplicaCount and
// DecreaseReplicaCount per shard (ReplicaConfiguration), for every shard
// (NewReplicaCount), or by member (ReplicasToRemove). New replicas are
// members like the others (<rg>-0002-003); the group controller has them
// meet the cluster and follow their shard's primary. A removed replica is
// deleted, and forgotten by the cluster once it is gone.

// shardCounts is the replica count a request asks of each shard, by node
// group id, and the zones of each shard's new replicas.
type shardCounts struct {
	count map[string]int
	azs   map[string][]string
}

// shardCountsOf reads NewReplicaCount (every shard) or
// ReplicaConfiguration (the shards named) against g.
func shardCountsOf(g *ReplicationGroup, apply *bool, n *int32, conf []elasticacheapi.ConfigureShard) (shardCounts, bool, error) {
	sc := shardCounts{count: map[string]int{}, azs: map[string][]string{}}
	switch {
	case !aws.ToBool(apply):
		return sc, false, invalid("ApplyImmediately must be true: replica counts change immediately.")
	case n != nil && len(conf) > 0:
		return sc, false, combination("Only one of NewReplicaCount and ReplicaConfiguration may be specified.")
	case n != nil:
		for _, sh := range g.Shards {
			sc.count[sh.ID] = int(*n)
		}
	case len(conf) > 0:
		for _, c := range conf {
			id := aws.ToString(c.NodeGroupId)
			if _, ok := g.Shard(id); !ok {
				return sc, false, elasticacheapi.ErrNodeGroupNotFoundFault("The node group %s was not found in replication group %s.", id, g.ID)
			}
			if _, dup := sc.count[id]; dup {
				return sc, false, invalid("The node group %s is configured more than once.", id)
			}
			sc.count[id], sc.azs[id] = int(aws.ToInt32(c.NewReplicaCount)), c.PreferredAvailabilityZones
		}
	default:
		return sc, false, nil
	}
	for id, k := range sc.count {
		if k < 0 || k > maxGroupMembers-1 {
			return sc, false, invalid("NewReplicaCount must be between 0 and %d, not %d (node group %s).", maxGroupMembers-1, k, id)
		}
		if g.MultiAZ && k < 1 {
			return sc, false, combination("Multi-AZ requires at least one replica in every node group; node group %s would have none.", id)
		}
	}
	return sc, true, nil
}

// increaseClusterReplicas is IncreaseReplicaCount of a cluster-mode group.
func (s *Service) increaseClusterReplicas(ctx context.Context, scope auth.Scope, in *elasticacheapi.IncreaseReplicaCountMessage) (*elasticacheapi.IncreaseReplicaCountResult, error) {
	sg, err := s.groupPlacement(ctx, scope, aws.ToString(in.ReplicationGroupId))
	if err != nil {
		return nil, err
	}
	g, members, err := s.modifyGroup(ctx, aws.ToString(in.ReplicationGroupId), func(tx store.Tx, g *ReplicationGroup, _ []*Cluster) ([]*Cluster, bool, error) {
		sc, ok, err := shardCountsOf(g, in.ApplyImmediately, in.NewReplicaCount, in.ReplicaConfiguration)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, invalid("Either NewReplicaCount or ReplicaConfiguration must be provided.")
		}
		var added []*Cluster
		for i := range g.Shards {
			sh := &g.Shards[i]
			want, named := sc.count[sh.ID]
			have := len(sh.Members) - 1
			switch {
			case !named || want == have:
				continue
			case want < have:
				return nil, false, invalid("NewReplicaCount %d of node group %s is less than its replica count %d; use DecreaseReplicaCount.", want, sh.ID, have)
			case len(sc.azs[sh.ID]) > 0 && len(sc.azs[sh.ID]) != want-have:
				return nil, false, invalid("The number of PreferredAvailabilityZones (%d) must match the number of replicas added to node group %s (%d).", len(sc.azs[sh.ID]), sh.ID, want-have)
			}
			zones, err := assignAZs(sg, sc.azs[sh.ID], want-have, "cross-az")
			if err != nil {
				return nil, false, err
			}
			for _, zone := range zones {
				id, err := nextShardMemberID(tx, g, sh)
				if err != nil {
					return nil, false, err
				}
				c := s.newMember(g, id, zone)
				sh.Members = append(sh.Members, id)
				g.Members = append(g.Members, id)
				added = append(added, c)
			}
		}
		if len(added) == 0 {
			return nil, false, elasticacheapi.ErrNoOperationFault("Replication group %s already has the replica counts asked for.", g.ID)
		}
		return added, true, nil
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.IncreaseReplicaCountResult{ReplicationGroup: out}, nil
}

// nextShardMemberID is the id of a shard's next member: its members'
// prefix (<rg>-0002-) numbered after the highest in use, skipping ids
// other clusters hold.
func nextShardMemberID(tx store.Tx, g *ReplicationGroup, sh *Shard) (string, error) {
	first := sh.Members[0]
	prefix := first[:strings.LastIndexByte(first, '-')+1]
	next := 1
	for _, m := range sh.Members {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(m, prefix), "%03d", &n); err == nil && n >= next {
			next = n + 1
		}
	}
	for ; next < 1000; next++ {
		id := fmt.Sprintf("%s%03d", prefix, next)
		if _, err := tx.Get(clusterKey(g.Account, g.Region, id)); err != nil && !slices.Contains(g.Members, id) {
			return id, nil
		}
	}
	return "", elasticacheapi.ErrNodeQuotaForClusterExceededFault("Node group %s of replication group %s has no member id left.", sh.ID, g.ID)
}

// decreaseClusterReplicas is DecreaseReplicaCount of a cluster-mode group:
// the replicas named, or each shard's last ones down to its new count.
func (s *Service) decreaseClusterReplicas(ctx context.Context, scope auth.Scope, in *elasticacheapi.DecreaseReplicaCountMessage) (*elasticacheapi.DecreaseReplicaCountResult, error) {
	g, members, err := s.modifyGroup(ctx, aws.ToString(in.ReplicationGroupId), func(_ store.Tx, g *ReplicationGroup, members []*Cluster) ([]*Cluster, bool, error) {
		remove, err := shardReplicasToRemove(g, in)
		if err != nil {
			return nil, false, err
		}
		var gone []*Cluster
		for _, c := range members {
			if slices.Contains(remove, c.ID) {
				markDeleting(c)
				c.ReplicationGroupID, c.ReplicaOf, c.HoldOnCrash = "", "", false
				gone = append(gone, c)
			}
		}
		for i := range g.Shards {
			g.Shards[i].Members = slices.DeleteFunc(g.Shards[i].Members, func(id string) bool { return slices.Contains(remove, id) })
		}
		g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return slices.Contains(remove, id) })
		return gone, true, nil
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.DecreaseReplicaCountResult{ReplicationGroup: out}, nil
}

// shardReplicasToRemove is the members a DecreaseReplicaCount request
// removes from a cluster-mode group, checked against AWS's rules.
func shardReplicasToRemove(g *ReplicationGroup, in *elasticacheapi.DecreaseReplicaCountMessage) ([]string, error) {
	sc, byCount, err := shardCountsOf(g, in.ApplyImmediately, in.NewReplicaCount, in.ReplicaConfiguration)
	if err != nil {
		return nil, err
	}
	switch {
	case byCount && len(in.ReplicasToRemove) > 0:
		return nil, combination("Only one of NewReplicaCount, ReplicaConfiguration and ReplicasToRemove may be specified.")
	case !byCount && len(in.ReplicasToRemove) == 0:
		return nil, invalid("Either NewReplicaCount, ReplicaConfiguration or ReplicasToRemove must be provided.")
	}
	var remove []string
	for _, sh := range g.Shards {
		left := len(sh.Members) - 1
		for _, id := range in.ReplicasToRemove {
			id = strings.ToLower(id)
			if !slices.Contains(sh.Members, id) {
				continue
			}
			if id == sh.Primary {
				return nil, invalid("Cache cluster %s is the primary of node group %s and cannot be removed.", id, sh.ID)
			}
			remove = append(remove, id)
			left--
		}
		if want, ok := sc.count[sh.ID]; ok {
			if want > left {
				return nil, invalid("NewReplicaCount %d of node group %s is more than its replica count %d; use IncreaseReplicaCount.", want, sh.ID, left)
			}
			for i := len(sh.Members) - 1; i >= 0 && left > want; i-- {
				if id := sh.Members[i]; id != sh.Primary {
					remove, left = append(remove, id), left-1
				}
			}
		}
		if g.MultiAZ && left < 1 {
			return nil, combination("Multi-AZ requires at least one replica in every node group; node group %s would have none.", sh.ID)
		}
	}
	for _, id := range in.ReplicasToRemove {
		if !slices.Contains(remove, strings.ToLower(id)) {
			return nil, elasticacheapi.ErrCacheClusterNotFoundFault("Cache cluster %s is not a member of replication group %s.", id, g.ID)
		}
	}
	if len(remove) == 0 {
		return nil, elasticacheapi.ErrNoOperationFault("Replication group %s already has the replica counts asked for.", g.ID)
	}
	return remove, nil
}
