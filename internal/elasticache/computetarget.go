package elasticache

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// ComputeTargets returns node-based clusters and replication groups as the
// access flows' caches (access.Caches, and access.CacheLister for
// publishing), resolved by id: a cluster first, then a replication group
// (rgaccess.go), then a serverless cache (serverless.go).
func (s *Service) ComputeTargets() access.Caches { return computeTargets{s} }

// CacheLister lists the caches of every account and region
// (access.CacheLister).
func (s *Service) CacheLister() access.CacheLister { return computeTargets{s} }

type computeTargets struct{ s *Service }

func (t computeTargets) Cache(ctx context.Context, id string) (access.Cache, error) {
	scope := auth.ScopeFrom(ctx)
	var c *Cluster
	var g *ReplicationGroup
	var members []*Cluster
	err := t.s.st.View(ctx, func(tx store.Tx) error {
		var err error
		c, err = getCluster(tx, scope, id)
		if !isNotFound(err, "CacheClusterNotFound") {
			return err
		}
		g, err = getGroup(tx, scope, id)
		if isNotFound(err, "ReplicationGroupNotFoundFault") {
			var serr error
			if g, serr = getServerless(tx, scope, id); serr == nil {
				err = nil
			}
		}
		if err != nil {
			return clusterOrGroupNotFound(id, err)
		}
		members, err = groupMembers(tx, g)
		return err
	})
	if err != nil {
		return access.Cache{}, err
	}
	if g != nil && g.Serverless != nil {
		return t.s.serverlessCache(g, members), nil
	}
	if g != nil {
		return t.s.groupCache(g, members), nil
	}
	return t.s.clusterCache(c), nil
}

// AllCaches returns the caches of every account and region
// (access.CacheLister), for publishing to the host: clusters (group
// members too), replication groups and serverless caches.
func (t computeTargets) AllCaches(ctx context.Context) ([]access.Cache, error) {
	clusters, err := t.s.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	groups, members, err := t.s.ReplicationGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]access.Cache, 0, len(clusters)+len(groups))
	for _, c := range clusters {
		if c.ServerlessCache != "" {
			continue // a serverless cache's hidden member: the cache is listed whole
		}
		out = append(out, t.s.clusterCache(c))
	}
	for _, g := range groups {
		if g.Serverless != nil {
			sc := t.s.serverlessCache(g, members[g.Ref()])
			sc.Account, sc.Region = g.Account, g.Region
			out = append(out, sc)
			continue
		}
		gc := t.s.groupCache(g, members[g.Ref()])
		gc.Account, gc.Region = g.Account, g.Region
		out = append(out, gc)
	}
	return out, nil
}

// clusterCache is cacheOf with the endpoints' DNS names.
func (s *Service) clusterCache(c *Cluster) access.Cache {
	out := cacheOf(c)
	if names, err := s.Names(c); err == nil {
		nameEndpoints(out.Endpoints, names)
	}
	return out
}

// nameEndpoints gives each endpoint the names (in their order, once)
// resolving to its interface.
func nameEndpoints(eps []access.Endpoint, names []EndpointName) {
	for i := range eps {
		for _, n := range names {
			if n.InterfaceID == eps[i].InterfaceID && !slices.Contains(eps[i].DNSNames, n.Name) {
				eps[i].DNSNames = append(eps[i].DNSNames, n.Name)
			}
		}
	}
}

func cacheOf(c *Cluster) access.Cache {
	out := access.Cache{Account: c.Account, Region: c.Region, ID: c.ID, Kind: access.KindCacheCluster, Group: c.ReplicationGroupID,
		CreatedAt: c.CreatedAt, Engine: c.Engine, Status: c.Status,
		VpcID: c.VpcID, Port: c.Port, SecurityGroups: slices.Clone(c.SecurityGroups)}
	for _, n := range c.Nodes {
		if n.InterfaceID != "" && n.Status != StatusDeleting {
			out.Endpoints = append(out.Endpoints, access.Endpoint{Name: n.ID, InterfaceID: n.InterfaceID, Address: n.IP})
		}
	}
	if c.ConfigInterfaceID != "" {
		out.Endpoints = append(out.Endpoints, access.Endpoint{Name: "configuration", InterfaceID: c.ConfigInterfaceID, Address: c.ConfigIP})
	}
	return out
}

// validateEdit checks the groups edit makes of the cache's groups against
// the EC2 model — outside any store transaction, since the EC2 model reads
// the store itself.
func (t computeTargets) validateEdit(ctx context.Context, id string, edit func([]string) ([]string, error)) error {
	scope := auth.ScopeFrom(ctx)
	cur, err := t.Cache(ctx, id)
	if err != nil {
		return err
	}
	want, err := edit(slices.Clone(cur.SecurityGroups))
	if err != nil {
		return err
	}
	if len(want) == 0 || len(want) > 5 {
		return invalid("A cluster must have between 1 and 5 security groups, not %d.", len(want))
	}
	if err := t.s.cfg.Network.ValidateGroups(ctx, scope.AccountID, scope.Region, cur.VpcID, want); err != nil {
		return networkError(err)
	}
	return nil
}

// EditSecurityGroups changes a cluster's groups as ModifyCacheCluster
// (SecurityGroupIds, ApplyImmediately) does, but as a read-modify-write in
// one transaction, then applies the groups to the cluster's interfaces at
// once (the reconciler does the same, idempotently, and reports the cluster
// available again).
func (t computeTargets) EditSecurityGroups(ctx context.Context, id string, edit func([]string) ([]string, error)) error {
	scope := auth.ScopeFrom(ctx)
	s := t.s
	if s.isGroup(ctx, scope, id) {
		return t.editGroupSecurityGroups(ctx, id, edit)
	}
	if s.isServerless(ctx, scope, id) {
		return t.editGroupSecurityGroups(ctx, id, edit)
	}
	// Validate the result against the EC2 model outside the store
	// transaction (the EC2 model reads the store itself).
	err := t.validateEdit(ctx, id, edit)
	if err != nil {
		return err
	}
	var c *Cluster
	changed := false
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		c, err = getCluster(tx, scope, id)
		if err != nil {
			return err
		}
		if c.Status != StatusAvailable && c.Status != StatusModifying {
			return invalidState(c)
		}
		groups, err := edit(slices.Clone(c.SecurityGroups))
		if err != nil {
			return err
		}
		if len(groups) == 0 || len(groups) > 5 {
			return invalid("A cluster must have between 1 and 5 security groups, not %d.", len(groups))
		}
		if slices.Equal(groups, c.SecurityGroups) {
			return nil
		}
		changed = true
		c.SecurityGroups = groups
		c.Generation++
		c.Status = StatusModifying
		if err := s.putEvent(tx, c.Account, c.Region, Event{SourceID: c.ID, SourceType: "cache-cluster",
			Message: "Security groups changed by a compute connection: " + strings.Join(groups, ", ")}); err != nil {
			return err
		}
		return putCluster(tx, c)
	})
	if err != nil || !changed {
		return err
	}
	for _, ep := range cacheOf(c).Endpoints {
		if err := s.cfg.Network.SetInterfaceGroups(ctx, c.Account, c.Region, ep.InterfaceID, c.SecurityGroups); err != nil {
			return fmt.Errorf("set security groups of %s: %w", ep.InterfaceID, err)
		}
	}
	return nil
}

func invalidState(c *Cluster) error {
	return elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state (it is %s).", c.ID, c.Status)
}
