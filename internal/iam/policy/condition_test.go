package policy

import (
	"fmt"
	"testing"
)

// condAllows parses an Allow-everything statement guarded by one condition
// and reports whether req is allowed.
func condAllows(t *testing.T, cond string, req Request) bool {
	t.Helper()
	doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":%s}}`, cond)
	p := mustParse(t, doc, KindIdentity)
	return Evaluate(&req, Set{Identity: []Named{{Name: "p", Policy: p}}}).Allowed
}

func ctxReq(kv ...any) Request {
	r := aliceReq("elasticache:CreateCacheCluster", "*")
	r.Context = map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			r.Context[kv[i].(string)] = []string{v}
		case []string:
			r.Context[kv[i].(string)] = v
		}
	}
	return r
}

func TestConditionOperators(t *testing.T) {
	base := aliceReq("elasticache:CreateCacheCluster", "*")
	tests := []struct {
		name string
		cond string
		req  Request
		want bool
	}{
		// String.
		{"StringEquals", `{"StringEquals":{"aws:username":"alice"}}`, base, true},
		{"StringEqualsCaseSensitive", `{"StringEquals":{"aws:username":"Alice"}}`, base, false},
		{"StringEqualsStarIsLiteral", `{"StringEquals":{"aws:username":"ali*"}}`, base, false},
		{"StringEqualsOneOf", `{"StringEquals":{"aws:username":["bob","alice"]}}`, base, true},
		{"StringNotEquals", `{"StringNotEquals":{"aws:username":"bob"}}`, base, true},
		{"StringNotEqualsMatch", `{"StringNotEquals":{"aws:username":["bob","alice"]}}`, base, false},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}`, base, true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:username":"ALICE"}}`, base, false},
		{"StringLike", `{"StringLike":{"aws:username":"a?i*"}}`, base, true},
		{"StringLikeNo", `{"StringLike":{"aws:username":"b*"}}`, base, false},
		{"StringNotLike", `{"StringNotLike":{"aws:username":"b*"}}`, base, true},
		{"StringNotLikeMatch", `{"StringNotLike":{"aws:username":"a*"}}`, base, false},
		{"KeyNameCaseInsensitive", `{"StringEquals":{"AWS:UserName":"alice"}}`, base, true},
		{"ContextKeyCaseInsensitive", `{"StringEquals":{"ELASTICACHE:cachenodetype":"cache.t3.micro"}}`, ctxReq("elasticache:CacheNodeType", "cache.t3.micro"), true},
		{"AbsentKeyPositiveFalse", `{"StringEquals":{"elasticache:CacheNodeType":"x"}}`, base, false},
		{"AbsentKeyNegatedTrue", `{"StringNotEquals":{"elasticache:CacheNodeType":"x"}}`, base, true},
		{"IfExistsAbsent", `{"StringEqualsIfExists":{"elasticache:CacheNodeType":"x"}}`, base, true},
		{"IfExistsPresentMismatch", `{"StringEqualsIfExists":{"elasticache:CacheNodeType":"x"}}`, ctxReq("elasticache:CacheNodeType", "y"), false},
		{"IfExistsPresentMatch", `{"StringEqualsIfExists":{"elasticache:CacheNodeType":"x"}}`, ctxReq("elasticache:CacheNodeType", "x"), true},
		{"MultipleKeysAnd", `{"StringEquals":{"aws:username":"alice","aws:PrincipalType":"Role"}}`, base, false},
		{"MultipleOperatorsAnd", `{"StringEquals":{"aws:username":"alice"},"Bool":{"aws:SecureTransport":"true"}}`, base, true},

		// Numeric.
		{"NumericEquals", `{"NumericEquals":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "10"), true},
		{"NumericEqualsFloat", `{"NumericEquals":{"ec2:Count":"10.0"}}`, ctxReq("ec2:Count", "10"), true},
		{"NumericEqualsJSONNumber", `{"NumericEquals":{"ec2:Count":10}}`, ctxReq("ec2:Count", "10"), true},
		{"NumericNotEquals", `{"NumericNotEquals":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "11"), true},
		{"NumericLessThan", `{"NumericLessThan":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "9"), true},
		{"NumericLessThanEqualBoundary", `{"NumericLessThan":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "10"), false},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "10"), true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "11"), true},
		{"NumericGreaterThanNo", `{"NumericGreaterThan":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "10"), false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "10"), true},
		{"NumericNotANumber", `{"NumericEquals":{"ec2:Count":"10"}}`, ctxReq("ec2:Count", "ten"), false},
		{"NumericBadPolicyValue", `{"NumericEquals":{"ec2:Count":"ten"}}`, ctxReq("ec2:Count", "10"), false},
		{"NumericEpochTime", `{"NumericGreaterThan":{"aws:EpochTime":"1700000000"}}`, base, true},

		// Date (request time 2026-03-15T12:00:00Z).
		{"DateEquals", `{"DateEquals":{"aws:CurrentTime":"2026-03-15T12:00:00Z"}}`, base, true},
		{"DateEqualsEpoch", `{"DateEquals":{"aws:CurrentTime":"1773576000"}}`, base, true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-03-15T12:00:01Z"}}`, base, true},
		{"DateLessThan", `{"DateLessThan":{"aws:CurrentTime":"2026-03-16"}}`, base, true},
		{"DateLessThanNo", `{"DateLessThan":{"aws:CurrentTime":"2026-03-15T12:00:00Z"}}`, base, false},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-03-15T12:00:00Z"}}`, base, true},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2026-03-15T11:59:59Z"}}`, base, true},
		{"DateGreaterThanOffset", `{"DateGreaterThan":{"aws:CurrentTime":"2026-03-15T12:59:59+01:00"}}`, base, true},
		{"DateGreaterThanEquals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-03-15T12:00:00Z"}}`, base, true},
		{"DateEpochTimeKey", `{"DateGreaterThan":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}`, base, true},
		{"DateTokenIssueTime", `{"DateGreaterThan":{"aws:TokenIssueTime":"2026-03-15T11:00:00Z"}}`, roleReq("ec2:X", "*", false), true},

		// Bool.
		{"BoolTrue", `{"Bool":{"aws:SecureTransport":"true"}}`, base, true},
		{"BoolJSONTrue", `{"Bool":{"aws:SecureTransport":true}}`, base, true},
		{"BoolFalse", `{"Bool":{"aws:SecureTransport":"false"}}`, base, false},
		{"BoolCaseInsensitive", `{"Bool":{"aws:SecureTransport":"TRUE"}}`, base, true},
		{"BoolMFAAbsentForLongTerm", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, base, false},
		{"BoolIfExistsMFAAbsentForLongTerm", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, base, true},
		{"BoolMFAFalseForTemp", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, roleReq("ec2:X", "*", false), true},
		{"BoolMFATrueForTempMFA", `{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`, roleReq("ec2:X", "*", true), true},

		// Binary.
		{"BinaryEquals", `{"BinaryEquals":{"test:Blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, ctxReq("test:Blob", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="), true},
		{"BinaryEqualsNo", `{"BinaryEquals":{"test:Blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}`, ctxReq("test:Blob", "b3RoZXI="), false},

		// IP.
		{"IpAddressCIDR", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, base, true},
		{"IpAddressSingle", `{"IpAddress":{"aws:SourceIp":"192.0.2.10"}}`, base, true},
		{"IpAddressSingleOther", `{"IpAddress":{"aws:SourceIp":"192.0.2.11"}}`, base, false},
		{"IpAddressOutside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, base, false},
		{"NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, base, true},
		{"NotIpAddressInside", `{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","192.0.2.0/24"]}}`, base, false},
		{"IpAddressV6", `{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}`, withIP(base, "2001:db8:1234:5678::42"), true},
		{"IpAddressV6Outside", `{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}`, withIP(base, "2001:db8:1234:5679::42"), false},
		{"IpAddressV4MappedRequest", `{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}`, withIP(base, "::ffff:192.0.2.1"), true},
		{"IpAddressV4PolicyV6Request", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, withIP(base, "2001:db8::1"), false},
		{"IpAddressNoSourceIP", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, withIP(base, ""), false},

		// ARN.
		{"ArnEquals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, base, true},
		{"ArnLike", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/a*"}}`, base, true},
		{"ArnLikeSegmentsSeparate", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*"}}`, base, false},
		{"ArnLikeRole", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/deploy*"}}`, roleReq("ec2:X", "*", false), true},
		{"ArnNotEquals", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}`, base, true},
		{"ArnNotLike", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}`, base, false},
		{"ArnLikeVariable", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:user/*"}}`, base, true},
		{"ArnLikeNotAnArn", `{"ArnLike":{"test:Arn":"arn:aws:iam::*:user/*"}}`, ctxReq("test:Arn", "alice"), false},
		{"ArnLikeContextKey", `{"ArnLike":{"test:Arn":"arn:aws:iam::*:user/*"}}`, ctxReq("test:Arn", aliceARN), true},
		{"ArnLikeResourceColons", `{"ArnLike":{"test:Arn":"arn:aws:elasticache:*:*:cluster:*"}}`, ctxReq("test:Arn", "arn:aws:elasticache:us-east-1:1:cluster:c1"), true},
		{"ArnEqualsWildcardRegion", `{"ArnEquals":{"test:Arn":"arn:aws:elasticache:*:1:cluster:c1"}}`, ctxReq("test:Arn", "arn:aws:elasticache:us-east-1:1:cluster:c1"), true},

		// Null.
		{"NullTrueAbsent", `{"Null":{"aws:TokenIssueTime":"true"}}`, base, true},
		{"NullTruePresent", `{"Null":{"aws:TokenIssueTime":"true"}}`, roleReq("ec2:X", "*", false), false},
		{"NullFalsePresent", `{"Null":{"aws:TokenIssueTime":"false"}}`, roleReq("ec2:X", "*", false), true},
		{"NullFalseAbsent", `{"Null":{"aws:TokenIssueTime":"false"}}`, base, false},
		{"NullUsernameForRole", `{"Null":{"aws:username":"true"}}`, roleReq("ec2:X", "*", false), true},

		// Set operators.
		{"ForAllValuesSubset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctxReq("aws:TagKeys", []string{"env"}), true},
		{"ForAllValuesNotSubset", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctxReq("aws:TagKeys", []string{"env", "cost"}), false},
		{"ForAllValuesEmptySet", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctxReq("aws:TagKeys", []string{}), true},
		{"ForAllValuesAbsent", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, base, true},
		{"ForAnyValueOne", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctxReq("aws:TagKeys", []string{"cost", "team"}), true},
		{"ForAnyValueNone", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctxReq("aws:TagKeys", []string{"cost"}), false},
		{"ForAnyValueEmptySet", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, ctxReq("aws:TagKeys", []string{}), false},
		{"ForAnyValueAbsent", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env","team"]}}`, base, false},
		{"ForAllValuesLike", `{"ForAllValues:StringLike":{"aws:TagKeys":["app:*"]}}`, ctxReq("aws:TagKeys", []string{"app:a", "app:b"}), true},
		{"ForAnyValueNotEquals", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, ctxReq("aws:TagKeys", []string{"env", "team"}), true},
		{"ForAllValuesNotEquals", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["env"]}}`, ctxReq("aws:TagKeys", []string{"env", "team"}), false},
		{"ForAllValuesIfExistsAbsent", `{"ForAllValues:StringEqualsIfExists":{"aws:TagKeys":["env"]}}`, base, true},
		{"MultiValuedNoSetOpAny", `{"StringEquals":{"aws:TagKeys":"team"}}`, ctxReq("aws:TagKeys", []string{"env", "team"}), true},
		{"MultiValuedNoSetOpNegated", `{"StringNotEquals":{"aws:TagKeys":"team"}}`, ctxReq("aws:TagKeys", []string{"env", "team"}), false},

		// Global keys.
		{"PrincipalTypeUser", `{"StringEquals":{"aws:PrincipalType":"User"}}`, base, true},
		{"PrincipalTypeRole", `{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}`, roleReq("ec2:X", "*", false), true},
		{"PrincipalArnRoleForSession", `{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/deployer"}}`, roleReq("ec2:X", "*", false), true},
		{"PrincipalAccount", `{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}`, base, true},
		{"UserID", `{"StringEquals":{"aws:userid":"AIDAEXAMPLEALICE"}}`, base, true},
		{"UserIDRoleSession", `{"StringLike":{"aws:userid":"AROAEXAMPLEDEPLOY:*"}}`, roleReq("ec2:X", "*", false), true},
		{"RequestedRegion", `{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}`, base, true},
		{"SecureTransportFalse", `{"Bool":{"aws:SecureTransport":"false"}}`, Request{Action: "ec2:X", Resource: "*"}, true},
		{"ContextDoesNotOverrideGlobal", `{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`, ctxReq("aws:RequestedRegion", "eu-west-1"), false},
		{"ViaAWSServiceDefault", `{"Bool":{"aws:ViaAWSService":"false"}}`, base, true},
		{"ViaAWSServiceContext", `{"Bool":{"aws:ViaAWSService":"false"}}`, ctxReq("aws:ViaAWSService", "true"), false},
		{"CurrentTimeAbsentWithoutTime", `{"DateGreaterThan":{"aws:CurrentTime":"2000-01-01"}}`, Request{Action: "ec2:X", Resource: "*"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := condAllows(t, tt.cond, tt.req); got != tt.want {
				t.Errorf("condition %s = %v, want %v", tt.cond, got, tt.want)
			}
		})
	}
}
