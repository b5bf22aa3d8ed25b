package policy

import (
	"fmt"
	"testing"
)

// benchSet returns n attached policies: a realistic mix of AWS managed
// policies and small customer policies (resource-scoped statements, MFA and
// region guards, tag conditions with variables).
func benchSet(b testing.TB, n int) Set {
	b.Helper()
	managed := []string{"AmazonElastiCacheFullAccess", "AmazonEC2ReadOnlyAccess", "AmazonVPCFullAccess", "ReadOnlyAccess", "AmazonElastiCacheReadOnlyAccess"}
	customer := []string{
		denyWithoutMFA,
		denyRegions,
		`{"Version":"2012-10-17","Statement":[{"Sid":"OwnCreds","Effect":"Allow","Action":["iam:*AccessKey*","iam:ChangePassword","iam:GetUser","iam:*MFADevice"],"Resource":["arn:aws:iam::*:user/${aws:username}","arn:aws:iam::*:mfa/${aws:username}"]}]}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":"TeamCaches%[1]d","Effect":"Allow","Action":["elasticache:Modify*","elasticache:Reboot*","elasticache:Delete*"],
			"Resource":["arn:aws:elasticache:*:111122223333:cluster:team%[1]d-*","arn:aws:elasticache:*:111122223333:replicationgroup:team%[1]d-*"],
			"Condition":{"StringEquals":{"aws:ResourceTag/team":"team%[1]d"}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":"OwnerTag%[1]d","Effect":"Allow","Action":"ec2:*SecurityGroup*","Resource":"arn:aws:ec2:*:111122223333:security-group/*",
			"Condition":{"StringEquals":{"ec2:ResourceTag/Owner":"${aws:username}"},"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":"NoBigNodes%[1]d","Effect":"Deny","Action":["elasticache:CreateCacheCluster","elasticache:CreateReplicationGroup"],"Resource":"*",
			"Condition":{"ForAnyValue:StringNotLike":{"elasticache:CacheNodeType":["cache.t3.*","cache.t4g.*","cache.m7g.*"]}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Sid":"Window%[1]d","Effect":"Allow","Action":["ec2:StartInstances","ec2:StopInstances"],"Resource":"arn:aws:ec2:us-east-1:111122223333:instance/*",
			"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}}}]}`,
	}
	var s Set
	mi, ci := 0, 0
	for i := 0; i < n; i++ {
		// Roughly one managed policy for four customer policies, the first
		// one managed; never more managed policies than exist.
		if i == 0 || (i%5 == 0 && mi < len(managed)) {
			m, ok := ManagedPolicy(managed[mi%len(managed)])
			if !ok {
				b.Fatalf("no managed policy %s", managed[mi])
			}
			np, err := m.Named()
			if err != nil {
				b.Fatal(err)
			}
			s.Identity = append(s.Identity, np)
			mi++
			continue
		}
		doc := customer[ci%len(customer)]
		if ci%len(customer) >= 3 {
			doc = fmt.Sprintf(doc, ci)
		}
		p, err := Parse(doc, KindIdentity)
		if err != nil {
			b.Fatalf("customer policy %d: %v", ci, err)
		}
		s.Identity = append(s.Identity, Named{Name: fmt.Sprintf("arn:aws:iam::111122223333:policy/customer-%d", ci), Policy: p})
		ci++
	}
	return s
}

// BenchmarkEvaluate measures one authorization decision. "allow" is an
// MFA-authenticated role session creating a cache (allowed by
// AmazonElastiCacheFullAccess, every Deny still checked); "implicitDeny" is
// an action nothing allows, so every statement is evaluated.
func BenchmarkEvaluate(b *testing.B) {
	cluster := ElastiCacheARN("us-east-1", acct, ECCluster, "team3-cache")
	for _, n := range []int{1, 10, 100} {
		set := benchSet(b, n)
		allow := roleReq("elasticache:CreateCacheCluster", cluster, true)
		allow.Context = map[string][]string{"elasticache:CacheNodeType": {"cache.t3.micro"}, "aws:ResourceTag/team": {"team3"}}
		deny := roleReq("iam:CreateUser", IAMARN(acct, IAMUser, "/", "mallory"), true)
		for _, c := range []struct {
			name string
			req  Request
			want bool
		}{{"allow", allow, true}, {"implicitDeny", deny, false}} {
			b.Run(fmt.Sprintf("policies=%d/%s", n, c.name), func(b *testing.B) {
				if d := Evaluate(&c.req, set); d.Allowed != c.want {
					b.Fatalf("Evaluate = %+v, want allowed %v", d, c.want)
				}
				b.ReportAllocs()
				for b.Loop() {
					Evaluate(&c.req, set)
				}
			})
		}
	}
}

// BenchmarkParse measures parsing and compiling a managed policy.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"AmazonElastiCacheFullAccess", "AmazonVPCFullAccess"} {
		m, _ := ManagedPolicy(name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Parse(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEvaluateDoesNotAllocate pins the allocation-free hot path.
func TestEvaluateDoesNotAllocate(t *testing.T) {
	set := benchSet(t, 100)
	req := roleReq("elasticache:CreateCacheCluster", ElastiCacheARN("us-east-1", acct, ECCluster, "team3-cache"), true)
	req.Context = map[string][]string{"elasticache:CacheNodeType": {"cache.t3.micro"}, "aws:ResourceTag/team": {"team3"}}
	if n := testing.AllocsPerRun(100, func() { Evaluate(&req, set) }); n != 0 {
		t.Errorf("Evaluate allocates %v times per run, want 0", n)
	}
}
