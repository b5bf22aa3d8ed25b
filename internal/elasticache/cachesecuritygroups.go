package elasticache

// Cache security groups: the EC2-Classic way of granting access to a cache
// (SEEDS 001, 002): a cache security group lists authorized EC2-Classic
// security groups, by name and owner account. Only accounts with
// EC2-Classic may use them; VPC-only accounts get AWS's refusal.
//
// This file implements the API and its state; classic.go launches clusters
// in EC2-Classic and has their interfaces admit what the groups authorize
// (docs/access-flows.md, "EC2-Classic").

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// CacheSecurityGroup is a stored cache security group.
type CacheSecurityGroup struct {
	Account, Region string
	Name            string
	Description     string
	EC2Groups       []EC2GroupGrant
	Tags            []Tag
}

// EC2GroupGrant is an EC2-Classic security group authorized on a cache
// security group.
type EC2GroupGrant struct {
	Name, OwnerID, Status string
}

const (
	defaultCacheSecurityGroup = "default"
	maxCacheSecurityGroups    = 50
)

// cacheSecurityGroupPattern: up to 255 letters, digits and hyphens (AWS says
// "alphanumeric"; its console accepts hyphens), stored lowercase.
var cacheSecurityGroupPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,254}$`)

func cacheSecurityGroupKey(s auth.Scope, name string) string {
	return store.Key("elasticache", s.AccountID, s.Region, "cachesecuritygroup", name)
}

// accountPlatforms is the capability of the Network (ec2.Service) that says
// which platforms the caller's account supports.
type accountPlatforms interface {
	DescribeAccountAttributes(ctx context.Context, in *ec2api.DescribeAccountAttributesRequest) (*ec2api.DescribeAccountAttributesResult, error)
}

// requireClassic refuses cache security groups to VPC-only accounts, as AWS does.
func (s *Service) requireClassic(ctx context.Context) error {
	classic, err := s.isClassic(ctx)
	if err != nil {
		return err
	}
	if !classic {
		return invalid("Use of cache security groups is not permitted in this API version for your account.")
	}
	return nil
}

func (s *Service) getCacheSecurityGroup(tx store.Tx, scope auth.Scope, name string) (*CacheSecurityGroup, error) {
	var g CacheSecurityGroup
	err := store.GetJSON(tx, cacheSecurityGroupKey(scope, name), &g)
	if errors.Is(err, store.ErrNotFound) {
		if name == defaultCacheSecurityGroup {
			return &CacheSecurityGroup{Account: scope.AccountID, Region: scope.Region, Name: name, Description: "default"}, nil
		}
		return nil, elasticacheapi.ErrCacheSecurityGroupNotFoundFault("CacheSecurityGroup %s not found.", name)
	}
	if err != nil {
		return nil, fmt.Errorf("read cache security group %s: %w", name, err)
	}
	return &g, nil
}

func cacheSecurityGroupAPI(scope auth.Scope, g *CacheSecurityGroup) *elasticacheapi.CacheSecurityGroup {
	out := &elasticacheapi.CacheSecurityGroup{
		ARN:                    aws.String(ARN(scope, "securitygroup", g.Name)),
		CacheSecurityGroupName: aws.String(g.Name),
		Description:            aws.String(g.Description),
		OwnerId:                aws.String(g.Account),
		EC2SecurityGroups:      []elasticacheapi.EC2SecurityGroup{},
	}
	for _, e := range g.EC2Groups {
		out.EC2SecurityGroups = append(out.EC2SecurityGroups, elasticacheapi.EC2SecurityGroup{
			EC2SecurityGroupName: aws.String(e.Name), EC2SecurityGroupOwnerId: aws.String(e.OwnerID), Status: aws.String(e.Status)})
	}
	return out
}

// CreateCacheSecurityGroup creates a cache security group (EC2-Classic accounts only).
func (s *Service) CreateCacheSecurityGroup(ctx context.Context, in *elasticacheapi.CreateCacheSecurityGroupMessage) (*elasticacheapi.CreateCacheSecurityGroupResult, error) {
	scope := auth.ScopeFrom(ctx)
	if err := s.requireClassic(ctx); err != nil {
		return nil, err
	}
	name := strings.ToLower(aws.ToString(in.CacheSecurityGroupName))
	switch {
	case name == "":
		return nil, invalid("The parameter CacheSecurityGroupName must be provided and must not be blank.")
	case name == defaultCacheSecurityGroup:
		return nil, invalid("CacheSecurityGroupName cannot be \"Default\".")
	case !cacheSecurityGroupPattern.MatchString(name):
		return nil, invalid("Invalid CacheSecurityGroupName %q: up to 255 letters, digits and hyphens.", aws.ToString(in.CacheSecurityGroupName))
	case aws.ToString(in.Description) == "":
		return nil, invalid("The parameter Description must be provided and must not be blank.")
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	g := &CacheSecurityGroup{Account: scope.AccountID, Region: scope.Region, Name: name, Description: aws.ToString(in.Description), Tags: tags}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(cacheSecurityGroupKey(scope, name)); err == nil {
			return elasticacheapi.ErrCacheSecurityGroupAlreadyExistsFault("Cache security group %s already exists.", name)
		}
		n := 0
		if err := tx.Scan(store.Key("elasticache", scope.AccountID, scope.Region, "cachesecuritygroup")+"/", func(string, []byte) error {
			n++
			return nil
		}); err != nil {
			return err
		}
		if n+1 >= maxCacheSecurityGroups { // the implicit default counts
			return elasticacheapi.ErrCacheSecurityGroupQuotaExceededFault("The request cannot be processed because it would exceed the allowed number of cache security groups (%d).", maxCacheSecurityGroups)
		}
		return store.PutJSON(tx, cacheSecurityGroupKey(scope, name), g)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateCacheSecurityGroupResult{CacheSecurityGroup: cacheSecurityGroupAPI(scope, g)}, nil
}

// DescribeCacheSecurityGroups lists cache security groups, "default" first
// among them as in a Classic account.
func (s *Service) DescribeCacheSecurityGroups(ctx context.Context, in *elasticacheapi.DescribeCacheSecurityGroupsMessage) (*elasticacheapi.CacheSecurityGroupMessage, error) {
	scope := auth.ScopeFrom(ctx)
	if err := s.requireClassic(ctx); err != nil {
		return nil, err
	}
	name := strings.ToLower(aws.ToString(in.CacheSecurityGroupName))
	var groups []*CacheSecurityGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		if name != "" {
			g, err := s.getCacheSecurityGroup(tx, scope, name)
			groups = []*CacheSecurityGroup{g}
			return err
		}
		var err error
		groups, err = store.ListJSON[CacheSecurityGroup](tx, store.Key("elasticache", scope.AccountID, scope.Region, "cachesecuritygroup")+"/")
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(groups, func(g *CacheSecurityGroup) bool { return g.Name == defaultCacheSecurityGroup }) {
			def, _ := s.getCacheSecurityGroup(tx, scope, defaultCacheSecurityGroup)
			groups = append(groups, def)
		}
		slices.SortFunc(groups, func(a, b *CacheSecurityGroup) int { return strings.Compare(a.Name, b.Name) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	items, next, err := page(groups, func(g *CacheSecurityGroup) string { return g.Name }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.CacheSecurityGroupMessage{CacheSecurityGroups: []elasticacheapi.CacheSecurityGroup{}, Marker: next}
	for _, g := range items {
		out.CacheSecurityGroups = append(out.CacheSecurityGroups, *cacheSecurityGroupAPI(scope, g))
	}
	return out, nil
}

// DeleteCacheSecurityGroup deletes a cache security group; not "default".
func (s *Service) DeleteCacheSecurityGroup(ctx context.Context, in *elasticacheapi.DeleteCacheSecurityGroupMessage) error {
	scope := auth.ScopeFrom(ctx)
	if err := s.requireClassic(ctx); err != nil {
		return err
	}
	name := strings.ToLower(aws.ToString(in.CacheSecurityGroupName))
	if name == defaultCacheSecurityGroup {
		return invalid("The default cache security group cannot be deleted.")
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := s.getCacheSecurityGroup(tx, scope, name); err != nil {
			return err
		}
		used, err := clusterUsing(tx, scope, name)
		if err != nil {
			return err
		}
		if used != "" {
			return elasticacheapi.ErrInvalidCacheSecurityGroupStateFault("Cache security group %s is in use by cache cluster %s.", name, used)
		}
		return tx.Delete(cacheSecurityGroupKey(scope, name))
	})
}

// editGrants changes the authorized EC2 groups of a cache security group.
func (s *Service) editGrants(ctx context.Context, group, ec2Name, owner string, authorize bool) (*elasticacheapi.CacheSecurityGroup, error) {
	scope := auth.ScopeFrom(ctx)
	if err := s.requireClassic(ctx); err != nil {
		return nil, err
	}
	group = strings.ToLower(group)
	switch {
	case group == "":
		return nil, invalid("The parameter CacheSecurityGroupName must be provided and must not be blank.")
	case ec2Name == "":
		return nil, invalid("The parameter EC2SecurityGroupName must be provided and must not be blank.")
	case !accountIDPattern.MatchString(owner):
		return nil, invalid("Invalid EC2SecurityGroupOwnerId %q: an AWS account id has 12 digits.", owner)
	}
	if authorize {
		if err := s.validateEC2Group(ctx, scope.Region, owner, ec2Name); err != nil {
			return nil, err
		}
	}
	var g *CacheSecurityGroup
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = s.getCacheSecurityGroup(tx, scope, group); err != nil {
			return err
		}
		i := slices.IndexFunc(g.EC2Groups, func(e EC2GroupGrant) bool { return e.Name == ec2Name && e.OwnerID == owner })
		switch {
		case authorize && i >= 0:
			return elasticacheapi.ErrAuthorizationAlreadyExistsFault("EC2 security group %s owned by %s is already authorized for cache security group %s.", ec2Name, owner, group)
		case authorize:
			g.EC2Groups = append(g.EC2Groups, EC2GroupGrant{Name: ec2Name, OwnerID: owner, Status: "authorized"})
		case i < 0:
			return elasticacheapi.ErrAuthorizationNotFoundFault("EC2 security group %s owned by %s is not authorized for cache security group %s.", ec2Name, owner, group)
		default:
			g.EC2Groups = slices.Delete(g.EC2Groups, i, i+1)
		}
		return store.PutJSON(tx, cacheSecurityGroupKey(scope, group), g)
	})
	if err != nil {
		return nil, err
	}
	if err := s.applyGrants(ctx, scope, group); err != nil {
		return nil, fmt.Errorf("apply the authorizations of %s: %w", group, err)
	}
	return cacheSecurityGroupAPI(scope, g), nil
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)

// AuthorizeCacheSecurityGroupIngress authorizes an EC2-Classic security
// group (name and owner account) on a cache security group.
func (s *Service) AuthorizeCacheSecurityGroupIngress(ctx context.Context, in *elasticacheapi.AuthorizeCacheSecurityGroupIngressMessage) (*elasticacheapi.AuthorizeCacheSecurityGroupIngressResult, error) {
	g, err := s.editGrants(ctx, aws.ToString(in.CacheSecurityGroupName), aws.ToString(in.EC2SecurityGroupName), aws.ToString(in.EC2SecurityGroupOwnerId), true)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.AuthorizeCacheSecurityGroupIngressResult{CacheSecurityGroup: g}, nil
}

// RevokeCacheSecurityGroupIngress removes an authorization.
func (s *Service) RevokeCacheSecurityGroupIngress(ctx context.Context, in *elasticacheapi.RevokeCacheSecurityGroupIngressMessage) (*elasticacheapi.RevokeCacheSecurityGroupIngressResult, error) {
	g, err := s.editGrants(ctx, aws.ToString(in.CacheSecurityGroupName), aws.ToString(in.EC2SecurityGroupName), aws.ToString(in.EC2SecurityGroupOwnerId), false)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.RevokeCacheSecurityGroupIngressResult{CacheSecurityGroup: g}, nil
}
