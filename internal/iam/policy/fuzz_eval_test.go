package policy

import (
	"strings"
	"testing"
	"time"
)

// fuzzPolicies are the identity policies FuzzEvaluate asks about: between
// them every condition operator family, variables, NotAction/NotResource,
// wildcards and the IfExists and ForAnyValue/ForAllValues forms.
var fuzzPolicies = []string{
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","elasticache:*Cache?luster*"],"Resource":"arn:aws:*:*:${aws:PrincipalAccount}:*"},
	 {"Effect":"Deny","NotAction":"iam:*","NotResource":["arn:aws:ec2:*:*:vpc/*","arn:aws:iam::*:user/${aws:username}"]}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
	 "IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"NotIpAddress":{"aws:SourceIp":"10.9.0.0/16"},
	 "StringLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/${aws:username}*"},"StringNotEqualsIgnoreCase":{"aws:RequestedRegion":"EU-WEST-1"},
	 "Bool":{"aws:SecureTransport":"true"},"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"},
	 "NumericLessThanEquals":{"aws:MultiFactorAuthAge":"3600"},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
	 "DateLessThan":{"aws:EpochTime":"4102444800"},"Null":{"aws:TokenIssueTime":"false"}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
	 "ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]},"ForAllValues:StringLike":{"aws:TagKeys":"*"},
	 "StringEqualsIfExists":{"aws:RequestTag/env":"${aws:PrincipalTag/env}"},"ArnLike":{"aws:SourceArn":"arn:aws:*:*:*:*"},
	 "NumericGreaterThan":{"elasticache:NumNodeGroups":"1"},"StringNotLike":{"ec2:ResourceTag/Name":["?ecret*","\\*"]}}},
	 {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ArnNotEquals":{"aws:PrincipalArn":"${aws:PrincipalArn}"}}}]}`,
}

// FuzzEvaluate asks the evaluator about random requests — any action,
// resource, caller, source address, region, time and condition context —
// against policies using every condition form. No request may panic, a
// decision must be deterministic and consistent with its reason, a Deny of
// everything must win over any allow, and Message must explain it. Seeds
// are in testdata/fuzz/FuzzEvaluate; `make fuzz` runs it.
func FuzzEvaluate(f *testing.F) {
	f.Add("ec2:DescribeVpcs", "*", "arn:aws:iam::111122223333:user/alice", "10.1.2.3", "us-east-1", int64(1773576000), "aws:TagKeys", "env\nteam", uint8(0))
	f.Add("elasticache:CreateCacheCluster", "arn:aws:elasticache:us-east-1:111122223333:cluster:c1", "arn:aws:sts::111122223333:assumed-role/r/s", "2001:db8::1", "eu-west-1", int64(0), "aws:RequestTag/env", "prod", uint8(0xff))
	f.Add("IAM:CreateUser", "arn:aws:iam::111122223333:user/*", "*", "not an ip", "", int64(-1), "ec2:ResourceTag/Name", "secret", uint8(3))
	var pols []Named
	for i, doc := range fuzzPolicies {
		p, err := Parse(doc, KindIdentity)
		if err != nil {
			f.Fatalf("policy %d: %v", i, err)
		}
		pols = append(pols, Named{Name: "p" + string(rune('0'+i)), Policy: p})
	}
	denyAll := Named{Name: "deny", Policy: mustParse(f, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, KindIdentity)}
	trust := Named{Name: "trust", Policy: mustParse(f, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]},"Action":"sts:AssumeRole","Condition":{"StringLike":{"sts:ExternalId":"x*"}}}]}`, KindTrust)}
	f.Fuzz(func(t *testing.T, action, resource, arn, ip, region string, unix int64, key, values string, flags uint8) {
		req := Request{
			Action: action, Resource: resource,
			Caller: Caller{
				Type: []string{PrincipalUser, PrincipalAssumedRole, PrincipalAccount, PrincipalFederatedUser, PrincipalService}[int(flags)%5],
				ARN:  arn, PrincipalARN: arn, AccountID: "111122223333", UserID: "AIDA" + region, Username: region,
				Temporary: flags&8 != 0, MFA: flags&16 != 0, Service: resource,
			},
			SourceIP: ip, SecureTransport: flags&32 != 0, Region: region,
			Context: map[string][]string{key: strings.Split(values, "\n"), "aws:PrincipalTag/env": {values}},
		}
		if flags&64 != 0 {
			req.Time = time.Unix(unix%(1<<36), 0)
			req.Caller.MFAAuthTime = req.Time.Add(-time.Duration(unix%7200) * time.Second)
			req.Caller.TokenIssued = req.Caller.MFAAuthTime
		}
		sets := []Set{
			{Identity: pols},
			{Identity: pols[1:], Boundary: &pols[2], Session: pols[3:]},
			{Resource: &trust},
			{Identity: pols[:1], Resource: &trust},
		}
		for _, set := range sets {
			d := Evaluate(&req, set)
			if d2 := Evaluate(&req, set); d2 != d {
				t.Fatalf("Evaluate is not deterministic: %+v then %+v", d, d2)
			}
			if d.Allowed != (d.Reason == ReasonAllowed) || (d.ExplicitDeny != (d.Reason == ReasonExplicitDeny)) || (d.Allowed && d.ExplicitDeny) {
				t.Fatalf("inconsistent decision %+v", d)
			}
			if msg := d.Message(&req); (msg == "") != d.Allowed {
				t.Fatalf("decision %+v has message %q", d, msg)
			}
			set.Identity = append(append([]Named(nil), set.Identity...), denyAll)
			if d := Evaluate(&req, set); d.Allowed || !d.ExplicitDeny {
				t.Fatalf("a Deny of everything did not win: %+v", d)
			}
		}
		// Allow * with no condition allows anything.
		if d := Evaluate(&req, Set{Identity: pols[:1]}); !d.Allowed {
			t.Fatalf("Allow * on * did not allow %+v: %+v", req, d)
		}
	})
}
