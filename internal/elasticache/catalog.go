package elasticache

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// DescribeCacheEngineVersions lists the engine versions this host serves:
// every version ElastiCache offers that an installed engine can serve, and
// each installed engine's own version. The version description names the
// binary that serves it ("served by redis-server 7.0.15").
func (s *Service) DescribeCacheEngineVersions(ctx context.Context, in *elasticacheapi.DescribeCacheEngineVersionsMessage) (*elasticacheapi.CacheEngineVersionMessage, error) {
	var list []elasticacheapi.CacheEngineVersion
	seen := map[string]bool{}
	for _, e := range s.cfg.Engines.Servable() {
		if in.Engine != nil && !strings.EqualFold(*in.Engine, e.Engine) {
			continue
		}
		if v := aws.ToString(in.EngineVersion); v != "" && v != e.EngineVersion {
			continue
		}
		if f := aws.ToString(in.CacheParameterGroupFamily); f != "" && f != e.Family {
			continue
		}
		if aws.ToBool(in.DefaultOnly) && seen[e.Engine] {
			continue
		}
		seen[e.Engine] = true
		list = append(list, elasticacheapi.CacheEngineVersion{
			Engine:                        aws.String(e.Engine),
			EngineVersion:                 aws.String(e.EngineVersion),
			CacheParameterGroupFamily:     aws.String(e.Family),
			CacheEngineDescription:        aws.String(engineTitle(e.Engine)),
			CacheEngineVersionDescription: aws.String(fmt.Sprintf("%s %s, served by %s %s", engineTitle(e.Engine), e.EngineVersion, e.Installed.Engine, e.Version)),
		})
	}
	// The list is in AWS's order (newest first), not the markers' order:
	// the marker is the position.
	idx := make([]int, len(list))
	for i := range idx {
		idx[i] = i
	}
	pageIdx, next, err := page(idx, func(i int) string { return fmt.Sprintf("%06d", i) }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.CacheEngineVersionMessage{CacheEngineVersions: []elasticacheapi.CacheEngineVersion{}, Marker: next}
	for _, i := range pageIdx {
		out.CacheEngineVersions = append(out.CacheEngineVersions, list[i])
	}
	return out, nil
}

// ListAllowedNodeTypeModifications lists the node types a cluster may move to.
func (s *Service) ListAllowedNodeTypeModifications(ctx context.Context, in *elasticacheapi.ListAllowedNodeTypeModificationsMessage) (*elasticacheapi.AllowedNodeTypeModificationsMessage, error) {
	scope := auth.ScopeFrom(ctx)
	if in.ReplicationGroupId != nil {
		return nil, elasticacheapi.ErrReplicationGroupNotFoundFault("ReplicationGroup %s not found.", *in.ReplicationGroupId)
	}
	if in.CacheClusterId == nil {
		return nil, invalid("The parameter CacheClusterId must be provided.")
	}
	var c *Cluster
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		c, err = getCluster(tx, scope, *in.CacheClusterId)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.AllowedNodeTypeModificationsMessage{ScaleUpModifications: []string{}, ScaleDownModifications: []string{}}
	if c.Engine == catalog.Memcached {
		return out, nil
	}
	cur, _ := catalog.NodeTypeMemory(c.NodeType)
	for _, t := range catalog.NodeTypes() {
		m, _ := catalog.NodeTypeMemory(t)
		switch {
		case t == c.NodeType:
		case m > cur:
			out.ScaleUpModifications = append(out.ScaleUpModifications, t)
		case m < cur:
			out.ScaleDownModifications = append(out.ScaleDownModifications, t)
		}
	}
	return out, nil
}

// DescribeEvents lists events, newest last, within the time window (by
// default the last hour).
func (s *Service) DescribeEvents(ctx context.Context, in *elasticacheapi.DescribeEventsMessage) (*elasticacheapi.EventsMessage, error) {
	scope := auth.ScopeFrom(ctx)
	now := s.cfg.Now().UTC()
	end := now
	if in.EndTime != nil {
		end = *in.EndTime
	}
	start := end.Add(-time.Hour)
	if in.Duration != nil {
		if *in.Duration < 0 || *in.Duration > 20160 {
			return nil, invalid("Duration must be between 0 and 20160 minutes.")
		}
		start = end.Add(-time.Duration(*in.Duration) * time.Minute)
	}
	if in.StartTime != nil {
		start = *in.StartTime
	}
	st := aws.ToString(in.SourceType)
	switch st {
	case "", "cache-cluster", "cache-parameter-group", "cache-security-group", "cache-subnet-group", "replication-group", "serverless-cache", "serverless-cache-snapshot", "user", "user-group":
	default:
		return nil, invalid("Invalid SourceType %s.", st)
	}
	var events []*Event
	err := s.st.View(ctx, func(tx store.Tx) error {
		return store.ScanJSON(tx, store.Key("elasticache", scope.AccountID, scope.Region, "event")+"/", func(_ string, e *Event) error {
			if e.Time.Before(start) || e.Time.After(end) {
				return nil
			}
			if st != "" && e.SourceType != st {
				return nil
			}
			if id := aws.ToString(in.SourceIdentifier); id != "" && e.SourceID != id {
				return nil
			}
			events = append(events, e)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(events))
	for i := range idx {
		idx[i] = i
	}
	pageIdx, next, err := page(idx, func(i int) string { return events[i].Time.Format(time.RFC3339Nano) + "/" + events[i].SourceID }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.EventsMessage{Events: []elasticacheapi.Event{}, Marker: next}
	for _, i := range pageIdx {
		e := events[i]
		t := e.Time
		out.Events = append(out.Events, elasticacheapi.Event{Date: &t, Message: aws.String(e.Message), SourceIdentifier: aws.String(e.SourceID), SourceType: aws.String(e.SourceType)})
	}
	return out, nil
}
