package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// waitConverged waits until no cache cluster is creating, modifying or
// deleting and every node is available: what the controllers owe after a
// restart. It returns the clusters as last described.
func waitConverged(ctx context.Context, s *server, limit time.Duration) ([]ectypes.CacheCluster, error) {
	deadline := time.Now().Add(limit)
	for {
		out, err := s.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
		var pending []string
		if err == nil {
			for _, c := range out.CacheClusters {
				st := aws.ToString(c.CacheClusterStatus)
				ok := st == "available" && len(c.CacheNodes) == int(aws.ToInt32(c.NumCacheNodes))
				for _, n := range c.CacheNodes {
					ok = ok && aws.ToString(n.CacheNodeStatus) == "available"
				}
				if !ok {
					pending = append(pending, fmt.Sprintf("%s (%s, %d/%d nodes)", aws.ToString(c.CacheClusterId), st, len(c.CacheNodes), aws.ToInt32(c.NumCacheNodes)))
				}
			}
			if len(pending) == 0 {
				return out.CacheClusters, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return nil, fmt.Errorf("not converged after %v: %w", limit, err)
			}
			return nil, fmt.Errorf("not converged after %v: %s", limit, strings.Join(pending, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// observation is the service's state as the API shows it, in the model's
// terms (observe) and in the network's (netSnapshot, kernel.go).
type observation struct {
	states   map[string]state
	clusters []ectypes.CacheCluster
	net      netSnapshot
}

// observe reads everything the campaign can have created.
func observe(ctx context.Context, s *server, clusters []ectypes.CacheCluster) (*observation, error) {
	o := &observation{states: map[string]state{}, clusters: clusters}
	groups, err := s.ec2.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{})
	if err != nil {
		return nil, fmt.Errorf("describe security groups: %w", err)
	}
	names := map[string]string{} // group id -> name
	for _, g := range groups.SecurityGroups {
		names[aws.ToString(g.GroupId)] = aws.ToString(g.GroupName)
	}
	nameOfGroup := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return "?" + id
	}
	for _, g := range groups.SecurityGroups {
		name := aws.ToString(g.GroupName)
		if name == "default" {
			continue
		}
		st := groupState{id: aws.ToString(g.GroupId), tagged: hasEC2Tag(g.Tags, tagKey, name)}
		for _, p := range g.IpPermissions {
			for _, r := range p.IpRanges {
				st.rules = append(st.rules, permString(p, aws.ToString(r.CidrIp), ""))
			}
			for _, pair := range p.UserIdGroupPairs {
				st.rules = append(st.rules, permString(p, "", nameOfGroup(aws.ToString(pair.GroupId))))
			}
		}
		slices.Sort(st.rules)
		o.states["sg/"+name] = st
	}
	for _, c := range clusters {
		id := aws.ToString(c.CacheClusterId)
		if aws.ToString(c.ReplicationGroupId) != "" {
			continue // a replication group's member: the group is observed (observeGroups)
		}
		st := clusterState{engine: aws.ToString(c.Engine)}
		for _, n := range c.CacheNodes {
			st.nodes = append(st.nodes, aws.ToString(n.CacheNodeId))
		}
		for _, g := range c.SecurityGroups {
			st.groups = append(st.groups, nameOfGroup(aws.ToString(g.SecurityGroupId)))
		}
		slices.Sort(st.groups)
		tags, err := s.ec.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: c.ARN})
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", id, err)
		}
		for _, t := range tags.TagList {
			st.tagged = st.tagged || aws.ToString(t.Key) == tagKey && aws.ToString(t.Value) == id
		}
		o.states["cluster/"+id] = st
	}
	if err := observeGroups(ctx, s, o); err != nil {
		return nil, err
	}
	if err := observeInstances(ctx, s, o, nameOfGroup); err != nil {
		return nil, err
	}
	if err := observeIAM(ctx, s, o); err != nil {
		return nil, err
	}
	net, err := snapshotNet(ctx, s, clusters, groups.SecurityGroups)
	if err != nil {
		return nil, err
	}
	o.net = net
	return o, nil
}

func permString(p ec2types.IpPermission, cidr, group string) string {
	if aws.ToString(p.IpProtocol) != "tcp" || aws.ToInt32(p.FromPort) != aws.ToInt32(p.ToPort) {
		return fmt.Sprintf("%s:%d-%d:%s%s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort), cidr, group)
	}
	return ruleString(int(aws.ToInt32(p.FromPort)), cidr, group)
}

func hasEC2Tag(tags []ec2types.Tag, k, v string) bool {
	return slices.ContainsFunc(tags, func(t ec2types.Tag) bool { return aws.ToString(t.Key) == k && aws.ToString(t.Value) == v })
}

func observeInstances(ctx context.Context, s *server, o *observation, nameOfGroup func(string) string) error {
	out, err := s.ec2.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{})
	if err != nil {
		return fmt.Errorf("describe instances: %w", err)
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			if i.State != nil && (i.State.Name == ec2types.InstanceStateNameTerminated || i.State.Name == ec2types.InstanceStateNameShuttingDown) {
				continue
			}
			name := "untagged-" + aws.ToString(i.InstanceId)
			for _, t := range i.Tags {
				if aws.ToString(t.Key) == "Name" {
					name = aws.ToString(t.Value)
				}
			}
			st := instanceState{id: aws.ToString(i.InstanceId)}
			for _, g := range i.SecurityGroups {
				st.groups = append(st.groups, nameOfGroup(aws.ToString(g.GroupId)))
			}
			slices.Sort(st.groups)
			if i.State == nil || i.State.Name != ec2types.InstanceStateNameRunning {
				st.groups = append(st.groups, "state:"+string(i.State.Name))
			}
			o.states["instance/"+name] = st
		}
	}
	return nil
}

func observeIAM(ctx context.Context, s *server, o *observation) error {
	users, err := s.iam.ListUsers(ctx, &iam.ListUsersInput{MaxItems: aws.Int32(1000)})
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	for _, u := range users.Users {
		name := aws.ToString(u.UserName)
		st := userState{}
		tags, err := s.iam.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: u.UserName})
		if err != nil {
			return fmt.Errorf("tags of user %s: %w", name, err)
		}
		for _, t := range tags.Tags {
			st.tagged = st.tagged || aws.ToString(t.Key) == tagKey && aws.ToString(t.Value) == name
		}
		att, err := s.iam.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: u.UserName})
		if err != nil {
			return fmt.Errorf("policies of user %s: %w", name, err)
		}
		for _, p := range att.AttachedPolicies {
			st.policies = append(st.policies, aws.ToString(p.PolicyName))
		}
		slices.Sort(st.policies)
		o.states["user/"+name] = st
	}
	pols, err := s.iam.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Local", MaxItems: aws.Int32(1000)})
	if err != nil {
		return fmt.Errorf("list policies: %w", err)
	}
	for _, p := range pols.Policies {
		o.states["policy/"+aws.ToString(p.PolicyName)] = policyState{arn: aws.ToString(p.Arn)}
	}
	return nil
}
