package elasticache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Replication groups in the access flows: a group is a cache whose
// endpoints are its primary endpoint (the current primary's node), its
// reader endpoint (a replica's node) — both aliases, explained but not
// published on their own — and every member's node, named by the member's
// id, with the names resolving to it (its own, and the group's endpoint
// names it answers for); connecting compute edits the group's security
// groups, which are every member's.

func isNotFound(err error, code string) bool {
	e, ok := awserr.As(err)
	return ok && e.Code == code
}

// clusterOrGroupNotFound is the error of an id that names neither: the
// cluster's, as the access flows name caches by CacheClusterId.
func clusterOrGroupNotFound(id string, err error) error {
	if isNotFound(err, "ReplicationGroupNotFoundFault") {
		return elasticacheapi.ErrCacheClusterNotFoundFault("CacheCluster not found: %s", id)
	}
	return err
}

// isGroup reports whether id names a replication group and no cluster.
func (s *Service) isGroup(ctx context.Context, scope auth.Scope, id string) bool {
	found := false
	_ = s.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(clusterKey(scope.AccountID, scope.Region, strings.ToLower(id))); err == nil {
			return nil
		}
		_, err := tx.Get(groupKey(scope.AccountID, scope.Region, strings.ToLower(id)))
		found = err == nil
		return nil
	})
	return found
}

// groupCache is a group as the access flows see it, its members' endpoints
// named as the VPCs' DNS servers name them (Names, GroupNames).
func (s *Service) groupCache(g *ReplicationGroup, members []*Cluster) access.Cache {
	out := groupCacheOf(g, members)
	var names []EndpointName
	for _, c := range members {
		ns, err := s.Names(c)
		if err != nil {
			return out
		}
		names = append(names, ns...)
	}
	gn, err := s.GroupNames(g, members)
	if err != nil {
		return out
	}
	nameEndpoints(out.Endpoints, append(names, gn...))
	return out
}

// groupCacheOf is a group as the access flows see it, without names.
func groupCacheOf(g *ReplicationGroup, members []*Cluster) access.Cache {
	out := access.Cache{ID: g.ID, Kind: access.KindReplicationGroup, CreatedAt: g.CreatedAt, Engine: g.Engine, Status: g.Status,
		VpcID: g.VpcID, Port: g.Port, SecurityGroups: slices.Clone(g.SecurityGroups)}
	node := func(c *Cluster) (Node, bool) {
		if len(c.Nodes) == 0 || c.Nodes[0].InterfaceID == "" || c.Status == StatusDeleting {
			return Node{}, false
		}
		return c.Nodes[0], true
	}
	var reader *Cluster
	for _, c := range members {
		if c.ID == g.Primary {
			if n, ok := node(c); ok {
				out.Endpoints = append(out.Endpoints, access.Endpoint{Name: "primary", InterfaceID: n.InterfaceID, Address: n.IP, Alias: true})
			}
		} else if reader == nil {
			reader = c
		}
	}
	if reader != nil {
		if n, ok := node(reader); ok {
			out.Endpoints = append(out.Endpoints, access.Endpoint{Name: "reader", InterfaceID: n.InterfaceID, Address: n.IP, Alias: true})
		}
	}
	for _, c := range members {
		if n, ok := node(c); ok {
			out.Endpoints = append(out.Endpoints, access.Endpoint{Name: c.ID, InterfaceID: n.InterfaceID, Address: n.IP})
		}
	}
	return out
}

// editGroupSecurityGroups changes a group's security groups, and every
// member's, in one transaction, then applies them to the members'
// interfaces at once.
func (t computeTargets) editGroupSecurityGroups(ctx context.Context, id string, edit func([]string) ([]string, error)) error {
	s := t.s
	scope := auth.ScopeFrom(ctx)
	err := t.validateEdit(ctx, id, edit)
	if err != nil {
		return err
	}
	var members []*Cluster
	changed := false
	key := strings.ToLower(id)
	if s.isServerless(ctx, scope, id) { // its group realises it
		key = ServerlessGroupID(key)
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var g ReplicationGroup
		if err := store.GetJSON(tx, groupKey(scope.AccountID, scope.Region, key), &g); err != nil {
			return fmt.Errorf("read replication group %s: %w", id, err)
		}
		if g.Status != GroupAvailable && g.Status != GroupModifying && g.Serverless != nil {
			return elasticacheapi.ErrInvalidServerlessCacheStateFault("Serverless cache %s is not in the available state (it is %s).", g.Serverless.Name, g.Status)
		}
		if g.Status != GroupAvailable && g.Status != GroupModifying {
			return elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in the available state (it is %s).", g.ID, g.Status)
		}
		groups, err := edit(slices.Clone(g.SecurityGroups))
		if err != nil {
			return err
		}
		if slices.Equal(groups, g.SecurityGroups) {
			return nil
		}
		if members, err = groupMembers(tx, &g); err != nil {
			return err
		}
		changed = true
		g.SecurityGroups, g.Status = slices.Clone(groups), GroupModifying
		g.Generation++
		for _, c := range members {
			c.SecurityGroups = slices.Clone(groups)
			c.Generation++
			if c.Status == StatusAvailable {
				c.Status = StatusModifying
			}
			if err := putCluster(tx, c); err != nil {
				return err
			}
		}
		if err := s.putGroupEvent(tx, &g, "Security groups changed by a compute connection: "+strings.Join(groups, ", ")); err != nil {
			return err
		}
		return putGroup(tx, &g)
	})
	if err != nil || !changed {
		return err
	}
	var errs []error
	for _, c := range members {
		for _, n := range c.Nodes {
			if n.InterfaceID == "" {
				continue
			}
			if err := s.cfg.Network.SetInterfaceGroups(ctx, c.Account, c.Region, n.InterfaceID, c.SecurityGroups); err != nil {
				errs = append(errs, fmt.Errorf("set security groups of %s: %w", n.InterfaceID, err))
			}
		}
	}
	return errors.Join(errs...)
}
