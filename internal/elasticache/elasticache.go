// Package elasticache owns the ElastiCache domain: cache clusters,
// replication groups, subnet and parameter groups, cache security groups,
// users, snapshots and events, kept as desired state in the store and
// converged onto real engines by its reconciler. It implements
// elasticacheapi.Operations. Imported by the wiring package only.
package elasticache

import (
	"context"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Service implements elasticacheapi.Operations.
type Service struct {
	elasticacheapi.Unimplemented
	st store.Store
}

// New returns the ElastiCache service backed by st.
func New(st store.Store) *Service { return &Service{st: st} }

func clusterPrefix(s auth.Scope) string {
	return store.Key("elasticache", s.AccountID, s.Region, "cluster") + "/"
}

// DescribeCacheClusters lists the caller's clusters in the region.
func (s *Service) DescribeCacheClusters(ctx context.Context, in *elasticacheapi.DescribeCacheClustersMessage) (*elasticacheapi.CacheClusterMessage, error) {
	out := &elasticacheapi.CacheClusterMessage{CacheClusters: []elasticacheapi.CacheCluster{}}
	err := s.st.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(tx, clusterPrefix(auth.ScopeFrom(ctx)), func(_ string, c *elasticacheapi.CacheCluster) error {
			out.CacheClusters = append(out.CacheClusters, *c)
			return nil
		})
	})
	return out, err
}
