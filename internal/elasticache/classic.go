package elasticache

// Clusters in EC2-Classic. An account with EC2-Classic launches a cluster
// there when it names cache security groups, or names neither a subnet group
// nor VPC security groups (then the "default" cache security group). Its
// nodes get requester-managed interfaces in the account's classic network
// (ec2.InterfaceSpec.Classic), and the reconciler keeps each interface's
// ingress grants equal to the EC2-Classic groups authorized on the cluster's
// cache security groups, on the cluster's port (ec2.SetInterfaceIngressGrants):
// netplane enforces them, so an authorization admits new connections from
// the group's instances and a revocation refuses them.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// isClassic reports whether the caller's account has EC2-Classic.
func (s *Service) isClassic(ctx context.Context) (bool, error) {
	p, ok := s.cfg.Network.(accountPlatforms)
	if !ok {
		return false, nil
	}
	out, err := p.DescribeAccountAttributes(ctx, &ec2api.DescribeAccountAttributesRequest{AttributeNames: []string{"supported-platforms"}})
	if err != nil {
		return false, fmt.Errorf("supported platforms: %w", err)
	}
	for _, a := range out.AccountAttributes {
		for _, v := range a.AttributeValues {
			if aws.ToString(v.AttributeValue) == "EC2" {
				return true, nil
			}
		}
	}
	return false, nil
}

// launchesInClassic decides where CreateCacheCluster puts a cluster: in
// EC2-Classic when it names cache security groups (refused to VPC-only
// accounts, and together with a subnet group or VPC groups), or when a
// Classic account names no VPC placement at all.
func (s *Service) launchesInClassic(ctx context.Context, in *elasticacheapi.CreateCacheClusterMessage) (bool, error) {
	vpc := in.CacheSubnetGroupName != nil || len(in.SecurityGroupIds) > 0
	if len(in.CacheSecurityGroupNames) == 0 {
		if vpc {
			return false, nil
		}
		return s.isClassic(ctx)
	}
	if vpc {
		return false, combination("Use of cache security groups is not permitted along with cache subnet group and/or security groups ids.")
	}
	if err := s.requireClassic(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// classicSubnetGroup is the placement of EC2-Classic nodes: the region's
// zones, without subnets.
func classicSubnetGroup(region string) *SubnetGroup {
	sg := &SubnetGroup{Region: region, Name: "EC2-Classic"}
	for _, z := range []string{"a", "b", "c"} {
		sg.Subnets = append(sg.Subnets, SubnetRef{AZ: region + z})
	}
	return sg
}

// cacheSecurityGroupsFor validates the cache security groups of a cluster
// (lowercased, without duplicates; none: "default").
func (s *Service) cacheSecurityGroupsFor(ctx context.Context, scope auth.Scope, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		n = strings.ToLower(n)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []string{defaultCacheSecurityGroup}
	}
	err := s.st.View(ctx, func(tx store.Tx) error {
		for _, n := range out {
			if _, err := s.getCacheSecurityGroup(tx, scope, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// clusterUsing returns the id of a cluster of the scope that uses the cache
// security group, or "".
func clusterUsing(tx store.Tx, scope auth.Scope, group string) (string, error) {
	used := ""
	err := store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "cluster")+"/", func(_ string, c *Cluster) error {
		if used == "" && slices.Contains(c.CacheSecurityGroups, group) {
			used = c.ID
		}
		return nil
	})
	return used, err
}

// validateEC2Group checks that an EC2-Classic group exists before it is
// authorized, as AWS does.
func (s *Service) validateEC2Group(ctx context.Context, region, owner, name string) error {
	_, err := s.cfg.Network.ClassicGroup(ctx, owner, region, name)
	if e, ok := awserr.As(err); ok && e.Code == "InvalidGroup.NotFound" {
		return invalid("EC2 security group %s owned by %s does not exist in EC2-Classic in %s.", name, owner, region)
	}
	if err != nil {
		return fmt.Errorf("look up EC2 security group %s of %s: %w", name, owner, err)
	}
	return nil
}

// clusterGrants are the ingress grants of a classic cluster's interfaces:
// every EC2 group authorized on its cache security groups, on its port.
func (s *Service) clusterGrants(ctx context.Context, cl *Cluster) ([]ec2.IngressGrant, error) {
	scope := auth.Scope{AccountID: cl.Account, Region: cl.Region}
	var out []ec2.IngressGrant
	err := s.st.View(ctx, func(tx store.Tx) error {
		for _, name := range cl.CacheSecurityGroups {
			g, err := s.getCacheSecurityGroup(tx, scope, name)
			if e, ok := awserr.As(err); ok && e.Code == "CacheSecurityGroupNotFound" {
				continue // deleted meanwhile: it grants nothing
			}
			if err != nil {
				return err
			}
			for _, e := range g.EC2Groups {
				out = append(out, ec2.IngressGrant{CacheSecurityGroup: name, GroupOwner: e.OwnerID, GroupName: e.Name, Port: int32(cl.Port)})
			}
		}
		return nil
	})
	return out, err
}

// applyGrants sets at once the grants of the clusters of the caller's scope
// that use a cache security group (Authorize and Revoke): the EC2 model, and
// so explain, follow the API call; the network controller realises it.
func (s *Service) applyGrants(ctx context.Context, scope auth.Scope, group string) error {
	var clusters []*Cluster
	err := s.st.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "cluster")+"/", func(_ string, c *Cluster) error {
			if slices.Contains(c.CacheSecurityGroups, group) && c.Status != StatusDeleting {
				clusters = append(clusters, c)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, cl := range clusters {
		if err := s.SetClusterGrants(ctx, cl); err != nil {
			return fmt.Errorf("cluster %s: %w", cl.ID, err)
		}
	}
	return nil
}

// SetClusterGrants sets the grants of every interface of a classic cluster
// (a no-op for a VPC cluster). The cache controller calls it once interfaces
// exist, and in the steady state, where authorizations change without the
// cluster changing.
func (s *Service) SetClusterGrants(ctx context.Context, cl *Cluster) error {
	if !cl.Classic() {
		return nil
	}
	grants, err := s.clusterGrants(ctx, cl)
	if err != nil {
		return err
	}
	ifaces := []string{cl.ConfigInterfaceID}
	for _, n := range cl.Nodes {
		if n.Status != StatusDeleting {
			ifaces = append(ifaces, n.InterfaceID)
		}
	}
	for _, id := range ifaces {
		if id == "" {
			continue
		}
		if err := s.cfg.Network.SetInterfaceIngressGrants(ctx, cl.Account, cl.Region, id, grants); err != nil {
			return fmt.Errorf("set ingress grants of %s: %w", id, err)
		}
	}
	return nil
}

// Classic reports whether the cluster is in EC2-Classic.
func (c *Cluster) Classic() bool { return len(c.CacheSecurityGroups) > 0 }
