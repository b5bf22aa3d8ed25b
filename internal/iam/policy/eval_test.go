package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// outcome is the part of a Decision the tables compare.
type outcome struct {
	Allowed      bool
	ExplicitDeny bool
	Reason       Reason
	Policy       string
	Sid          string
}

func outcomeOf(d Decision) outcome {
	return outcome{d.Allowed, d.ExplicitDeny, d.Reason, d.Matched.Policy, d.Matched.Sid}
}

func allowed(policy, sid string) outcome {
	return outcome{Allowed: true, Reason: ReasonAllowed, Policy: policy, Sid: sid}
}

func denied(policy, sid string) outcome {
	return outcome{ExplicitDeny: true, Reason: ReasonExplicitDeny, Policy: policy, Sid: sid}
}

var implicit = outcome{Reason: ReasonNoAllow}

func identitySet(t *testing.T, docs ...string) Set {
	t.Helper()
	var s Set
	for i, d := range docs {
		s.Identity = append(s.Identity, Named{Name: string(rune('A' + i)), Policy: mustParse(t, d, KindIdentity)})
	}
	return s
}

const (
	allowEC2Describe = `{"Version":"2012-10-17","Statement":[{"Sid":"Describe","Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}`
	allowAll         = `{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}`
	// AWS's "deny all actions except IAM self-management when MFA is absent"
	// (IAM user guide, "Allows MFA-authenticated IAM users to manage their
	// own credentials"), reduced to its Deny.
	denyWithoutMFA = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyAllExceptListedIfNoMFA","Effect":"Deny",
		"NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:GetUser","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:ResyncMFADevice","sts:GetSessionToken"],
		"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	denyWithoutMFABool = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":["iam:*","sts:GetSessionToken"],
		"Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`
)

func TestEvaluateIdentity(t *testing.T) {
	cluster := ElastiCacheARN("us-east-1", acct, ECCluster, "my-cache")
	tests := []struct {
		name string
		docs []string
		req  Request
		want outcome
	}{
		{"noPolicies", nil, aliceReq("ec2:DescribeVpcs", "*"), implicit},
		{"allowWildcardAction", []string{allowEC2Describe}, aliceReq("ec2:DescribeVpcs", "*"), allowed("A", "Describe")},
		{"actionCaseInsensitive", []string{allowEC2Describe}, aliceReq("EC2:describevpcs", "*"), allowed("A", "Describe")},
		{"otherService", []string{allowEC2Describe}, aliceReq("elasticache:DescribeCacheClusters", "*"), implicit},
		{"otherAction", []string{allowEC2Describe}, aliceReq("ec2:CreateVpc", "*"), implicit},
		{"explicitDenyWins", []string{allowAll, `{"Version":"2012-10-17","Statement":{"Sid":"NoDelete","Effect":"Deny","Action":"elasticache:Delete*","Resource":"*"}}`},
			aliceReq("elasticache:DeleteCacheCluster", cluster), denied("B", "NoDelete")},
		{"denyOtherActionDoesNotApply", []string{allowAll, `{"Version":"2012-10-17","Statement":{"Sid":"NoDelete","Effect":"Deny","Action":"elasticache:Delete*","Resource":"*"}}`},
			aliceReq("elasticache:CreateCacheCluster", cluster), allowed("A", "All")},
		{"denyFirstPolicyAllowSecond", []string{`{"Version":"2012-10-17","Statement":{"Sid":"D","Effect":"Deny","Action":"ec2:*","Resource":"*"}}`, allowAll},
			aliceReq("ec2:DescribeVpcs", "*"), denied("A", "D")},
		{"questionMark", []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:DescribeVpc?","Resource":"*"}}`},
			aliceReq("ec2:DescribeVpcs", "*"), allowed("A", "")},

		// Resources.
		{"resourceExact", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"elasticache:*","Resource":"` + cluster + `"}}`},
			aliceReq("elasticache:ModifyCacheCluster", cluster), allowed("A", "R")},
		{"resourceCaseSensitive", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"elasticache:*","Resource":"arn:aws:elasticache:us-east-1:111122223333:cluster:My-Cache"}}`},
			aliceReq("elasticache:ModifyCacheCluster", cluster), implicit},
		{"resourceWildcardId", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"elasticache:*","Resource":"arn:aws:elasticache:*:111122223333:cluster:my-*"}}`},
			aliceReq("elasticache:ModifyCacheCluster", cluster), allowed("A", "R")},
		{"resourceWildcardOtherType", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"elasticache:*","Resource":"arn:aws:elasticache:*:111122223333:cluster:*"}}`},
			aliceReq("elasticache:ModifyReplicationGroup", ElastiCacheARN("us-east-1", acct, ECReplicationGroup, "rg")), implicit},
		{"resourceStarSpansColon", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"elasticache:*","Resource":"arn:aws:elasticache:us-east-1:111122223333:*"}}`},
			aliceReq("elasticache:ModifyReplicationGroup", ElastiCacheARN("us-east-1", acct, ECReplicationGroup, "rg")), allowed("A", "R")},
		{"resourceQuestion", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"ec2:*","Resource":"arn:aws:ec2:us-east-1:111122223333:vpc/vpc-?"}}`},
			aliceReq("ec2:DeleteVpc", EC2ARN("us-east-1", acct, EC2VPC, "vpc-1")), allowed("A", "R")},
		{"specificResourceVsStarRequest", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"ec2:*","Resource":"arn:aws:ec2:*:*:vpc/*"}}`},
			aliceReq("ec2:DescribeVpcs", "*"), implicit},
		{"notResourceAllow", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"iam:*","NotResource":"arn:aws:iam::111122223333:user/admin"}}`},
			aliceReq("iam:DeleteUser", IAMARN(acct, IAMUser, "/", "bob")), allowed("A", "R")},
		{"notResourceExcluded", []string{`{"Version":"2012-10-17","Statement":{"Sid":"R","Effect":"Allow","Action":"iam:*","NotResource":"arn:aws:iam::111122223333:user/admin"}}`},
			aliceReq("iam:DeleteUser", IAMARN(acct, IAMUser, "/", "admin")), implicit},

		// NotAction.
		{"notActionAllow", []string{`{"Version":"2012-10-17","Statement":{"Sid":"N","Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`},
			aliceReq("ec2:RunInstances", "*"), allowed("A", "N")},
		{"notActionAllowExcluded", []string{`{"Version":"2012-10-17","Statement":{"Sid":"N","Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`},
			aliceReq("iam:CreateUser", "*"), implicit},

		// MFA: the NotAction + BoolIfExists pattern.
		{"mfaLongTermKeyDenied", []string{allowAll, denyWithoutMFA}, aliceReq("ec2:DescribeVpcs", "*"), denied("B", "DenyAllExceptListedIfNoMFA")},
		{"mfaLongTermKeyListedAction", []string{allowAll, denyWithoutMFA}, aliceReq("sts:GetSessionToken", "*"), allowed("A", "All")},
		{"mfaTempNoMFADenied", []string{allowAll, denyWithoutMFA}, roleReq("ec2:DescribeVpcs", "*", false), denied("B", "DenyAllExceptListedIfNoMFA")},
		{"mfaTempWithMFA", []string{allowAll, denyWithoutMFA}, roleReq("ec2:DescribeVpcs", "*", true), allowed("A", "All")},
		// With Bool (no IfExists) a long-term key is NOT denied: the key is
		// absent, so the condition is false.
		{"mfaBoolLongTermKeyNotDenied", []string{allowAll, denyWithoutMFABool}, aliceReq("ec2:DescribeVpcs", "*"), allowed("A", "All")},
		{"mfaBoolTempNoMFADenied", []string{allowAll, denyWithoutMFABool}, roleReq("ec2:DescribeVpcs", "*", false), denied("B", "DenyNoMFA")},
		{"mfaAge", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Fresh","Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}}`},
			roleReq("ec2:StopInstances", "*", true), allowed("A", "Fresh")},
		{"mfaAgeAbsentForLongTerm", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Fresh","Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}}`},
			aliceReq("ec2:StopInstances", "*"), implicit},

		// Variables (IAM user guide: "allow users to manage their own credentials").
		{"ownUser", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":["iam:*AccessKey*","iam:ChangePassword","iam:GetUser"],"Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			aliceReq("iam:CreateAccessKey", aliceARN), allowed("A", "Own")},
		{"otherUser", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":["iam:*AccessKey*","iam:ChangePassword","iam:GetUser"],"Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			aliceReq("iam:CreateAccessKey", IAMARN(acct, IAMUser, "/", "bob")), implicit},
		{"variables2008Literal", []string{`{"Version":"2008-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			aliceReq("iam:GetUser", aliceARN), implicit},
		{"variables2008LiteralMatchesLiteral", []string{`{"Version":"2008-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			aliceReq("iam:GetUser", "arn:aws:iam::111122223333:user/${aws:username}"), allowed("A", "Own")},
		{"noVersionLiteral", []string{`{"Statement":{"Sid":"Own","Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			aliceReq("iam:GetUser", aliceARN), implicit},
		{"roleHasNoUsername", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Own","Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}"}}`},
			roleReq("iam:GetUser", "arn:aws:iam::111122223333:user/", false), implicit},
		{"variableDefault", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Def","Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username, 'nobody'}"}}`},
			roleReq("iam:GetUser", "arn:aws:iam::111122223333:user/nobody", false), allowed("A", "Def")},
		{"variableAccount", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Acct","Effect":"Allow","Action":"elasticache:*","Resource":"arn:aws:elasticache:*:${aws:PrincipalAccount}:*"}}`},
			aliceReq("elasticache:DeleteCacheCluster", cluster), allowed("A", "Acct")},
		{"variableInCondition", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Tag","Effect":"Allow","Action":"elasticache:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/Owner":"${aws:username}"}}}}`},
			withContext(aliceReq("elasticache:DeleteCacheCluster", cluster), "aws:ResourceTag/Owner", "alice"), allowed("A", "Tag")},
		{"variableInConditionOther", []string{`{"Version":"2012-10-17","Statement":{"Sid":"Tag","Effect":"Allow","Action":"elasticache:*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/Owner":"${aws:username}"}}}}`},
			withContext(aliceReq("elasticache:DeleteCacheCluster", cluster), "aws:ResourceTag/Owner", "bob"), implicit},

		// Conditions: several keys AND, several values OR.
		{"keysAnd", []string{regionAndIP}, aliceReq("ec2:RunInstances", "*"), allowed("A", "RegionIP")},
		{"keysAndRegionFails", []string{regionAndIP}, withRegion(aliceReq("ec2:RunInstances", "*"), "eu-west-1"), implicit},
		{"keysAndIPFails", []string{regionAndIP}, withIP(aliceReq("ec2:RunInstances", "*"), "203.0.113.9"), implicit},
		{"valuesOr", []string{regionAndIP}, withRegion(aliceReq("ec2:RunInstances", "*"), "us-west-2"), allowed("A", "RegionIP")},

		// AWS's "deny access based on the requested Region", with NotAction.
		{"denyOutsideRegions", []string{allowAll, denyRegions}, withRegion(aliceReq("ec2:RunInstances", "*"), "ap-south-1"), denied("B", "DenyAllOutsideRequestedRegions")},
		{"denyOutsideRegionsInside", []string{allowAll, denyRegions}, aliceReq("ec2:RunInstances", "*"), allowed("A", "All")},
		{"denyOutsideRegionsGlobalService", []string{allowAll, denyRegions}, withRegion(aliceReq("iam:ListUsers", "*"), "ap-south-1"), allowed("A", "All")},

		// AWS's "deny access based on the source IP".
		{"denyIPOutside", []string{allowAll, denyIP}, withIP(aliceReq("ec2:RunInstances", "*"), "198.51.100.1"), denied("B", "DenyIP")},
		{"denyIPInside", []string{allowAll, denyIP}, withIP(aliceReq("ec2:RunInstances", "*"), "203.0.113.77"), allowed("A", "All")},

		// Time window (IAM user guide: "allows access within specific dates").
		{"dateWindowInside", []string{dateWindow}, aliceReq("ec2:DescribeVpcs", "*"), allowed("A", "Window")},
		{"dateWindowAfter", []string{dateWindow}, withTime(aliceReq("ec2:DescribeVpcs", "*"), "2027-01-01T00:00:00Z"), implicit},

		// ElastiCache: only small node types, via a service key.
		{"nodeTypeAllowed", []string{allowAll, denyBigNodes}, withContext(aliceReq("elasticache:CreateCacheCluster", cluster), "elasticache:CacheNodeType", "cache.t3.micro"), allowed("A", "All")},
		{"nodeTypeDenied", []string{allowAll, denyBigNodes}, withContext(aliceReq("elasticache:CreateCacheCluster", cluster), "elasticache:CacheNodeType", "cache.r6g.xlarge"), denied("B", "SmallNodesOnly")},
		// StringNotEquals with the key absent is true: the deny applies.
		{"nodeTypeAbsentDenied", []string{allowAll, denyBigNodes}, aliceReq("elasticache:CreateCacheCluster", cluster), denied("B", "SmallNodesOnly")},
		{"nodeTypeOtherActionUnaffected", []string{allowAll, denyBigNodes}, aliceReq("elasticache:DescribeCacheClusters", "*"), allowed("A", "All")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := identitySet(t, tt.docs...)
			got := outcomeOf(Evaluate(&tt.req, set))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate(%s on %s) mismatch (-want +got):\n%s", tt.req.Action, tt.req.Resource, diff)
			}
		})
	}
}

const (
	regionAndIP = `{"Version":"2012-10-17","Statement":{"Sid":"RegionIP","Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{
		"StringEquals":{"aws:RequestedRegion":["us-east-1","us-west-2"]},
		"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}}`
	denyRegions = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyAllOutsideRequestedRegions","Effect":"Deny",
		"NotAction":["cloudfront:*","iam:*","route53:*","support:*","sts:*"],"Resource":"*",
		"Condition":{"StringNotEquals":{"aws:RequestedRegion":["eu-central-1","eu-west-1","us-east-1"]}}}]}`
	denyIP = `{"Version":"2012-10-17","Statement":{"Sid":"DenyIP","Effect":"Deny","Action":"*","Resource":"*","Condition":{
		"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}}}`
	dateWindow = `{"Version":"2012-10-17","Statement":{"Sid":"Window","Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{
		"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"}}}}`
	denyBigNodes = `{"Version":"2012-10-17","Statement":{"Sid":"SmallNodesOnly","Effect":"Deny","Action":["elasticache:CreateCacheCluster","elasticache:CreateReplicationGroup"],
		"Resource":"*","Condition":{"StringNotLike":{"elasticache:CacheNodeType":["cache.t3.*","cache.t4g.*"]}}}}`
)

func withContext(r Request, key string, vals ...string) Request {
	m := make(map[string][]string, len(r.Context)+1)
	for k, v := range r.Context {
		m[k] = v
	}
	m[key] = vals
	r.Context = m
	return r
}

func withRegion(r Request, region string) Request { r.Region = region; return r }
func withIP(r Request, ip string) Request         { r.SourceIP = ip; return r }
func withTime(r Request, ts string) Request {
	t, ok := parseDate(ts)
	if !ok {
		panic("bad test time " + ts)
	}
	r.Time = t
	return r
}

func TestEvaluateBoundaryAndSession(t *testing.T) {
	ec2Only := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"EC2","Effect":"Allow","Action":"ec2:*","Resource":"*"}}`, KindIdentity)
	denyTerminate := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"NoTerm","Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*"}}`, KindIdentity)
	all := mustParse(t, allowAll, KindIdentity)
	ecRead := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"ECRead","Effect":"Allow","Action":"elasticache:Describe*","Resource":"*"}}`, KindIdentity)

	tests := []struct {
		name string
		set  Set
		req  Request
		want outcome
	}{
		{"boundaryAllows", Set{Identity: []Named{{"id", all}}, Boundary: &Named{"pb", ec2Only}},
			aliceReq("ec2:RunInstances", "*"), allowed("id", "All")},
		{"boundaryLimits", Set{Identity: []Named{{"id", all}}, Boundary: &Named{"pb", ec2Only}},
			aliceReq("iam:CreateUser", "*"), outcome{Reason: ReasonBoundary, Policy: "id", Sid: "All"}},
		{"boundaryAloneGrantsNothing", Set{Boundary: &Named{"pb", ec2Only}},
			aliceReq("ec2:RunInstances", "*"), implicit},
		{"boundaryDeny", Set{Identity: []Named{{"id", all}}, Boundary: &Named{"pb", denyTerminate}},
			aliceReq("ec2:TerminateInstances", "*"), denied("pb", "NoTerm")},
		{"sessionLimits", Set{Identity: []Named{{"role", all}}, Session: []Named{{"session", ecRead}}},
			roleReq("ec2:RunInstances", "*", false), outcome{Reason: ReasonSession, Policy: "role", Sid: "All"}},
		{"sessionAllows", Set{Identity: []Named{{"role", all}}, Session: []Named{{"session", ecRead}}},
			roleReq("elasticache:DescribeCacheClusters", "*", false), allowed("role", "All")},
		{"sessionAloneGrantsNothing", Set{Session: []Named{{"session", ecRead}}},
			roleReq("elasticache:DescribeCacheClusters", "*", false), implicit},
		{"sessionDeny", Set{Identity: []Named{{"role", all}}, Session: []Named{{"session", denyTerminate}}},
			roleReq("ec2:TerminateInstances", "*", false), denied("session", "NoTerm")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(Evaluate(&tt.req, tt.set))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateTrust(t *testing.T) {
	role := IAMARN(acct, IAMRole, "/", "deployer")
	trustUser := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"sts:AssumeRole"}}`, KindTrust)
	trustAccount := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"Acct","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole",
		"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}`, KindTrust)
	trustAccountNoMFA := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"Acct","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}`, KindTrust)
	trustService, err := Parse(ElastiCacheServiceRoleTrust, KindTrust)
	if err != nil {
		t.Fatal(err)
	}
	trustDenyBob := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"Any","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
		{"Sid":"NotAlice","Effect":"Deny","NotPrincipal":{"AWS":"`+aliceARN+`"},"Action":"sts:AssumeRole"}]}`, KindTrust)
	allowAssume := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"Assume","Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/*"}}`, KindIdentity)

	bob := aliceReq("sts:AssumeRole", role)
	bob.Caller.ARN = "arn:aws:iam::111122223333:user/bob"
	bob.Caller.Username = "bob"
	service := Request{Action: "sts:AssumeRole", Resource: role, Caller: Caller{Type: PrincipalService, Service: ElastiCacheServiceName}}

	tests := []struct {
		name string
		set  Set
		req  Request
		want outcome
	}{
		{"userNamedInTrustNeedsNoIdentityPolicy", Set{Resource: &Named{"trust", trustUser}}, aliceReq("sts:AssumeRole", role), allowed("trust", "Alice")},
		{"otherUserNotTrusted", Set{Resource: &Named{"trust", trustUser}, Identity: []Named{{"id", allowAssume}}}, bob, outcome{Reason: ReasonTrust}},
		{"otherUserNoIdentity", Set{Resource: &Named{"trust", trustUser}}, bob, outcome{Reason: ReasonTrust}},
		{"accountTrustNeedsIdentityPolicy", Set{Resource: &Named{"trust", trustAccountNoMFA}}, aliceReq("sts:AssumeRole", role), implicit},
		{"accountTrustWithIdentityPolicy", Set{Resource: &Named{"trust", trustAccountNoMFA}, Identity: []Named{{"id", allowAssume}}}, aliceReq("sts:AssumeRole", role), allowed("id", "Assume")},
		{"accountTrustMFAConditionLongTerm", Set{Resource: &Named{"trust", trustAccount}, Identity: []Named{{"id", allowAssume}}}, aliceReq("sts:AssumeRole", role), outcome{Reason: ReasonTrust}},
		{"accountTrustMFAConditionTempMFA", Set{Resource: &Named{"trust", trustAccount}, Identity: []Named{{"id", allowAssume}}}, roleReq("sts:AssumeRole", role, true), allowed("id", "Assume")},
		{"serviceTrust", Set{Resource: &Named{"trust", trustService}}, service, allowed("trust", "")},
		{"serviceTrustOtherService", Set{Resource: &Named{"trust", trustService}}, Request{Action: "sts:AssumeRole", Resource: role, Caller: Caller{Type: PrincipalService, Service: "ec2.amazonaws.com"}}, outcome{Reason: ReasonTrust}},
		{"notPrincipalDenyOthers", Set{Resource: &Named{"trust", trustDenyBob}}, bob, denied("trust", "NotAlice")},
		{"notPrincipalDenyExempt", Set{Resource: &Named{"trust", trustDenyBob}}, aliceReq("sts:AssumeRole", role), allowed("trust", "Any")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outcomeOf(Evaluate(&tt.req, tt.set))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateResourcePolicyRoleARN(t *testing.T) {
	// A resource policy naming the role (not the session) is limited by the
	// session policy; one naming the session is not.
	res := IAMARN(acct, IAMRole, "/", "deployer")
	roleP := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"Role","Effect":"Allow","Principal":{"AWS":"`+res+`"},"Action":"elasticache:*","Resource":"*"}}`, KindResource)
	sessP := mustParse(t, `{"Version":"2012-10-17","Statement":{"Sid":"Sess","Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/deployer/build-42"},"Action":"elasticache:*","Resource":"*"}}`, KindResource)
	ec2Only := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}`, KindIdentity)
	req := roleReq("elasticache:DescribeCacheClusters", "*", false)

	if got, want := outcomeOf(Evaluate(&req, Set{Resource: &Named{"rp", roleP}})), allowed("rp", "Role"); got != want {
		t.Errorf("role ARN, no session policy = %+v, want %+v", got, want)
	}
	if got, want := outcomeOf(Evaluate(&req, Set{Resource: &Named{"rp", roleP}, Session: []Named{{"s", ec2Only}}})), implicit; got != want {
		t.Errorf("role ARN, session policy = %+v, want %+v", got, want)
	}
	if got, want := outcomeOf(Evaluate(&req, Set{Resource: &Named{"rp", sessP}, Session: []Named{{"s", ec2Only}}})), allowed("rp", "Sess"); got != want {
		t.Errorf("session ARN, session policy = %+v, want %+v", got, want)
	}
}
