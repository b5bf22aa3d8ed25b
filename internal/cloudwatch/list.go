package cloudwatch

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
)

// listPage is the metrics a ListMetrics page holds, as CloudWatch's.
const listPage = 500

// ListMetrics implements cloudwatchapi.Operations: the metrics of the
// caller's nodes in its region that have data, filtered as asked, in
// pages of 500.
func (s *Service) ListMetrics(ctx context.Context, in *cloudwatchapi.ListMetricsInput) (*cloudwatchapi.ListMetricsOutput, error) {
	if len(in.Dimensions) > 10 {
		return nil, cloudwatchapi.ErrInvalidParameterValueException("The collection Dimensions must not have a size greater than 10.")
	}
	if ra := deref(in.RecentlyActive); ra != "" && ra != "PT3H" {
		return nil, cloudwatchapi.ErrInvalidParameterValueException("The parameter RecentlyActive must be a value in the set [ PT3H ].")
	}
	offset := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(*in.NextToken)
		if err != nil || n < 0 {
			return nil, cloudwatchapi.ErrInvalidNextToken("The service cannot process the specified NextToken.")
		}
		offset = n
	}
	all := s.metricsOf(auth.ScopeFrom(ctx), in)
	out := &cloudwatchapi.ListMetricsOutput{Metrics: []cloudwatchapi.Metric{}}
	if offset < len(all) {
		end := min(offset+listPage, len(all))
		out.Metrics = all[offset:end]
		if end < len(all) {
			out.NextToken = ptr(strconv.Itoa(end))
		}
	}
	return out, nil
}

// metricsOf lists the metrics of a scope matching a ListMetrics filter,
// sorted by cluster, node and name.
func (s *Service) metricsOf(sc auth.Scope, in *cloudwatchapi.ListMetricsInput) []cloudwatchapi.Metric {
	if ns := deref(in.Namespace); ns != "" && ns != Namespace {
		return nil
	}
	type series struct {
		key  NodeKey
		name string
	}
	var found []series
	s.mu.RLock()
	for k, r := range s.nodes {
		if k.Account != sc.AccountID || k.Region != sc.Region || !dimsMatch(k, in.Dimensions) {
			continue
		}
		for _, name := range r.listed() {
			if Published(name) && (in.MetricName == nil || *in.MetricName == name) {
				found = append(found, series{k, name})
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(found, func(a, b series) int {
		return cmp.Or(cmp.Compare(a.key.CacheClusterID, b.key.CacheClusterID), cmp.Compare(a.key.CacheNodeID, b.key.CacheNodeID), cmp.Compare(a.name, b.name))
	})
	out := make([]cloudwatchapi.Metric, 0, len(found))
	for _, f := range found {
		out = append(out, cloudwatchapi.Metric{Namespace: ptr(Namespace), MetricName: ptr(f.name), Dimensions: []cloudwatchapi.Dimension{
			{Name: ptr(DimensionCacheClusterID), Value: ptr(f.key.CacheClusterID)},
			{Name: ptr(DimensionCacheNodeID), Value: ptr(f.key.CacheNodeID)},
		}})
	}
	return out
}

// dimsMatch reports whether a node's dimensions pass ListMetrics's
// filters: each names a dimension the node has, with its value if given.
func dimsMatch(k NodeKey, filters []cloudwatchapi.DimensionFilter) bool {
	for _, f := range filters {
		var v string
		switch deref(f.Name) {
		case DimensionCacheClusterID:
			v = k.CacheClusterID
		case DimensionCacheNodeID:
			v = k.CacheNodeID
		default:
			return false
		}
		if f.Value != nil && *f.Value != v {
			return false
		}
	}
	return true
}
