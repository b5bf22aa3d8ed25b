package elasticache

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Online resharding of cluster-mode groups: ModifyReplicationGroupShardConfiguration
// scales out (new node groups, each with as many nodes as the smallest
// shard, as AWS does), scales in (NodeGroupsToRemove or NodeGroupsToRetain)
// or rebalances (the same count). The request writes the desired layout —
// every node group's slots afterwards (Resharding.Target) — and the new
// shards' members, in one transaction; the group controller
// (internal/cachectl, reshard.go) moves the slots live with the engine's
// own mechanism (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT
// NODE), slot by slot, each move idempotent, so a resharding half done when
// the service died is finished after its restart. When every slot is where
// Target says, FinishResharding writes the new layout and deletes the
// removed shards' members.

// Resharding is an online resharding in progress.
type Resharding struct {
	// Target is every node group's slots once done, by node group id;
	// node groups being removed are not in it.
	Target map[string]string
	// Remove are the node groups removed once their slots are moved.
	Remove []string `json:",omitempty"`
	// Total is the number of slots that change owner; Moved how many had
	// when the group controller last looked.
	Total, Moved int
	From, To     int // node group counts before and after
	Started      time.Time
	// Drained is when every slot was found where Target says: the removed
	// node groups' nodes are kept a while after (answering MOVED), so
	// that clients with an old map of the slots are redirected rather
	// than left with a node that is gone.
	Drained time.Time `json:",omitempty"`
}

// ReshardDrain is how long a resharding keeps the removed node groups'
// nodes once their slots are moved.
const ReshardDrain = 5 * time.Second

// Progress is the resharding's ProgressPercentage.
func (r *Resharding) Progress() float64 {
	if r.Total == 0 {
		return 100
	}
	return float64(min(r.Moved, r.Total)) * 100 / float64(r.Total)
}

// ReshardStartedMessage and ReshardDoneMessage are the events of an online
// resharding (source type replication-group).
func ReshardStartedMessage(id string, from, to int) string {
	return fmt.Sprintf("Modifying shard configuration of replication group %s from %d to %d node groups", id, from, to)
}

// ReshardDoneMessage: see ReshardStartedMessage.
func ReshardDoneMessage(id string, from, to int) string {
	return fmt.Sprintf("Completed shard configuration modification of replication group %s from %d to %d node groups", id, from, to)
}

// ModifyReplicationGroupShardConfiguration starts an online resharding of
// a cluster-mode group.
func (s *Service) ModifyReplicationGroupShardConfiguration(ctx context.Context, in *elasticacheapi.ModifyReplicationGroupShardConfigurationMessage) (*elasticacheapi.ModifyReplicationGroupShardConfigurationResult, error) {
	scope := auth.ScopeFrom(ctx)
	id := aws.ToString(in.ReplicationGroupId)
	n := int(aws.ToInt32(in.NodeGroupCount))
	switch {
	case !aws.ToBool(in.ApplyImmediately):
		return nil, invalid("The only permitted value for ApplyImmediately is true: shard configuration changes apply immediately.")
	case in.NodeGroupCount == nil:
		return nil, invalid("The parameter NodeGroupCount must be provided.")
	case n < 1:
		return nil, invalid("NodeGroupCount must be at least 1, not %d: a replication group cannot remove all of its node groups.", n)
	case n > maxShards:
		return nil, elasticacheapi.ErrNodeGroupsPerReplicationGroupQuotaExceededFault("NodeGroupCount %d exceeds the maximum number of node groups per replication group (%d).", n, maxShards)
	case len(in.NodeGroupsToRemove) > 0 && len(in.NodeGroupsToRetain) > 0:
		return nil, combination("Only one of NodeGroupsToRemove and NodeGroupsToRetain may be specified.")
	}
	var sg *SubnetGroup
	if len(in.NodeGroupsToRemove) == 0 && len(in.NodeGroupsToRetain) == 0 {
		var err error
		if sg, err = s.groupPlacement(ctx, scope, id); err != nil {
			return nil, err
		}
	}
	now := s.cfg.Now()
	g, members, err := s.modifyGroup(ctx, id, func(tx store.Tx, g *ReplicationGroup, members []*Cluster) ([]*Cluster, bool, error) {
		if g.ClusterMode == ClusterModeCompatible {
			return nil, false, combination("Replication group %s is in cluster mode compatible: change its cluster mode to enabled before modifying its shard configuration.", g.ID)
		}
		if !g.ClusterEnabled() {
			return nil, false, invalid("Replication group %s does not have cluster mode enabled: its shard configuration cannot be modified.", g.ID)
		}
		if g.Failover != nil {
			return nil, false, elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in the available state: a failover is in progress.", g.ID)
		}
		cur := len(g.Shards)
		var added []*Cluster
		var keep, remove []string
		switch {
		case n > cur || (n == cur && len(in.NodeGroupsToRemove)+len(in.NodeGroupsToRetain) == 0):
			if len(in.NodeGroupsToRemove) > 0 || len(in.NodeGroupsToRetain) > 0 {
				return nil, false, combination("NodeGroupsToRemove and NodeGroupsToRetain can be specified only when NodeGroupCount (%d) is less than the current number of node groups (%d).", n, cur)
			}
			for _, sh := range g.Shards {
				keep = append(keep, sh.ID)
			}
			var err error
			if added, err = s.addShards(tx, g, sg, n-cur, in.ReshardingConfiguration); err != nil {
				return nil, false, err
			}
			for _, sh := range g.Shards[cur:] {
				keep = append(keep, sh.ID)
			}
		case n == cur:
			return nil, false, combination("NodeGroupsToRemove and NodeGroupsToRetain can be specified only when NodeGroupCount (%d) is less than the current number of node groups (%d).", n, cur)
		default:
			if len(in.ReshardingConfiguration) > 0 {
				return nil, false, combination("ReshardingConfiguration can be specified only when NodeGroupCount (%d) is greater than the current number of node groups (%d).", n, cur)
			}
			var err error
			if keep, remove, err = shardsToKeep(g, n, in.NodeGroupsToRemove, in.NodeGroupsToRetain); err != nil {
				return nil, false, err
			}
		}
		target, moved := reshardPlan(g.Shards, keep)
		if moved == 0 && len(added) == 0 && len(remove) == 0 {
			return nil, false, elasticacheapi.ErrInvalidParameterValueException("Replication group %s already has %d node groups with its slots evenly distributed.", g.ID, cur)
		}
		g.Resharding = &Resharding{Target: target, Remove: remove, Total: moved, From: cur, To: n, Started: now}
		if err := s.putGroupEvent(tx, g, ReshardStartedMessage(g.ID, cur, n)); err != nil {
			return nil, false, err
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
	return &elasticacheapi.ModifyReplicationGroupShardConfigurationResult{ReplicationGroup: out}, nil
}

// addShards adds count node groups to g with their members: as many
// nodes as its smallest shard, ids after the highest numeric id, zones from
// ReshardingConfiguration (one entry per new node group, or one per node
// group of the result) or placement.
func (s *Service) addShards(tx store.Tx, g *ReplicationGroup, sg *SubnetGroup, count int, conf []elasticacheapi.ReshardingConfiguration) ([]*Cluster, error) {
	cur := len(g.Shards)
	switch {
	case count == 0 && len(conf) > 0:
		return nil, combination("ReshardingConfiguration can be specified only when NodeGroupCount is greater than the current number of node groups (%d).", cur)
	case len(conf) > 0 && len(conf) != count && len(conf) != cur+count:
		return nil, invalid("ReshardingConfiguration has %d entries; it must have one for each node group (%d) or for each node group added (%d).", len(conf), cur+count, count)
	}
	if len(conf) == cur+count {
		conf = conf[cur:]
	}
	size := maxGroupMembers
	for _, sh := range g.Shards {
		size = min(size, len(sh.Members))
	}
	next := 1
	for _, sh := range g.Shards {
		if k, err := strconv.Atoi(sh.ID); err == nil && k >= next {
			next = k + 1
		}
	}
	var added []*Cluster
	for i := range count {
		var azs []string
		idWanted := ""
		if i < len(conf) {
			azs, idWanted = conf[i].PreferredAvailabilityZones, aws.ToString(conf[i].NodeGroupId)
			if len(azs) > 0 && len(azs) != size {
				return nil, invalid("ReshardingConfiguration of node group %d has %d PreferredAvailabilityZones; each new node group has %d nodes.", cur+i+1, len(azs), size)
			}
		}
		shID := idWanted
		if shID == "" {
			for ; ; next++ {
				if _, taken := g.Shard(fmt.Sprintf("%04d", next)); !taken && !memberPrefixTaken(tx, g, fmt.Sprintf("%04d", next)) {
					break
				}
			}
			shID = fmt.Sprintf("%04d", next)
			next++
		} else if !nodeGroupIDRE.MatchString(shID) {
			return nil, invalid("Invalid NodeGroupId %q: it must be 1 to 4 letters or digits.", shID)
		}
		if _, dup := g.Shard(shID); dup || memberPrefixTaken(tx, g, shID) {
			return nil, invalid("The node group id %s is already used in replication group %s.", shID, g.ID)
		}
		zones, err := assignAZs(sg, azs, size, "cross-az")
		if err != nil {
			return nil, err
		}
		sh := Shard{ID: shID}
		for k, zone := range zones {
			mid := fmt.Sprintf("%s-%s-%03d", g.ID, shID, k+1)
			c := s.newMember(g, mid, zone)
			sh.Members = append(sh.Members, mid)
			g.Members = append(g.Members, mid)
			added = append(added, c)
		}
		sh.Primary = sh.Members[0]
		g.Shards = append(g.Shards, sh)
	}
	return added, nil
}

// memberPrefixTaken reports whether a cluster <rg>-<shID>-001 exists or
// is a member (a node group numbered so by its position at creation).
func memberPrefixTaken(tx store.Tx, g *ReplicationGroup, shID string) bool {
	prefix := g.ID + "-" + shID + "-"
	if slices.ContainsFunc(g.Members, func(m string) bool { return strings.HasPrefix(m, prefix) }) {
		return true
	}
	_, err := tx.Get(clusterKey(g.Account, g.Region, prefix+"001"))
	return err == nil
}

// shardsToKeep checks a scale-in's NodeGroupsToRemove or NodeGroupsToRetain
// against g and returns the node groups kept (in order) and removed.
func shardsToKeep(g *ReplicationGroup, n int, toRemove, toRetain []string) (keep, remove []string, err error) {
	cur := len(g.Shards)
	named := toRemove
	if len(toRetain) > 0 {
		named = toRetain
	}
	if len(named) == 0 {
		return nil, nil, invalid("NodeGroupCount %d is less than the current number of node groups (%d): NodeGroupsToRemove or NodeGroupsToRetain is required.", n, cur)
	}
	seen := map[string]bool{}
	for _, id := range named {
		id = strings.TrimSpace(id)
		if _, ok := g.Shard(id); !ok {
			return nil, nil, invalid("The node group %s was not found in replication group %s.", id, g.ID)
		}
		if seen[id] {
			return nil, nil, invalid("The node group %s is listed more than once.", id)
		}
		seen[id] = true
	}
	if len(toRetain) > 0 && len(toRetain) != n {
		return nil, nil, invalid("NodeGroupsToRetain lists %d node groups; it must list NodeGroupCount (%d).", len(toRetain), n)
	}
	if len(toRemove) > 0 {
		if len(toRemove) >= cur {
			return nil, nil, invalid("Cannot remove all node groups of replication group %s.", g.ID)
		}
		if len(toRemove) != cur-n {
			return nil, nil, invalid("NodeGroupsToRemove lists %d node groups; it must list the current number of node groups (%d) minus NodeGroupCount (%d).", len(toRemove), cur, n)
		}
	}
	for _, sh := range g.Shards {
		if seen[sh.ID] == (len(toRetain) > 0) {
			keep = append(keep, sh.ID)
		} else {
			remove = append(remove, sh.ID)
		}
	}
	return keep, remove, nil
}

// reshardPlan is AWS's even distribution of the slots over the node groups
// keep (in order), moving as few as possible: each kept node group keeps
// its lowest slots up to its share (16384/len(keep), the first ones one
// more), the rest and the removed node groups' slots go, in order, to the
// node groups short of their share. It returns every kept node group's
// slots and how many slots change owner.
func reshardPlan(shards []Shard, keep []string) (map[string]string, int) {
	owner := make([]string, SlotCount)
	for _, sh := range shards {
		rs, _ := ParseSlots(sh.Slots)
		for _, r := range rs {
			for k := r.From; k <= r.To; k++ {
				owner[k] = sh.ID
			}
		}
	}
	share := map[string]int{}
	for i, id := range keep {
		share[id] = SlotCount / len(keep)
		if i < SlotCount%len(keep) {
			share[id]++
		}
	}
	next := make([]string, SlotCount)
	have := map[string]int{}
	var free []int
	for k, o := range owner {
		if _, kept := share[o]; kept && have[o] < share[o] {
			next[k] = o
			have[o]++
		} else {
			free = append(free, k)
		}
	}
	moved := 0
	i := 0
	for _, id := range keep {
		for ; have[id] < share[id] && i < len(free); i++ {
			next[free[i]] = id
			have[id]++
			moved++
		}
	}
	out := map[string]string{}
	for _, id := range keep {
		out[id] = FormatSlots(slotRanges(next, id))
	}
	return out, moved
}

// slotRanges are the ranges of the slots owner gives id.
func slotRanges(owner []string, id string) []SlotRange {
	var out []SlotRange
	for k := 0; k < len(owner); k++ {
		if owner[k] != id {
			continue
		}
		from := k
		for k+1 < len(owner) && owner[k+1] == id {
			k++
		}
		out = append(out, SlotRange{from, k})
	}
	return out
}

// FinishResharding writes a completed resharding into the group: every
// node group's slots, the removed node groups gone and their members
// deleted. It is pure; the group controller calls it once every slot is
// where the target says.
func FinishResharding(g *ReplicationGroup, members []*Cluster) []GroupEvent {
	r := g.Resharding
	if r == nil {
		return nil
	}
	var gone []string
	var shards []Shard
	for _, sh := range g.Shards {
		if slices.Contains(r.Remove, sh.ID) {
			gone = append(gone, sh.Members...)
			continue
		}
		sh.Slots = r.Target[sh.ID]
		shards = append(shards, sh)
	}
	for _, c := range members {
		if slices.Contains(gone, c.ID) {
			markDeleting(c)
			c.ReplicationGroupID, c.ReplicaOf, c.HoldOnCrash = "", "", false
		}
	}
	g.Shards = shards
	g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return slices.Contains(gone, id) })
	g.Resharding = nil
	g.Generation++
	return []GroupEvent{{SourceType: "replication-group", SourceID: g.ID, Message: ReshardDoneMessage(g.ID, r.From, r.To)}}
}

// reshardingToAPI shows a resharding in PendingModifiedValues.
func reshardingToAPI(out *elasticacheapi.ReplicationGroup, g *ReplicationGroup) {
	if r := g.Resharding; r != nil && out.PendingModifiedValues != nil {
		out.PendingModifiedValues.Resharding = &elasticacheapi.ReshardingStatus{
			SlotMigration: &elasticacheapi.SlotMigration{ProgressPercentage: aws.Float64(r.Progress())}}
	}
}
