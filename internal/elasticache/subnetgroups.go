package elasticache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

const defaultSubnetGroup = "default"

// subnetGroupFor returns the named subnet group; "" or "default" is the
// default group over the default VPC's subnets, created on first use.
func (s *Service) subnetGroupFor(ctx context.Context, scope auth.Scope, name string) (*SubnetGroup, error) {
	name = strings.ToLower(name)
	if name == "" {
		name = defaultSubnetGroup
	}
	var sg SubnetGroup
	err := s.st.View(ctx, func(tx store.Tx) error { return store.GetJSON(tx, subnetGroupKey(scope, name), &sg) })
	if err == nil {
		return &sg, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if name != defaultSubnetGroup {
		return nil, elasticacheapi.ErrCacheSubnetGroupNotFoundFault("CacheSubnetGroup %s not found.", name)
	}
	vpc, err := s.cfg.Network.DefaultVPC(ctx, scope.AccountID, scope.Region)
	if err != nil {
		return nil, elasticacheapi.ErrInvalidVPCNetworkStateFault("The account has no default VPC: %v", err)
	}
	sg = SubnetGroup{Account: scope.AccountID, Region: scope.Region, Name: defaultSubnetGroup, Description: "Default CacheSubnetGroup", VpcID: vpc.ID}
	for _, sn := range vpc.Subnets {
		sg.Subnets = append(sg.Subnets, SubnetRef{ID: sn.ID, AZ: sn.AZ})
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var have SubnetGroup
		if err := store.GetJSON(tx, subnetGroupKey(scope, name), &have); err == nil {
			sg = have
			return nil
		}
		return store.PutJSON(tx, subnetGroupKey(scope, name), &sg)
	})
	return &sg, err
}

// resolveSubnets checks that the subnets exist and share one VPC.
func (s *Service) resolveSubnets(ctx context.Context, scope auth.Scope, ids []string) (string, []SubnetRef, error) {
	if len(ids) == 0 {
		return "", nil, invalid("The parameter SubnetIds must be provided and must not be empty.")
	}
	if len(ids) > 20 {
		return "", nil, elasticacheapi.ErrCacheSubnetQuotaExceededFault("A cache subnet group may have at most 20 subnets.")
	}
	var vpc string
	var refs []SubnetRef
	for _, id := range ids {
		if slices.ContainsFunc(refs, func(r SubnetRef) bool { return r.ID == id }) {
			continue
		}
		sn, err := s.cfg.Network.Subnet(ctx, scope.AccountID, scope.Region, id)
		if err != nil {
			return "", nil, elasticacheapi.ErrInvalidSubnet("The subnet ID %s does not exist", id)
		}
		if vpc != "" && sn.VpcID != vpc {
			return "", nil, elasticacheapi.ErrInvalidSubnet("Subnets %s and %s are in different VPCs; a cache subnet group's subnets must share one VPC.", refs[0].ID, id)
		}
		vpc = sn.VpcID
		refs = append(refs, SubnetRef{ID: sn.ID, AZ: sn.AZ})
	}
	return vpc, refs, nil
}

// CreateCacheSubnetGroup creates a subnet group.
func (s *Service) CreateCacheSubnetGroup(ctx context.Context, in *elasticacheapi.CreateCacheSubnetGroupMessage) (*elasticacheapi.CreateCacheSubnetGroupResult, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.CacheSubnetGroupName))
	if name == defaultSubnetGroup {
		return nil, invalid("The name default is reserved.")
	}
	if len(name) > 255 || !subnetGroupPattern.MatchString(name) {
		return nil, invalid("Invalid CacheSubnetGroupName %q: up to 255 letters, digits or hyphens.", name)
	}
	vpc, refs, err := s.resolveSubnets(ctx, scope, in.SubnetIds)
	if err != nil {
		return nil, err
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	g := &SubnetGroup{Account: scope.AccountID, Region: scope.Region, Name: name, Description: aws.ToString(in.CacheSubnetGroupDescription), VpcID: vpc, Subnets: refs, Tags: tags}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(subnetGroupKey(scope, name)); err == nil {
			return elasticacheapi.ErrCacheSubnetGroupAlreadyExistsFault("Cache subnet group %s already exists.", name)
		}
		n := 0
		tx.Scan(store.Key("elasticache", scope.AccountID, scope.Region, "subnetgroup")+"/", func(string, []byte) error { n++; return nil })
		if n >= 150 {
			return elasticacheapi.ErrCacheSubnetGroupQuotaExceededFault("The request cannot be processed because it would exceed the allowed number of cache subnet groups, 150.")
		}
		return store.PutJSON(tx, subnetGroupKey(scope, name), g)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateCacheSubnetGroupResult{CacheSubnetGroup: subnetGroupAPI(scope, g)}, nil
}

func subnetGroupAPI(scope auth.Scope, g *SubnetGroup) *elasticacheapi.CacheSubnetGroup {
	out := &elasticacheapi.CacheSubnetGroup{
		ARN:                         aws.String(ARN(scope, "subnetgroup", g.Name)),
		CacheSubnetGroupName:        aws.String(g.Name),
		CacheSubnetGroupDescription: aws.String(g.Description),
		VpcId:                       aws.String(g.VpcID),
		Subnets:                     []elasticacheapi.Subnet{},
		SupportedNetworkTypes:       []string{"ipv4"},
	}
	for _, sn := range g.Subnets {
		out.Subnets = append(out.Subnets, elasticacheapi.Subnet{
			SubnetIdentifier:       aws.String(sn.ID),
			SubnetAvailabilityZone: &elasticacheapi.AvailabilityZone{Name: aws.String(sn.AZ)},
			SupportedNetworkTypes:  []string{"ipv4"},
		})
	}
	return out
}

// DescribeCacheSubnetGroups lists subnet groups (the default one appears once used).
func (s *Service) DescribeCacheSubnetGroups(ctx context.Context, in *elasticacheapi.DescribeCacheSubnetGroupsMessage) (*elasticacheapi.CacheSubnetGroupMessage, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.CacheSubnetGroupName))
	if name == defaultSubnetGroup {
		if _, err := s.subnetGroupFor(ctx, scope, name); err != nil {
			return nil, err
		}
	}
	var groups []*SubnetGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		if name != "" {
			var g SubnetGroup
			if err := store.GetJSON(tx, subnetGroupKey(scope, name), &g); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return elasticacheapi.ErrCacheSubnetGroupNotFoundFault("CacheSubnetGroup %s not found.", name)
				}
				return err
			}
			groups = []*SubnetGroup{&g}
			return nil
		}
		var err error
		groups, err = store.ListJSON[SubnetGroup](tx, store.Key("elasticache", scope.AccountID, scope.Region, "subnetgroup")+"/")
		return err
	})
	if err != nil {
		return nil, err
	}
	items, next, err := page(groups, func(g *SubnetGroup) string { return g.Name }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.CacheSubnetGroupMessage{CacheSubnetGroups: []elasticacheapi.CacheSubnetGroup{}, Marker: next}
	for _, g := range items {
		out.CacheSubnetGroups = append(out.CacheSubnetGroups, *subnetGroupAPI(scope, g))
	}
	return out, nil
}

// ModifyCacheSubnetGroup changes a group's description or subnets.
func (s *Service) ModifyCacheSubnetGroup(ctx context.Context, in *elasticacheapi.ModifyCacheSubnetGroupMessage) (*elasticacheapi.ModifyCacheSubnetGroupResult, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.CacheSubnetGroupName))
	var vpc string
	var refs []SubnetRef
	if len(in.SubnetIds) > 0 {
		var err error
		if vpc, refs, err = s.resolveSubnets(ctx, scope, in.SubnetIds); err != nil {
			return nil, err
		}
	}
	var g SubnetGroup
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if err := store.GetJSON(tx, subnetGroupKey(scope, name), &g); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return elasticacheapi.ErrCacheSubnetGroupNotFoundFault("CacheSubnetGroup %s not found.", name)
			}
			return err
		}
		if in.CacheSubnetGroupDescription != nil {
			g.Description = *in.CacheSubnetGroupDescription
		}
		if refs != nil {
			if vpc != g.VpcID {
				return elasticacheapi.ErrInvalidSubnet("The subnets must be in the group's VPC %s.", g.VpcID)
			}
			// Subnets holding nodes must stay.
			used, err := subnetsInUse(tx, scope, name)
			if err != nil {
				return err
			}
			for sn := range used {
				if !slices.ContainsFunc(refs, func(r SubnetRef) bool { return r.ID == sn }) {
					return elasticacheapi.ErrSubnetInUse("The subnet %s is in use by a cache node.", sn)
				}
			}
			g.Subnets = refs
		}
		return store.PutJSON(tx, subnetGroupKey(scope, name), &g)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.ModifyCacheSubnetGroupResult{CacheSubnetGroup: subnetGroupAPI(scope, &g)}, nil
}

func subnetsInUse(tx store.Tx, scope auth.Scope, group string) (map[string]bool, error) {
	used := map[string]bool{}
	err := store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "cluster")+"/", func(_ string, c *Cluster) error {
		if c.SubnetGroup == group {
			for _, n := range c.Nodes {
				used[n.SubnetID] = true
			}
		}
		return nil
	})
	return used, err
}

// DeleteCacheSubnetGroup deletes a group no cluster uses.
func (s *Service) DeleteCacheSubnetGroup(ctx context.Context, in *elasticacheapi.DeleteCacheSubnetGroupMessage) error {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.CacheSubnetGroupName))
	if name == defaultSubnetGroup {
		return invalid("Cannot delete default cache subnet group")
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(subnetGroupKey(scope, name)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return elasticacheapi.ErrCacheSubnetGroupNotFoundFault("CacheSubnetGroup %s not found.", name)
			}
			return err
		}
		inUse := false
		err := store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "cluster")+"/", func(_ string, c *Cluster) error {
			if c.SubnetGroup == name {
				inUse = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan clusters: %w", err)
		}
		if inUse {
			return elasticacheapi.ErrCacheSubnetGroupInUse("Cache subnet group %s is currently in use by a cache cluster.", name)
		}
		return tx.Delete(subnetGroupKey(scope, name))
	})
}
