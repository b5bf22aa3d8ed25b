package policy_test

import (
	"errors"
	"fmt"

	"github.com/cachalot-dev/cachalot/internal/iam/policy"
)

func Example() {
	m, _ := policy.ManagedPolicy("AmazonElastiCacheReadOnlyAccess")
	managed, err := m.Named()
	if err != nil {
		fmt.Println(err)
		return
	}
	inline, err := policy.Parse(`{"Version":"2012-10-17","Statement":{"Sid":"OwnCaches","Effect":"Allow",
		"Action":"elasticache:*","Resource":"arn:aws:elasticache:*:111122223333:cluster:${aws:username}-*"}}`, policy.KindIdentity)
	if err != nil {
		fmt.Println(err)
		return
	}
	set := policy.Set{Identity: []policy.Named{managed, {Name: "user/alice/own-caches", Policy: inline}}}

	req := policy.Request{
		Action:   "elasticache:DeleteCacheCluster",
		Resource: policy.ElastiCacheARN("us-east-1", "111122223333", policy.ECCluster, "alice-test"),
		Caller:   policy.Caller{Type: policy.PrincipalUser, ARN: "arn:aws:iam::111122223333:user/alice", AccountID: "111122223333", Username: "alice"},
	}
	d := policy.Evaluate(&req, set)
	fmt.Println(d.Allowed, d.Matched.Policy, d.Matched.Sid)

	req.Resource = policy.ElastiCacheARN("us-east-1", "111122223333", policy.ECCluster, "bob-prod")
	d = policy.Evaluate(&req, set)
	fmt.Println(d.Allowed, d.Message(&req))

	_, err = policy.Parse(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"*"}}`, policy.KindIdentity)
	var mal *policy.MalformedError
	fmt.Println(errors.As(err, &mal), mal.Message)
	// Output:
	// true user/alice/own-caches OwnCaches
	// false User: arn:aws:iam::111122223333:user/alice is not authorized to perform: elasticache:DeleteCacheCluster on resource: arn:aws:elasticache:us-east-1:111122223333:cluster:bob-prod because no identity-based policy allows the elasticache:DeleteCacheCluster action
	// true Policy document should not specify a principal.
}
