package iam_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// ElastiCache's condition keys reach the policy evaluator from the
// request's input: a deny conditioned on the node type or on automatic
// failover holds for replication groups (and clusters), and a request the
// condition does not match gets past authorization.
func TestElastiCacheConditionKeys(t *testing.T) {
	env := apptest.Start(t, loopback)
	c := iam.NewFromConfig(env.Config())
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},` +
		`{"Effect":"Deny","Action":["elasticache:CreateReplicationGroup","elasticache:CreateCacheCluster"],"Resource":"*",` +
		`"Condition":{"StringLike":{"elasticache:CacheNodeType":"cache.m5.*"}}},` +
		`{"Effect":"Deny","Action":"elasticache:ModifyReplicationGroup","Resource":"*",` +
		`"Condition":{"Bool":{"elasticache:AutomaticFailoverEnabled":"false"}}},` +
		`{"Effect":"Deny","Action":"elasticache:CreateReplicationGroup","Resource":"*",` +
		`"Condition":{"NumericGreaterThan":{"elasticache:ReplicasPerNodeGroup":"3"}}}]}`
	p := must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("no-big-nodes"), PolicyDocument: aws.String(doc)}))
	creds := newUser(t, c, "builder")
	must[*iam.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("builder"), PolicyArn: p.Policy.Arn}))
	for _, tc := range []struct {
		action, query string
		denied        bool
	}{
		{"CreateReplicationGroup", "ReplicationGroupId=big&ReplicationGroupDescription=d&CacheNodeType=cache.m5.large", true},
		{"CreateReplicationGroup", "ReplicationGroupId=small&ReplicationGroupDescription=d&CacheNodeType=cache.t3.micro&NumCacheClusters=7", false},
		{"CreateReplicationGroup", "ReplicationGroupId=many&ReplicationGroupDescription=d&CacheNodeType=cache.t3.micro&ReplicasPerNodeGroup=4", true},
		{"CreateCacheCluster", "CacheClusterId=big&CacheNodeType=cache.m5.xlarge", true},
		{"ModifyReplicationGroup", "ReplicationGroupId=nobody&AutomaticFailoverEnabled=false", true},
		{"ModifyReplicationGroup", "ReplicationGroupId=nobody&AutomaticFailoverEnabled=true", false},
		{"ModifyReplicationGroup", "ReplicationGroupId=nobody&ApplyImmediately=true", false},
	} {
		got := signedCall(t, env, creds, "elasticache", tc.action, tc.query)
		if denied := got.status == http.StatusForbidden && got.code == "AccessDenied"; denied != tc.denied {
			t.Errorf("%s %s = %d %s %q, want denied %v", tc.action, tc.query, got.status, got.code, got.msg, tc.denied)
		}
	}
}
