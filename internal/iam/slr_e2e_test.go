package iam_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// TestServiceLinkedRoleOnFirstCluster is SEEDS 003/004 end to end:
// ElastiCache creates its service-linked role on the first cluster when the
// caller may (AmazonElastiCacheFullAccess carries iam:CreateServiceLinkedRole);
// a custom policy without that permission fails until the role exists.
func TestServiceLinkedRoleOnFirstCluster(t *testing.T) {
	env := apptest.Start(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	root := iam.NewFromConfig(env.Config())
	createCluster := func(creds aws.Credentials, id string) error {
		_, err := elasticache.NewFromConfig(env.Config(creds)).CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
			CacheClusterId: aws.String(id), Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)})
		return err
	}
	roleExists := func() bool {
		_, err := root.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("AWSServiceRoleForElastiCache")})
		return err == nil
	}

	// A custom policy: every ElastiCache action, but not iam:CreateServiceLinkedRole.
	bob := newUser(t, root, "bob")
	must[*iam.PutUserPolicyOutput](t)(root.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("cache-admin"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:*","Resource":"*"}]}`)}))
	wantCode(t, createCluster(bob, "bob-first"), "ServiceLinkedRoleNotFoundFault")
	if roleExists() {
		t.Fatal("the service-linked role exists after a caller without iam:CreateServiceLinkedRole created a cluster")
	}
	if _, err := elasticache.NewFromConfig(env.Config(bob)).DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("bob-first")}); err == nil {
		t.Error("the refused cluster exists")
	}

	// The AWS managed policy carries the permission: the role is created.
	carol := newUser(t, root, "carol")
	must[*iam.AttachUserPolicyOutput](t)(root.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("carol"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonElastiCacheFullAccess")}))
	if err := createCluster(carol, "carol-first"); err != nil {
		t.Fatalf("CreateCacheCluster with AmazonElastiCacheFullAccess = %v", err)
	}
	if !roleExists() {
		t.Fatal("no service-linked role after the first cluster")
	}
	attached := must[*iam.ListAttachedRolePoliciesOutput](t)(root.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("AWSServiceRoleForElastiCache")}))
	if len(attached.AttachedPolicies) != 1 || aws.ToString(attached.AttachedPolicies[0].PolicyName) != "ElastiCacheServiceRolePolicy" {
		t.Errorf("role policies = %+v, want ElastiCacheServiceRolePolicy", attached.AttachedPolicies)
	}

	// Now that the role exists, the custom policy suffices.
	if err := createCluster(bob, "bob-second"); err != nil {
		t.Errorf("CreateCacheCluster with the role in place = %v", err)
	}
}
