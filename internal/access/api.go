package access

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/cachalotapi"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// API returns Cachalot's own actions over the Service, for the wiring to
// bind on the ElastiCache endpoint (cachalotapi.OperationTable). Their wire
// shapes are generated from api/models/cachalot.json
// (docs/api-extensions.md documents them); the domain knows no codec.
func (s *Service) API() cachalotapi.Operations { return api{s} }

// api implements the generated operations over the Service.
type api struct{ s *Service }

var _ cachalotapi.Operations = api{}

func (a api) ConnectCompute(ctx context.Context, in *cachalotapi.ConnectComputeMessage) (*cachalotapi.ConnectComputeResult, error) {
	connect := a.s.Connect
	if aws.ToBool(in.Preview) {
		connect = a.s.PreviewConnect
	}
	r, err := connect(ctx, strings.ToLower(aws.ToString(in.CacheClusterId)), aws.ToString(in.InstanceId))
	if err != nil {
		return nil, err
	}
	return &cachalotapi.ConnectComputeResult{Action: aws.String(r.Action), DecisionRow: aws.Int32(int32(r.Row)), Reason: aws.String(r.Reason),
		Connection: &cachalotapi.ComputeConnection{
			CacheClusterId: aws.String(r.CacheID), InstanceId: aws.String(r.InstanceID), NetworkInterfaceId: aws.String(r.InterfaceID),
			VpcId: aws.String(r.VpcID), Port: aws.Int32(int32(r.Port)),
			CacheSecurityGroupId: aws.String(r.CacheSideID), CacheSecurityGroupName: aws.String(r.CacheSideGroupName),
			InstanceSecurityGroupId: aws.String(r.InstanceSideID), InstanceSecurityGroupName: aws.String(r.InstanceSideGroupName),
		}}, nil
}

func (a api) DisconnectCompute(ctx context.Context, in *cachalotapi.ConnectComputeMessage) (*cachalotapi.DisconnectComputeResult, error) {
	if aws.ToBool(in.Preview) {
		return nil, awserr.New("InvalidParameterCombination", "Preview applies to ConnectCompute only")
	}
	r, err := a.s.Disconnect(ctx, strings.ToLower(aws.ToString(in.CacheClusterId)), aws.ToString(in.InstanceId))
	if err != nil {
		return nil, err
	}
	return &cachalotapi.DisconnectComputeResult{RemovedSecurityGroupIds: append([]string{}, r.Removed...)}, nil
}

func (a api) DescribeConnectedComputeResources(ctx context.Context, in *cachalotapi.DescribeConnectedComputeResourcesMessage) (*cachalotapi.DescribeConnectedComputeResourcesResult, error) {
	rs, c, err := a.s.Connected(ctx, strings.ToLower(aws.ToString(in.CacheClusterId)))
	if err != nil {
		return nil, err
	}
	out := &cachalotapi.DescribeConnectedComputeResourcesResult{CacheClusterId: aws.String(c.ID), ConnectedComputeResources: []cachalotapi.ComputeConnection{}}
	for _, r := range rs {
		out.ConnectedComputeResources = append(out.ConnectedComputeResources, cachalotapi.ComputeConnection{
			CacheClusterId: aws.String(c.ID), InstanceId: aws.String(r.InstanceID), NetworkInterfaceId: aws.String(r.InterfaceID),
			PrivateIpAddress: aws.String(r.Address), VpcId: aws.String(c.VpcID), Port: aws.Int32(int32(c.Port)),
			CacheSecurityGroupId: aws.String(r.CacheSideID), InstanceSecurityGroupId: aws.String(r.InstanceSideID),
		})
	}
	return out, nil
}

func (a api) ExplainCacheReachability(ctx context.Context, in *cachalotapi.ExplainCacheReachabilityMessage) (*cachalotapi.ExplainCacheReachabilityResult, error) {
	var e *Explanation
	var err error
	cache, port := strings.ToLower(aws.ToString(in.CacheClusterId)), int(aws.ToInt32(in.Port))
	switch {
	case aws.ToBool(in.FromHost) && in.InstanceId != nil:
		return nil, awserr.New("InvalidParameterCombination", "Specify either InstanceId or FromHost, not both.")
	case aws.ToBool(in.FromHost):
		e, err = a.s.ExplainHost(ctx, cache, port)
	default:
		e, err = a.s.Explain(ctx, aws.ToString(in.InstanceId), cache, port)
	}
	if err != nil {
		return nil, err
	}
	return explanationResult(e), nil
}

// explanationResult renders an Explanation in the wire shape.
func explanationResult(e *Explanation) *cachalotapi.ExplainCacheReachabilityResult {
	out := &cachalotapi.ExplainCacheReachabilityResult{Allowed: aws.Bool(e.Allowed), Port: aws.Int32(int32(e.Port)), Explanation: aws.String(e.String()), Nodes: []cachalotapi.NodeReachability{}}
	for _, ep := range e.Endpoints {
		n := cachalotapi.NodeReachability{CacheNodeId: aws.String(ep.Name), NetworkInterfaceId: aws.String(ep.InterfaceID), Address: aws.String(ep.Address),
			Allowed: aws.Bool(ep.Allowed), Path: aws.String(ep.Path), AllowingRules: append([]string{}, ep.Rules...), Missing: []cachalotapi.MissingElement{}}
		for _, m := range ep.Missing {
			n.Missing = append(n.Missing, cachalotapi.MissingElement{Kind: aws.String(m.Kind), Reason: aws.String(m.Reason)})
		}
		out.Nodes = append(out.Nodes, n)
	}
	return out
}

func (a api) PublishCache(ctx context.Context, in *cachalotapi.PublishCacheMessage) (*cachalotapi.PublishCacheResult, error) {
	pc, err := a.s.Publish(ctx, strings.ToLower(aws.ToString(in.CacheClusterId)))
	if err != nil {
		return nil, err
	}
	return &cachalotapi.PublishCacheResult{PublishedCache: a.publishedCache(pc)}, nil
}

func (a api) UnpublishCache(ctx context.Context, in *cachalotapi.PublishCacheMessage) (*cachalotapi.UnpublishCacheResult, error) {
	pc, err := a.s.Unpublish(ctx, strings.ToLower(aws.ToString(in.CacheClusterId)))
	if err != nil {
		return nil, err
	}
	return &cachalotapi.UnpublishCacheResult{PublishedCache: a.publishedCache(pc)}, nil
}

func (a api) DescribePublishedCaches(ctx context.Context, in *cachalotapi.DescribePublishedCachesMessage) (*cachalotapi.DescribePublishedCachesResult, error) {
	pcs, err := a.s.DescribePublished(ctx, strings.ToLower(aws.ToString(in.CacheClusterId)))
	if err != nil {
		return nil, err
	}
	out := &cachalotapi.DescribePublishedCachesResult{PublishedCaches: []cachalotapi.PublishedCache{}}
	if c := a.s.cfg.Publishing.HostClient; c.IsValid() {
		out.HostClientAddress = aws.String(c.String())
	}
	for i := range pcs {
		out.PublishedCaches = append(out.PublishedCaches, *a.publishedCache(&pcs[i]))
	}
	return out, nil
}

// publishedCache renders a published cache in the wire shape.
func (a api) publishedCache(pc *PublishedCache) *cachalotapi.PublishedCache {
	by := "api"
	if pc.Auto {
		by = "publish-all"
	}
	out := &cachalotapi.PublishedCache{CacheClusterId: aws.String(pc.ID), Kind: aws.String(pc.Kind), PublishedBy: aws.String(by),
		Endpoints: []cachalotapi.PublishedEndpoint{}}
	if c := a.s.cfg.Publishing.HostClient; c.IsValid() {
		out.HostClientAddress = aws.String(c.String())
	}
	// One element per name: a group member's node answers for its own
	// name and, while it holds the role, the group's endpoint names.
	for _, ep := range pc.Endpoints {
		names := ep.DNSNames
		if len(names) == 0 {
			names = []string{ep.DNSName}
		}
		for _, n := range names {
			out.Endpoints = append(out.Endpoints, cachalotapi.PublishedEndpoint{CacheNodeId: aws.String(ep.Name), Name: aws.String(n),
				Address: aws.String(ep.Address), Port: aws.Int32(int32(ep.HostPort)), PrivateIpAddress: aws.String(ep.PrivateIP),
				NetworkInterfaceId: aws.String(ep.InterfaceID)})
		}
	}
	return out
}
