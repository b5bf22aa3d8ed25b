package elasticache

// The status write-back API: what a controller converging clusters (the
// cache controller, internal/cachectl) may read and write of the domain. It
// reads the desired state whole, writes status through a function applied to
// the stored record, and records events, so a controller needs no access to
// the domain's keys or transactions — and the domain imports no controller.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// ClusterRef names a cluster.
type ClusterRef struct{ Account, Region, ID string }

// Ref is the cluster's name.
func (c *Cluster) Ref() ClusterRef { return ClusterRef{c.Account, c.Region, c.ID} }

func (r ClusterRef) String() string { return r.Account + "/" + r.Region + "/" + r.ID }

// ConvergeKey reports whether a store key holds an input of cluster
// convergence: a cluster, a parameter group or a cache security group.
func ConvergeKey(key string) bool {
	return strings.HasPrefix(key, ClusterPrefix) && (strings.Contains(key, "/cluster/") || strings.Contains(key, "/parametergroup/") ||
		strings.Contains(key, "/cachesecuritygroup/"))
}

// Clusters returns every cluster of every account and region, in key order.
func (s *Service) Clusters(ctx context.Context) ([]*Cluster, error) {
	var clusters []*Cluster
	err := s.st.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(tx, ClusterPrefix, func(key string, cl *Cluster) error {
			if strings.Contains(key, "/cluster/") {
				clusters = append(clusters, cl)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read clusters: %w", err)
	}
	return clusters, nil
}

// UpdateCluster applies fn to the stored cluster and writes it if fn
// reports a change, in one transaction. found is false if the cluster is
// gone (fn is not called).
func (s *Service) UpdateCluster(ctx context.Context, ref ClusterRef, fn func(cur *Cluster) bool) (found bool, err error) {
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var cur Cluster
		if err := store.GetJSON(tx, clusterKey(ref.Account, ref.Region, ref.ID), &cur); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		found = true
		if !fn(&cur) {
			return nil
		}
		return putCluster(tx, &cur)
	})
	if err != nil {
		return found, fmt.Errorf("update cluster %s: %w", ref, err)
	}
	return found, nil
}

// WriteStatus applies fn to the stored cluster and writes it with the
// events fn returns, in one transaction: a reader never sees the status of a
// run without its events. found is false if the cluster is gone. A status
// that fn leaves as it was is not written: after a restart, every cluster's
// run re-adopts its engines and finds its status unchanged, and a write
// would cost a commit and wake the controllers watching clusters again.
func (s *Service) WriteStatus(ctx context.Context, ref ClusterRef, fn func(cur *Cluster) (events []string)) (found bool, err error) {
	err = s.st.Update(ctx, func(tx store.Tx) error {
		key := clusterKey(ref.Account, ref.Region, ref.ID)
		was, err := tx.Get(key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var cur Cluster
		if err := json.Unmarshal(was, &cur); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		found = true
		events := fn(&cur)
		now, err := json.Marshal(&cur)
		if err != nil {
			return fmt.Errorf("encode %s: %w", key, err)
		}
		if !bytes.Equal(now, was) {
			if err := tx.Put(key, now); err != nil {
				return err
			}
		}
		for _, msg := range events {
			if err := s.putEvent(tx, ref.Account, ref.Region, Event{SourceID: ref.ID, SourceType: "cache-cluster", Message: msg}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return found, fmt.Errorf("write status of %s: %w", ref, err)
	}
	return found, nil
}

// RecordEvent records an event of a cluster; a zero t is now.
func (s *Service) RecordEvent(ctx context.Context, ref ClusterRef, t time.Time, msg string) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		return s.putEvent(tx, ref.Account, ref.Region, Event{Time: t, SourceID: ref.ID, SourceType: "cache-cluster", Message: msg})
	})
	if err != nil {
		return fmt.Errorf("record event of %s: %w", ref, err)
	}
	return nil
}

// RemoveCluster removes a cluster whose deletion has converged (engines
// stopped, interfaces released) and records "Cache cluster deleted", in one
// transaction.
func (s *Service) RemoveCluster(ctx context.Context, ref ClusterRef) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete(clusterKey(ref.Account, ref.Region, ref.ID)); err != nil {
			return err
		}
		return s.putEvent(tx, ref.Account, ref.Region, Event{SourceID: ref.ID, SourceType: "cache-cluster", Message: "Cache cluster deleted"})
	})
	if err != nil {
		return fmt.Errorf("remove cluster %s: %w", ref, err)
	}
	return nil
}

// ClusterParameters are the values of the cluster's parameter group that
// differ from the family defaults.
func (s *Service) ClusterParameters(ctx context.Context, cl *Cluster) (map[string]string, error) {
	var g *ParameterGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		g, err = getParamGroup(tx, auth.Scope{AccountID: cl.Account, Region: cl.Region}, cl.ParameterGroup)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parameter group %s: %w", cl.ParameterGroup, err)
	}
	return maps.Clone(g.Values), nil
}
