package policy

import "testing"

func TestDecisionMessage(t *testing.T) {
	cluster := ElastiCacheARN("us-east-1", acct, ECCluster, "c1")
	req := aliceReq("elasticache:DeleteCacheCluster", cluster)
	star := aliceReq("ec2:DescribeVpcs", "*")
	tests := []struct {
		name string
		d    Decision
		req  *Request
		want string
	}{
		{"allowed", Decision{Allowed: true, Reason: ReasonAllowed}, &req, ""},
		{"implicit", Decision{Reason: ReasonNoAllow}, &req,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: elasticache:DeleteCacheCluster on resource: arn:aws:elasticache:us-east-1:111122223333:cluster:c1 because no identity-based policy allows the elasticache:DeleteCacheCluster action"},
		{"implicitNoResource", Decision{Reason: ReasonNoAllow}, &star,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ec2:DescribeVpcs because no identity-based policy allows the ec2:DescribeVpcs action"},
		{"explicit", Decision{ExplicitDeny: true, Reason: ReasonExplicitDeny, Matched: Match{Source: SourceIdentity}}, &req,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: elasticache:DeleteCacheCluster on resource: arn:aws:elasticache:us-east-1:111122223333:cluster:c1 with an explicit deny in an identity-based policy"},
		{"explicitResource", Decision{ExplicitDeny: true, Reason: ReasonExplicitDeny, Matched: Match{Source: SourceResource}}, &star,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ec2:DescribeVpcs with an explicit deny in a resource-based policy"},
		{"boundary", Decision{Reason: ReasonBoundary}, &star,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ec2:DescribeVpcs because no permissions boundary allows the ec2:DescribeVpcs action"},
		{"session", Decision{Reason: ReasonSession}, &star,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: ec2:DescribeVpcs because no session policy allows the ec2:DescribeVpcs action"},
		{"trust", Decision{Reason: ReasonTrust}, &req,
			"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: elasticache:DeleteCacheCluster on resource: arn:aws:elasticache:us-east-1:111122223333:cluster:c1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Message(tt.req); got != tt.want {
				t.Errorf("Message() = %q, want %q", got, tt.want)
			}
		})
	}
}
