package elasticache

// The status write-back API of replication groups: what the group
// controller (internal/cachectl) reads and writes of the domain. Like the
// clusters' (status.go), it reads the desired state whole and writes
// through a function applied to the stored records — here a group and its
// member clusters together, with their events, in one transaction.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// GroupConvergeKey reports whether a store key holds an input of
// replication group convergence: a group or a cluster (members).
func GroupConvergeKey(key string) bool {
	return strings.HasPrefix(key, ClusterPrefix) && (strings.Contains(key, "/replicationgroup/") || strings.Contains(key, "/cluster/"))
}

// GroupEvent is an event a group controller records: of the group
// (SourceType replication-group) or of one of its member clusters
// (cache-cluster, SourceID the member).
type GroupEvent struct {
	SourceType, SourceID, Message string
}

// ReplicationGroups returns every replication group of every account and
// region, in key order, with its member clusters.
func (s *Service) ReplicationGroups(ctx context.Context) ([]*ReplicationGroup, map[GroupRef][]*Cluster, error) {
	var groups []*ReplicationGroup
	members := map[GroupRef][]*Cluster{}
	err := s.st.View(ctx, func(tx store.Tx) error {
		// Filter by key before decoding: the prefix holds every record of
		// the domain, events included.
		err := tx.Scan(ClusterPrefix, func(key string, b []byte) error {
			if !strings.Contains(key, "/replicationgroup/") {
				return nil
			}
			var g ReplicationGroup
			if err := json.Unmarshal(b, &g); err != nil {
				return fmt.Errorf("decode %s: %w", key, err)
			}
			groups = append(groups, &g)
			return nil
		})
		if err != nil {
			return err
		}
		for _, g := range groups {
			m, err := groupMembers(tx, g)
			if err != nil {
				return err
			}
			members[g.Ref()] = m
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read replication groups: %w", err)
	}
	return groups, members, nil
}

// UpdateGroup applies fn to the stored group and its member clusters and,
// when fn reports a change, writes them all with the events fn returns, in
// one transaction: the roles of the members always agree with the group.
// found is false if the group is gone (fn is not called).
func (s *Service) UpdateGroup(ctx context.Context, ref GroupRef, fn func(g *ReplicationGroup, members []*Cluster) (events []GroupEvent, changed bool)) (found bool, err error) {
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var g ReplicationGroup
		if err := store.GetJSON(tx, groupKey(ref.Account, ref.Region, ref.ID), &g); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		found = true
		members, err := groupMembers(tx, &g)
		if err != nil {
			return err
		}
		events, changed := fn(&g, members)
		if !changed {
			return nil
		}
		for _, c := range members {
			if err := putCluster(tx, c); err != nil {
				return err
			}
		}
		if err := putGroup(tx, &g); err != nil {
			return err
		}
		for _, e := range events {
			if err := s.putEvent(tx, ref.Account, ref.Region, Event{SourceID: e.SourceID, SourceType: e.SourceType, Message: e.Message}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return found, fmt.Errorf("update replication group %s: %w", ref, err)
	}
	return found, nil
}

// RemoveGroup removes a group whose deletion has converged (no member
// left but a retained primary).
func (s *Service) RemoveGroup(ctx context.Context, ref GroupRef) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		return tx.Delete(groupKey(ref.Account, ref.Region, ref.ID))
	})
	if err != nil {
		return fmt.Errorf("remove replication group %s: %w", ref, err)
	}
	return nil
}
