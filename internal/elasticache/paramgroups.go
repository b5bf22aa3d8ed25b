package elasticache

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

func defaultParamGroupName(family string) string { return "default." + family }

// clusterOnSuffix ends the name of a family's default group with cluster
// mode on (default.redis7.cluster.on).
const clusterOnSuffix = ".cluster.on"

func clusterParamGroupName(family string) string { return "default." + family + clusterOnSuffix }

// hasClusterMode reports whether a family has cluster mode (the
// cluster-enabled parameter), and so a default .cluster.on group.
func hasClusterMode(family string) bool {
	_, err := catalog.LookupParameter(family, "cluster-enabled")
	return err == nil
}

func isDefaultParamGroup(name string) bool { return strings.HasPrefix(name, "default.") }

// getParamGroup returns a customer group from tx, or a default group
// derived from its family.
func getParamGroup(tx store.Tx, scope auth.Scope, name string) (*ParameterGroup, error) {
	name = strings.ToLower(name)
	if isDefaultParamGroup(name) {
		family := strings.TrimPrefix(name, "default.")
		if f, ok := strings.CutSuffix(family, clusterOnSuffix); ok && hasClusterMode(f) {
			return &ParameterGroup{Account: scope.AccountID, Region: scope.Region, Name: name, Family: f,
				Description: "Customized default parameter group for " + f + " with cluster mode on",
				Values:      map[string]string{"cluster-enabled": "yes"}}, nil
		}
		if slices.Contains(catalog.Families(), family) {
			return &ParameterGroup{Account: scope.AccountID, Region: scope.Region, Name: name, Family: family, Description: "Default parameter group for " + family}, nil
		}
	}
	var g ParameterGroup
	if err := store.GetJSON(tx, paramGroupKey(scope, name), &g); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, elasticacheapi.ErrCacheParameterGroupNotFoundFault("CacheParameterGroup %s not found.", name)
		}
		return nil, err
	}
	return &g, nil
}

func paramGroupAPI(scope auth.Scope, g *ParameterGroup) *elasticacheapi.CacheParameterGroup {
	return &elasticacheapi.CacheParameterGroup{
		ARN:                       aws.String(ARN(scope, "parametergroup", g.Name)),
		CacheParameterGroupName:   aws.String(g.Name),
		CacheParameterGroupFamily: aws.String(g.Family),
		Description:               aws.String(g.Description),
		IsGlobal:                  aws.Bool(false),
	}
}

// CreateCacheParameterGroup creates a customer parameter group.
func (s *Service) CreateCacheParameterGroup(ctx context.Context, in *elasticacheapi.CreateCacheParameterGroupMessage) (*elasticacheapi.CreateCacheParameterGroupResult, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.CacheParameterGroupName))
	if err := checkIdentifier("CacheParameterGroupName", name, 255); err != nil {
		return nil, err
	}
	family := aws.ToString(in.CacheParameterGroupFamily)
	if !slices.Contains(catalog.Families(), family) {
		return nil, invalid("The parameter CacheParameterGroupFamily has an invalid value %s; valid values are %s.", family, strings.Join(catalog.Families(), ", "))
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	g := &ParameterGroup{Account: scope.AccountID, Region: scope.Region, Name: name, Family: family, Description: aws.ToString(in.Description), Values: map[string]string{}, Tags: tags}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if isDefaultParamGroup(name) {
			return elasticacheapi.ErrCacheParameterGroupAlreadyExistsFault("Parameter group %s already exists.", name)
		}
		if _, err := tx.Get(paramGroupKey(scope, name)); err == nil {
			return elasticacheapi.ErrCacheParameterGroupAlreadyExistsFault("Parameter group %s already exists.", name)
		}
		n := 0
		tx.Scan(store.Key("elasticache", scope.AccountID, scope.Region, "parametergroup")+"/", func(string, []byte) error { n++; return nil })
		if n >= 150 {
			return elasticacheapi.ErrCacheParameterGroupQuotaExceededFault("The request cannot be processed because it would exceed the allowed number of cache parameter groups, 150.")
		}
		return store.PutJSON(tx, paramGroupKey(scope, name), g)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateCacheParameterGroupResult{CacheParameterGroup: paramGroupAPI(scope, g)}, nil
}

// DescribeCacheParameterGroups lists the default groups of the installed
// families and the customer groups.
func (s *Service) DescribeCacheParameterGroups(ctx context.Context, in *elasticacheapi.DescribeCacheParameterGroupsMessage) (*elasticacheapi.CacheParameterGroupsMessage, error) {
	scope := auth.ScopeFrom(ctx)
	var groups []*ParameterGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		if name := aws.ToString(in.CacheParameterGroupName); name != "" {
			g, err := getParamGroup(tx, scope, name)
			if err != nil {
				return err
			}
			groups = []*ParameterGroup{g}
			return nil
		}
		for _, f := range catalog.Families() {
			g, _ := getParamGroup(tx, scope, defaultParamGroupName(f))
			groups = append(groups, g)
			if hasClusterMode(f) {
				g, _ := getParamGroup(tx, scope, clusterParamGroupName(f))
				groups = append(groups, g)
			}
		}
		custom, err := store.ListJSON[ParameterGroup](tx, store.Key("elasticache", scope.AccountID, scope.Region, "parametergroup")+"/")
		groups = append(groups, custom...)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(groups, func(a, b *ParameterGroup) int { return strings.Compare(a.Name, b.Name) })
	items, next, err := page(groups, func(g *ParameterGroup) string { return g.Name }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.CacheParameterGroupsMessage{CacheParameterGroups: []elasticacheapi.CacheParameterGroup{}, Marker: next}
	for _, g := range items {
		out.CacheParameterGroups = append(out.CacheParameterGroups, *paramGroupAPI(scope, g))
	}
	return out, nil
}

func parametersAPI(family string, values map[string]string, source string) ([]elasticacheapi.Parameter, error) {
	params, err := catalog.Parameters(family)
	if err != nil {
		return nil, err
	}
	out := []elasticacheapi.Parameter{}
	for _, p := range params {
		src, val := "system", p.Default
		if v, ok := values[p.Name]; ok {
			src, val = "user", v
		}
		if source != "" && source != src && !(source == "engine-default" && src == "system") {
			continue
		}
		ap := elasticacheapi.Parameter{
			ParameterName: aws.String(p.Name), ParameterValue: aws.String(val),
			Description: aws.String(p.Description), Source: aws.String(src),
			DataType: aws.String(string(p.DataType)), IsModifiable: aws.Bool(p.Modifiable),
			ChangeType: aws.String(string(p.ChangeType)), MinimumEngineVersion: aws.String(p.MinimumEngineVersion),
		}
		if p.AllowedValues != "" {
			ap.AllowedValues = aws.String(p.AllowedValues)
		}
		out = append(out, ap)
	}
	return out, nil
}

// DescribeCacheParameters lists a group's parameters.
func (s *Service) DescribeCacheParameters(ctx context.Context, in *elasticacheapi.DescribeCacheParametersMessage) (*elasticacheapi.CacheParameterGroupDetails, error) {
	scope := auth.ScopeFrom(ctx)
	var g *ParameterGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		g, err = getParamGroup(tx, scope, aws.ToString(in.CacheParameterGroupName))
		return err
	})
	if err != nil {
		return nil, err
	}
	src := aws.ToString(in.Source)
	if src != "" && src != "user" && src != "system" && src != "engine-default" {
		return nil, invalid("Invalid Source %s: valid values are user, system and engine-default.", src)
	}
	params, err := parametersAPI(g.Family, g.Values, src)
	if err != nil {
		return nil, err
	}
	items, next, err := page(params, func(p elasticacheapi.Parameter) string { return *p.ParameterName }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CacheParameterGroupDetails{Parameters: items, Marker: next, CacheNodeTypeSpecificParameters: []elasticacheapi.CacheNodeTypeSpecificParameter{}}, nil
}

// DescribeEngineDefaultParameters lists a family's defaults.
func (s *Service) DescribeEngineDefaultParameters(ctx context.Context, in *elasticacheapi.DescribeEngineDefaultParametersMessage) (*elasticacheapi.DescribeEngineDefaultParametersResult, error) {
	family := aws.ToString(in.CacheParameterGroupFamily)
	if !slices.Contains(catalog.Families(), family) {
		return nil, invalid("Invalid CacheParameterGroupFamily %s; valid values are %s.", family, strings.Join(catalog.Families(), ", "))
	}
	params, err := parametersAPI(family, nil, "")
	if err != nil {
		return nil, err
	}
	items, next, err := page(params, func(p elasticacheapi.Parameter) string { return *p.ParameterName }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.DescribeEngineDefaultParametersResult{EngineDefaults: &elasticacheapi.EngineDefaults{
		CacheParameterGroupFamily: aws.String(family), Parameters: items, Marker: next,
		CacheNodeTypeSpecificParameters: []elasticacheapi.CacheNodeTypeSpecificParameter{},
	}}, nil
}

// ModifyCacheParameterGroup sets parameter values; clusters using the group
// apply dynamic ones at once and flag static ones pending-reboot.
func (s *Service) ModifyCacheParameterGroup(ctx context.Context, in *elasticacheapi.ModifyCacheParameterGroupMessage) (*elasticacheapi.CacheParameterGroupNameMessage, error) {
	scope := auth.ScopeFrom(ctx)
	if len(in.ParameterNameValues) == 0 {
		return nil, invalid("The parameter ParameterNameValues must be provided and must not be empty.")
	}
	if len(in.ParameterNameValues) > 20 {
		return nil, invalid("At most 20 parameters may be modified in one request.")
	}
	name := strings.ToLower(aws.ToString(in.CacheParameterGroupName))
	if isDefaultParamGroup(name) {
		return nil, elasticacheapi.ErrInvalidCacheParameterGroupStateFault("Default parameter groups cannot be modified: %s", name)
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		g, err := getParamGroup(tx, scope, name)
		if err != nil {
			return err
		}
		changes := map[string]string{}
		for _, nv := range in.ParameterNameValues {
			pn, pv := aws.ToString(nv.ParameterName), aws.ToString(nv.ParameterValue)
			p, err := catalog.LookupParameter(g.Family, pn)
			if err != nil {
				return invalid("Unknown parameter for %s: %s", g.Family, pn)
			}
			if !p.Modifiable {
				return invalid("Parameter %s is not modifiable.", pn)
			}
			if err := p.Validate(pv); err != nil {
				return invalid("Invalid value %q for parameter %s: %v", pv, pn, err)
			}
			changes[pn] = pv
		}
		merged := maps.Clone(g.Values)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, changes)
		if err := catalog.ValidateChanges(g.Family, merged); err != nil {
			return invalid("%v", err)
		}
		g.Values = merged
		if err := store.PutJSON(tx, paramGroupKey(scope, name), g); err != nil {
			return err
		}
		return markParamGroupApplying(tx, scope, name)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CacheParameterGroupNameMessage{CacheParameterGroupName: aws.String(name)}, nil
}

// markParamGroupApplying tells the reconciler to re-apply the group to every
// cluster using it.
func markParamGroupApplying(tx store.Tx, scope auth.Scope, name string) error {
	return store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "cluster")+"/", func(_ string, c *Cluster) error {
		if c.ParameterGroup != name {
			return nil
		}
		c.ParamStatus = "applying"
		c.Generation++
		return putCluster(tx, c)
	})
}

// ResetCacheParameterGroup returns parameters to their defaults.
func (s *Service) ResetCacheParameterGroup(ctx context.Context, in *elasticacheapi.ResetCacheParameterGroupMessage) (*elasticacheapi.CacheParameterGroupNameMessage, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.CacheParameterGroupName))
	if isDefaultParamGroup(name) {
		return nil, elasticacheapi.ErrInvalidCacheParameterGroupStateFault("Default parameter groups cannot be modified: %s", name)
	}
	all := aws.ToBool(in.ResetAllParameters)
	if all == (len(in.ParameterNameValues) > 0) {
		return nil, combination("Specify either ResetAllParameters or ParameterNameValues.")
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		g, err := getParamGroup(tx, scope, name)
		if err != nil {
			return err
		}
		if all {
			g.Values = map[string]string{}
		} else {
			for _, nv := range in.ParameterNameValues {
				pn := aws.ToString(nv.ParameterName)
				if _, err := catalog.LookupParameter(g.Family, pn); err != nil {
					return invalid("Unknown parameter for %s: %s", g.Family, pn)
				}
				delete(g.Values, pn)
			}
		}
		if err := store.PutJSON(tx, paramGroupKey(scope, name), g); err != nil {
			return err
		}
		return markParamGroupApplying(tx, scope, name)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CacheParameterGroupNameMessage{CacheParameterGroupName: aws.String(name)}, nil
}

// DeleteCacheParameterGroup deletes a customer group no cluster uses.
func (s *Service) DeleteCacheParameterGroup(ctx context.Context, in *elasticacheapi.DeleteCacheParameterGroupMessage) error {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.CacheParameterGroupName))
	if isDefaultParamGroup(name) {
		return elasticacheapi.ErrInvalidCacheParameterGroupStateFault("Default parameter groups cannot be deleted: %s", name)
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getParamGroup(tx, scope, name); err != nil {
			return err
		}
		inUse := false
		store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "cluster")+"/", func(_ string, c *Cluster) error {
			inUse = inUse || c.ParameterGroup == name
			return nil
		})
		if inUse {
			return elasticacheapi.ErrInvalidCacheParameterGroupStateFault("One or more cache clusters are still members of this parameter group %s, so the group cannot be deleted.", name)
		}
		return tx.Delete(paramGroupKey(scope, name))
	})
}
