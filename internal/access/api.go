package access

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// The wire shapes of the actions, written by hand in the awsQuery codec's
// tag language (docs/api-extensions.md documents them).

// ConnectComputeMessage is the input of ConnectCompute and DisconnectCompute.
type ConnectComputeMessage struct {
	CacheClusterId *string `aws:"q=CacheClusterId,x=CacheClusterId,req"`
	InstanceId     *string `aws:"q=InstanceId,x=InstanceId,req"`
}

// ConnectComputeResult is ConnectCompute's output.
type ConnectComputeResult struct {
	// Action is none, create or associate (the decision table's outcome).
	Action      *string            `aws:"x=Action"`
	DecisionRow *int32             `aws:"x=DecisionRow"`
	Reason      *string            `aws:"x=Reason"`
	Connection  *ComputeConnection `aws:"x=Connection"`
}

// ComputeConnection is a connected pair.
type ComputeConnection struct {
	CacheClusterId            *string `aws:"x=CacheClusterId"`
	InstanceId                *string `aws:"x=InstanceId"`
	NetworkInterfaceId        *string `aws:"x=NetworkInterfaceId"`
	PrivateIpAddress          *string `aws:"x=PrivateIpAddress"`
	VpcId                     *string `aws:"x=VpcId"`
	Port                      *int32  `aws:"x=Port"`
	CacheSecurityGroupId      *string `aws:"x=CacheSecurityGroupId"`
	CacheSecurityGroupName    *string `aws:"x=CacheSecurityGroupName"`
	InstanceSecurityGroupId   *string `aws:"x=InstanceSecurityGroupId"`
	InstanceSecurityGroupName *string `aws:"x=InstanceSecurityGroupName"`
}

// DisconnectComputeResult is DisconnectCompute's output.
type DisconnectComputeResult struct {
	RemovedSecurityGroupIds []string `aws:"x=RemovedSecurityGroupIds,xm=SecurityGroupId"`
}

// DescribeConnectedComputeResourcesMessage is the input of
// DescribeConnectedComputeResources.
type DescribeConnectedComputeResourcesMessage struct {
	CacheClusterId *string `aws:"q=CacheClusterId,x=CacheClusterId,req"`
}

// DescribeConnectedComputeResourcesResult lists the connected instances.
type DescribeConnectedComputeResourcesResult struct {
	CacheClusterId            *string             `aws:"x=CacheClusterId"`
	ConnectedComputeResources []ComputeConnection `aws:"x=ConnectedComputeResources,xm=member"`
}

// ExplainCacheReachabilityMessage is the input of ExplainCacheReachability.
type ExplainCacheReachabilityMessage struct {
	CacheClusterId *string `aws:"q=CacheClusterId,x=CacheClusterId,req"`
	InstanceId     *string `aws:"q=InstanceId,x=InstanceId,req"`
	Port           *int32  `aws:"q=Port,x=Port"`
}

// ExplainCacheReachabilityResult is the verdict.
type ExplainCacheReachabilityResult struct {
	Allowed     *bool              `aws:"x=Allowed"`
	Port        *int32             `aws:"x=Port"`
	Explanation *string            `aws:"x=Explanation"`
	Nodes       []NodeReachability `aws:"x=Nodes,xm=member"`
}

// NodeReachability is the verdict for one cache endpoint.
type NodeReachability struct {
	CacheNodeId        *string          `aws:"x=CacheNodeId"`
	NetworkInterfaceId *string          `aws:"x=NetworkInterfaceId"`
	Address            *string          `aws:"x=Address"`
	Allowed            *bool            `aws:"x=Allowed"`
	Path               *string          `aws:"x=Path"`
	AllowingRules      []string         `aws:"x=AllowingRules,xm=member"`
	Missing            []MissingElement `aws:"x=Missing,xm=member"`
}

// MissingElement is one thing that stops the flow.
type MissingElement struct {
	Kind   *string `aws:"x=Kind"`
	Reason *string `aws:"x=Reason"`
}

// Operations returns the actions for the ElastiCache endpoint binding.
func (s *Service) Operations() map[string]awsproto.Operation {
	op := func(name string, newIn func() any, call func(ctx context.Context, in any) (any, error)) awsproto.Operation {
		return awsproto.Operation{Name: name, ResultWrapper: name + "Result", NewInput: newIn, Call: call}
	}
	return map[string]awsproto.Operation{
		"ConnectCompute": op("ConnectCompute", func() any { return new(ConnectComputeMessage) }, func(ctx context.Context, in any) (any, error) {
			m := in.(*ConnectComputeMessage)
			r, err := s.Connect(ctx, strings.ToLower(aws.ToString(m.CacheClusterId)), aws.ToString(m.InstanceId))
			if err != nil {
				return nil, err
			}
			return &ConnectComputeResult{Action: aws.String(r.Action), DecisionRow: aws.Int32(int32(r.Row)), Reason: aws.String(r.Reason),
				Connection: &ComputeConnection{
					CacheClusterId: aws.String(r.CacheID), InstanceId: aws.String(r.InstanceID), NetworkInterfaceId: aws.String(r.InterfaceID),
					VpcId: aws.String(r.VpcID), Port: aws.Int32(int32(r.Port)),
					CacheSecurityGroupId: aws.String(r.CacheSideID), CacheSecurityGroupName: aws.String(r.CacheSideGroupName),
					InstanceSecurityGroupId: aws.String(r.InstanceSideID), InstanceSecurityGroupName: aws.String(r.InstanceSideGroupName),
				}}, nil
		}),
		"DisconnectCompute": op("DisconnectCompute", func() any { return new(ConnectComputeMessage) }, func(ctx context.Context, in any) (any, error) {
			m := in.(*ConnectComputeMessage)
			r, err := s.Disconnect(ctx, strings.ToLower(aws.ToString(m.CacheClusterId)), aws.ToString(m.InstanceId))
			if err != nil {
				return nil, err
			}
			return &DisconnectComputeResult{RemovedSecurityGroupIds: append([]string{}, r.Removed...)}, nil
		}),
		"DescribeConnectedComputeResources": op("DescribeConnectedComputeResources", func() any { return new(DescribeConnectedComputeResourcesMessage) }, func(ctx context.Context, in any) (any, error) {
			m := in.(*DescribeConnectedComputeResourcesMessage)
			rs, c, err := s.Connected(ctx, strings.ToLower(aws.ToString(m.CacheClusterId)))
			if err != nil {
				return nil, err
			}
			out := &DescribeConnectedComputeResourcesResult{CacheClusterId: aws.String(c.ID), ConnectedComputeResources: []ComputeConnection{}}
			for _, r := range rs {
				out.ConnectedComputeResources = append(out.ConnectedComputeResources, ComputeConnection{
					CacheClusterId: aws.String(c.ID), InstanceId: aws.String(r.InstanceID), NetworkInterfaceId: aws.String(r.InterfaceID),
					PrivateIpAddress: aws.String(r.Address), VpcId: aws.String(c.VpcID), Port: aws.Int32(int32(c.Port)),
					CacheSecurityGroupId: aws.String(r.CacheSideID), InstanceSecurityGroupId: aws.String(r.InstanceSideID),
				})
			}
			return out, nil
		}),
		"ExplainCacheReachability": op("ExplainCacheReachability", func() any { return new(ExplainCacheReachabilityMessage) }, func(ctx context.Context, in any) (any, error) {
			m := in.(*ExplainCacheReachabilityMessage)
			e, err := s.Explain(ctx, aws.ToString(m.InstanceId), strings.ToLower(aws.ToString(m.CacheClusterId)), int(aws.ToInt32(m.Port)))
			if err != nil {
				return nil, err
			}
			return ExplanationResult(e), nil
		}),
	}
}

// ExplanationResult renders an Explanation in the wire shape.
func ExplanationResult(e *Explanation) *ExplainCacheReachabilityResult {
	out := &ExplainCacheReachabilityResult{Allowed: aws.Bool(e.Allowed), Port: aws.Int32(int32(e.Port)), Explanation: aws.String(e.String()), Nodes: []NodeReachability{}}
	for _, ep := range e.Endpoints {
		n := NodeReachability{CacheNodeId: aws.String(ep.Name), NetworkInterfaceId: aws.String(ep.InterfaceID), Address: aws.String(ep.Address),
			Allowed: aws.Bool(ep.Allowed), Path: aws.String(ep.Path), AllowingRules: append([]string{}, ep.Rules...), Missing: []MissingElement{}}
		for _, m := range ep.Missing {
			n.Missing = append(n.Missing, MissingElement{Kind: aws.String(m.Kind), Reason: aws.String(m.Reason)})
		}
		out.Nodes = append(out.Nodes, n)
	}
	return out
}
