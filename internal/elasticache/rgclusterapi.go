package elasticache

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// The API side of cluster-mode groups besides their creation: how
// Describe shows them (a configuration endpoint, node groups with slots
// and members without roles, as AWS), their DNS names, and the requests
// whose rules differ in cluster mode.

// shardsToAPI fills the cluster-mode parts of a group's description.
func (s *Service) shardsToAPI(out *elasticacheapi.ReplicationGroup, g *ReplicationGroup, members []*Cluster) error {
	out.ClusterEnabled, out.ClusterMode = aws.Bool(true), aws.String(ClusterModeEnabled)
	if _, err := s.nameScope(g.Account, g.Region); err != nil {
		return err
	}
	byID := map[string]*Cluster{}
	for _, c := range members {
		byID[c.ID] = c
	}
	out.ConfigurationEndpoint = s.configEndpoint(g, members)
	out.NodeGroups = []elasticacheapi.NodeGroup{}
	for _, sh := range g.Shards {
		ng := elasticacheapi.NodeGroup{NodeGroupId: aws.String(sh.ID), Status: aws.String(g.Status), Slots: aws.String(sh.Slots),
			NodeGroupMembers: []elasticacheapi.NodeGroupMember{}}
		for _, id := range sh.Members {
			c := byID[id]
			if c == nil || len(c.Nodes) == 0 {
				continue
			}
			n := c.Nodes[0]
			ng.NodeGroupMembers = append(ng.NodeGroupMembers, elasticacheapi.NodeGroupMember{
				CacheClusterId: aws.String(c.ID), CacheNodeId: aws.String(n.ID), PreferredAvailabilityZone: aws.String(n.AZ)})
		}
		out.NodeGroups = append(out.NodeGroups, ng)
	}
	reshardingToAPI(out, g)
	if f := g.Failover; f != nil && f.To != "" {
		if sh, ok := g.ShardOf(f.To); ok && sh.Primary != f.To {
			out.PendingModifiedValues.PrimaryClusterId = aws.String(f.To)
		}
	}
	return nil
}

// configEndpoint is the configuration endpoint of a group whose engines
// are cluster nodes, once a member has an address; nil before.
func (s *Service) configEndpoint(g *ReplicationGroup, members []*Cluster) *elasticacheapi.Endpoint {
	names, err := s.nameScope(g.Account, g.Region)
	if err != nil {
		return nil
	}
	for _, c := range members {
		if len(c.Nodes) > 0 && c.Nodes[0].IP != "" && c.Status != StatusDeleting {
			return s.groupEndpoint(names.ClusterConfig(g.ID, g.TransitEncryptionMode != ""), c, g.Port)
		}
	}
	return nil
}

// clusterNames is the configuration endpoint of a cluster-mode group: one
// name resolving to every member node with an address, as AWS's DNS
// answers with the cluster's nodes.
func (s *Service) clusterNames(g *ReplicationGroup, members []*Cluster) ([]EndpointName, error) {
	sc, err := s.nameScope(g.Account, g.Region)
	if err != nil {
		return nil, err
	}
	names := []string{sc.ClusterConfig(g.ID, g.TransitEncryptionMode != "")}
	if g.PlainNames && g.TransitEncryptionMode != "" {
		// Enabling TLS, in preferred: the configuration endpoint without
		// TLS stays until required, as on ElastiCache (tls.go).
		names = append(names, sc.ClusterConfig(g.ID, false))
	}
	var out []EndpointName
	for _, name := range names {
		for _, c := range members {
			if len(c.Nodes) == 0 || c.Nodes[0].IP == "" || c.Status == StatusDeleting {
				continue
			}
			n := c.Nodes[0]
			addr, err := netip.ParseAddr(n.IP)
			if err != nil || !addr.Is4() {
				continue
			}
			out = append(out, EndpointName{Name: name, Account: g.Account, Region: g.Region, Cache: g.ID, Node: n.ID,
				VpcID: c.VpcID, InterfaceID: n.InterfaceID, IP: addr, Port: g.Port})
		}
	}
	return out, nil
}

// isClusterGroup reports whether id names a cluster-mode group of scope.
func (s *Service) isClusterGroup(ctx context.Context, scope auth.Scope, id string) bool {
	var on bool
	_ = s.st.View(ctx, func(tx store.Tx) error {
		if g, err := getGroup(tx, scope, id); err == nil {
			on = g.ClusterNodes()
		}
		return nil
	})
	return on
}

// modifyClusterFailover is modifyFailover for a cluster-mode group:
// automatic failover stays on, and a shard's primary is chosen by a
// failover, not by PrimaryClusterId.
func modifyClusterFailover(g *ReplicationGroup, in *elasticacheapi.ModifyReplicationGroupMessage) (bool, error) {
	switch {
	case in.AutomaticFailoverEnabled != nil && !*in.AutomaticFailoverEnabled:
		return false, combination("Automatic failover cannot be disabled for a replication group with cluster mode enabled.")
	case in.PrimaryClusterId != nil:
		return false, combination("PrimaryClusterId cannot be used for a replication group with cluster mode enabled.")
	}
	if in.MultiAZEnabled != nil && *in.MultiAZEnabled != g.MultiAZ {
		if *in.MultiAZEnabled {
			for _, sh := range g.Shards {
				if len(sh.Members) < 2 {
					return false, combination("Multi-AZ requires at least one replica in every node group; node group %s has none.", sh.ID)
				}
			}
		}
		g.MultiAZ = *in.MultiAZEnabled
		return true, nil
	}
	return false, nil
}

// testShardFailover is TestFailover of one shard of a cluster-mode group,
// inside the TestFailover transaction: the group controller promotes the
// shard's replica with the least lag.
func (s *Service) testShardFailover(tx store.Tx, scope auth.Scope, g *ReplicationGroup, ngID string, now time.Time) error {
	sh, ok := g.Shard(strings.TrimSpace(ngID))
	if !ok {
		return elasticacheapi.ErrNodeGroupNotFoundFault("The node group %s was not found in replication group %s.", ngID, g.ID)
	}
	if g.Status != GroupAvailable {
		return elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in the available state.", g.ID)
	}
	if len(sh.Members) < 2 {
		return elasticacheapi.ErrTestFailoverNotAvailableFault("TestFailover is not available for node group %s of replication group %s: it has no replica.", sh.ID, g.ID)
	}
	if err := s.checkTestFailoverRate(tx, scope, now); err != nil {
		return err
	}
	g.TestFailovers = append(recentTests(g.TestFailovers, now), now)
	g.Failover = &Failover{From: sh.Primary, Test: true, Phase: PhaseRequested, At: now}
	g.Status = GroupModifying
	g.Generation++
	if err := s.putGroupEvent(tx, g, "Test Failover API called for node group "+sh.ID); err != nil {
		return err
	}
	return putGroup(tx, g)
}

// engineMajor is the major version of an engine version ("7.0.7" → 7).
func engineMajor(v string) int {
	major, _, _ := strings.Cut(v, ".")
	n, _ := strconv.Atoi(major)
	return n
}
