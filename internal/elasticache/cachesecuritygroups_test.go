package elasticache_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// A VPC-only account gets AWS's refusal for every cache security group action.
func TestCacheSecurityGroupsVPCOnly(t *testing.T) {
	env := apptest.Start(t)
	ec := elasticache.NewFromConfig(env.Config())
	ctx := context.Background()
	_, err := ec.CreateCacheSecurityGroup(ctx, &elasticache.CreateCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("web"), Description: aws.String("web")})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("CreateCacheSecurityGroup on a VPC-only account = %v, want InvalidParameterValue", err)
	}
	if _, err := ec.DescribeCacheSecurityGroups(ctx, &elasticache.DescribeCacheSecurityGroupsInput{}); code(err) != "InvalidParameterValue" {
		t.Errorf("DescribeCacheSecurityGroups on a VPC-only account = %v, want InvalidParameterValue", err)
	}
	if _, err := ec.AuthorizeCacheSecurityGroupIngress(ctx, &elasticache.AuthorizeCacheSecurityGroupIngressInput{CacheSecurityGroupName: aws.String("default"),
		EC2SecurityGroupName: aws.String("app"), EC2SecurityGroupOwnerId: aws.String(env.App.AccountID())}); code(err) != "InvalidParameterValue" {
		t.Errorf("AuthorizeCacheSecurityGroupIngress on a VPC-only account = %v, want InvalidParameterValue", err)
	}
	in := &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("classic"), Engine: aws.String("memcached"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1), CacheSecurityGroupNames: []string{"default"}}
	_, err = ec.CreateCacheCluster(ctx, in)
	if code(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "Use of cache security groups is not permitted in this API version for your account") {
		t.Errorf("CreateCacheCluster with CacheSecurityGroupNames on a VPC-only account = %v, want AWS's refusal", err)
	}
	in.SecurityGroupIds = []string{"sg-12345678"}
	if _, err := ec.CreateCacheCluster(ctx, in); code(err) != "InvalidParameterCombination" {
		t.Errorf("CreateCacheCluster with both kinds of groups = %v, want InvalidParameterCombination", err)
	}
}

// An EC2-Classic account: the console flow of SEEDS 001 — select default,
// add the instance's EC2 security group, remove it — plus groups of its own.
func TestCacheSecurityGroupsClassic(t *testing.T) {
	env := apptest.Start(t)
	ctx := context.Background()
	if err := env.App.Accounts().SetEC2Classic(ctx, env.App.AccountID(), true); err != nil {
		t.Fatal(err)
	}
	ec := elasticache.NewFromConfig(env.Config())
	acct := env.App.AccountID()
	type grant struct{ Name, Owner, Status string }
	grants := func(name string) []grant {
		t.Helper()
		out, err := ec.DescribeCacheSecurityGroups(ctx, &elasticache.DescribeCacheSecurityGroupsInput{CacheSecurityGroupName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeCacheSecurityGroups(%s) = %v", name, err)
		}
		gs := []grant{}
		for _, e := range out.CacheSecurityGroups[0].EC2SecurityGroups {
			gs = append(gs, grant{aws.ToString(e.EC2SecurityGroupName), aws.ToString(e.EC2SecurityGroupOwnerId), aws.ToString(e.Status)})
		}
		return gs
	}
	if got := grants("default"); len(got) != 0 {
		t.Errorf("default grants = %v, want none", got)
	}
	auth := &elasticache.AuthorizeCacheSecurityGroupIngressInput{CacheSecurityGroupName: aws.String("default"),
		EC2SecurityGroupName: aws.String("app-servers"), EC2SecurityGroupOwnerId: aws.String(acct)}
	// AWS refuses an EC2 group that does not exist.
	if _, err := ec.AuthorizeCacheSecurityGroupIngress(ctx, auth); code(err) != "InvalidParameterValue" {
		t.Errorf("authorize an unknown EC2 group = %v, want InvalidParameterValue", err)
	}
	if _, err := ec2.NewFromConfig(env.Config()).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app-servers"),
		Description: aws.String("application servers")}); err != nil {
		t.Fatalf("CreateSecurityGroup (EC2-Classic) = %v", err)
	}
	if _, err := ec.AuthorizeCacheSecurityGroupIngress(ctx, auth); err != nil {
		t.Fatalf("AuthorizeCacheSecurityGroupIngress = %v", err)
	}
	if diff := cmp.Diff([]grant{{"app-servers", acct, "authorized"}}, grants("default")); diff != "" {
		t.Errorf("grants after authorize (-want +got):\n%s", diff)
	}
	if _, err := ec.AuthorizeCacheSecurityGroupIngress(ctx, auth); code(err) != "AuthorizationAlreadyExists" {
		t.Errorf("authorize twice = %v, want AuthorizationAlreadyExists", err)
	}
	revoke := &elasticache.RevokeCacheSecurityGroupIngressInput{CacheSecurityGroupName: aws.String("default"),
		EC2SecurityGroupName: aws.String("app-servers"), EC2SecurityGroupOwnerId: aws.String(acct)}
	if _, err := ec.RevokeCacheSecurityGroupIngress(ctx, revoke); err != nil {
		t.Fatalf("RevokeCacheSecurityGroupIngress = %v", err)
	}
	if _, err := ec.RevokeCacheSecurityGroupIngress(ctx, revoke); code(err) != "AuthorizationNotFound" {
		t.Errorf("revoke twice = %v, want AuthorizationNotFound", err)
	}

	if _, err := ec.CreateCacheSecurityGroup(ctx, &elasticache.CreateCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("Web"), Description: aws.String("web tier")}); err != nil {
		t.Fatalf("CreateCacheSecurityGroup = %v", err)
	}
	if _, err := ec.CreateCacheSecurityGroup(ctx, &elasticache.CreateCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("web"), Description: aws.String("again")}); code(err) != "CacheSecurityGroupAlreadyExists" {
		t.Errorf("create twice = %v, want CacheSecurityGroupAlreadyExists", err)
	}
	if _, err := ec.CreateCacheSecurityGroup(ctx, &elasticache.CreateCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("Default"), Description: aws.String("x")}); code(err) != "InvalidParameterValue" {
		t.Errorf("create Default = %v, want InvalidParameterValue", err)
	}
	out, err := ec.DescribeCacheSecurityGroups(ctx, &elasticache.DescribeCacheSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range out.CacheSecurityGroups {
		names = append(names, aws.ToString(g.CacheSecurityGroupName))
		if aws.ToString(g.OwnerId) != acct {
			t.Errorf("group %s owner = %s, want %s", aws.ToString(g.CacheSecurityGroupName), aws.ToString(g.OwnerId), acct)
		}
	}
	if diff := cmp.Diff([]string{"default", "web"}, names); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if _, err := ec.DeleteCacheSecurityGroup(ctx, &elasticache.DeleteCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("default")}); code(err) != "InvalidParameterValue" {
		t.Errorf("delete default = %v, want InvalidParameterValue", err)
	}
	if _, err := ec.DeleteCacheSecurityGroup(ctx, &elasticache.DeleteCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("web")}); err != nil {
		t.Fatalf("DeleteCacheSecurityGroup = %v", err)
	}
	if _, err := ec.DescribeCacheSecurityGroups(ctx, &elasticache.DescribeCacheSecurityGroupsInput{CacheSecurityGroupName: aws.String("web")}); code(err) != "CacheSecurityGroupNotFound" {
		t.Errorf("describe deleted = %v, want CacheSecurityGroupNotFound", err)
	}
}
