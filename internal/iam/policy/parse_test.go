package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		kind Kind
		want *Policy
	}{
		{
			name: "statementObjectStrings",
			doc:  `{"Version":"2012-10-17","Id":"p1","Statement":{"Sid":"S1","Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}}`,
			want: &Policy{Version: Version2012, ID: "p1", Statements: []Statement{{
				Sid: "S1", Effect: Allow, Action: []string{"ec2:DescribeVpcs"}, Resource: []string{"*"},
			}}},
		},
		{
			name: "statementListLists",
			doc: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Deny","NotAction":["iam:*","sts:GetSessionToken"],"NotResource":["arn:aws:iam::*:user/x"],
				 "Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":false},"NumericLessThan":{"aws:EpochTime":[1, 2.5]}}}]}`,
			want: &Policy{Version: Version2012, Statements: []Statement{{
				Effect: Deny, NotAction: []string{"iam:*", "sts:GetSessionToken"}, NotResource: []string{"arn:aws:iam::*:user/x"},
				Conditions: []Condition{
					{Operator: "BoolIfExists", Key: "aws:MultiFactorAuthPresent", Values: []string{"false"}},
					{Operator: "NumericLessThan", Key: "aws:EpochTime", Values: []string{"1", "2.5"}},
				},
			}}},
		},
		{
			name: "noVersion",
			doc:  `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
			want: &Policy{Statements: []Statement{{Effect: Allow, Action: []string{"*"}, Resource: []string{"*"}}}},
		},
		{
			name: "trustPrincipals",
			kind: KindTrust,
			doc: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:user/bob"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},
				{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"},
				{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`,
			want: &Policy{Version: Version2012, Kind: KindTrust, Statements: []Statement{
				{Effect: Allow, Action: []string{"sts:AssumeRole"}, Principal: &Principal{
					AWS: []string{"arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:user/bob"}, Service: []string{"ec2.amazonaws.com"}}},
				{Effect: Allow, Action: []string{"sts:AssumeRoleWithWebIdentity"}, Principal: &Principal{All: true}},
				{Effect: Allow, Action: []string{"sts:AssumeRoleWithWebIdentity"}, Principal: &Principal{Federated: []string{"cognito-identity.amazonaws.com"}}},
			}},
		},
		{
			name: "resourcePolicyAWSStar",
			kind: KindResource,
			doc:  `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}`,
			want: &Policy{Version: Version2012, Kind: KindResource, Statements: []Statement{{
				Effect: Deny, NotPrincipal: &Principal{All: true, AWS: []string{"*"}}, Action: []string{"s3:*"}, Resource: []string{"arn:aws:s3:::b/*"},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.doc, tt.kind)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(Statement{})); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	const ok = `"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"`
	tests := []struct {
		name string
		kind Kind
		doc  string
		want string
	}{
		{"notJSON", KindIdentity, `{"Version":`, MsgLegacyParsing},
		{"leadingSpace", KindIdentity, ` {"Statement":{` + ok + `}}`, MsgLegacyParsing},
		{"array", KindIdentity, `[]`, MsgLegacyParsing},
		{"empty", KindIdentity, ``, MsgLegacyParsing},
		{"badVersion", KindIdentity, `{"Version":"2012-10-18","Statement":{` + ok + `}}`, MsgLegacyParsing},
		{"numericVersion", KindIdentity, `{"Version":2012,"Statement":{` + ok + `}}`, MsgLegacyParsing},
		{"unknownTop", KindIdentity, `{"Version":"2012-10-17","Statment":{` + ok + `}}`, MsgSyntax},
		{"noStatement", KindIdentity, `{"Version":"2012-10-17"}`, MsgMissingStatement},
		{"statementString", KindIdentity, `{"Statement":"x"}`, MsgSyntax},
		{"unknownField", KindIdentity, `{"Statement":{` + ok + `,"Actions":"x"}}`, MsgSyntax},
		{"principalInIdentity", KindIdentity, `{"Statement":{` + ok + `,"Principal":"*"}}`, MsgPrincipalForbidden},
		{"notPrincipalInIdentity", KindIdentity, `{"Statement":{` + ok + `,"NotPrincipal":{"AWS":"*"}}}`, MsgPrincipalForbidden},
		{"noEffect", KindIdentity, `{"Statement":{"Action":"ec2:X","Resource":"*"}}`, MsgMissingEffect},
		{"badEffect", KindIdentity, `{"Statement":{"Effect":"allow","Action":"ec2:X","Resource":"*"}}`, "Invalid effect: allow"},
		{"noAction", KindIdentity, `{"Statement":{"Effect":"Allow","Resource":"*"}}`, MsgMissingAction},
		{"emptyAction", KindIdentity, `{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, MsgNoActions},
		{"actionAndNot", KindIdentity, `{"Statement":{"Effect":"Allow","Action":"a:b","NotAction":"a:c","Resource":"*"}}`, MsgActionAndNot},
		{"actionNoVendor", KindIdentity, `{"Statement":{"Effect":"Allow","Action":"DescribeVpcs","Resource":"*"}}`, MsgVendorPrefix},
		{"actionNumber", KindIdentity, `{"Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}`, MsgSyntax},
		{"noResource", KindIdentity, `{"Statement":{"Effect":"Allow","Action":"ec2:X"}}`, MsgMissingResource},
		{"emptyResource", KindIdentity, `{"Statement":{"Effect":"Allow","Action":"ec2:X","Resource":[]}}`, MsgNoResources},
		{"resourceAndNot", KindIdentity, `{"Statement":{"Effect":"Allow","Action":"ec2:X","Resource":"*","NotResource":"*"}}`, MsgResourceAndNot},
		{"resourceNotARN", KindIdentity, `{"Statement":{"Effect":"Allow","Action":"ec2:X","Resource":"vpc-1"}}`, `Resource vpc-1 must be in ARN format or "*".`},
		{"dupSid", KindIdentity, `{"Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`, MsgSidUnique},
		{"sidNotAlnum", KindIdentity, `{"Statement":{"Sid":"a-b",` + ok + `}}`, MsgSidAlnum},
		{"badOperator", KindIdentity, `{"Statement":{` + ok + `,"Condition":{"StringEqualz":{"aws:username":"a"}}}}`, "Invalid Condition type : StringEqualz"},
		{"badSetOperator", KindIdentity, `{"Statement":{` + ok + `,"Condition":{"ForSomeValues:StringLike":{"aws:TagKeys":"a"}}}}`, "Invalid Condition type : ForSomeValues:StringLike"},
		{"nullIfExists", KindIdentity, `{"Statement":{` + ok + `,"Condition":{"NullIfExists":{"aws:username":"true"}}}}`, "Invalid Condition type : NullIfExists"},
		{"conditionKeyNoVendor", KindIdentity, `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"username":"a"}}}}`, MsgVendorPrefix},
		{"conditionObjectValue", KindIdentity, `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"aws:username":{"a":1}}}}}`, MsgSyntax},
		{"conditionNotObject", KindIdentity, `{"Statement":{` + ok + `,"Condition":["x"]}}`, MsgSyntax},
		{"trustNoPrincipal", KindTrust, `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, MsgMissingPrincipal},
		{"trustResource", KindTrust, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}`, MsgResourceProhibited},
		{"trustBadPrincipal", KindTrust, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "AWS":"bob"`},
		{"trustBadPrincipalString", KindTrust, `{"Statement":{"Effect":"Allow","Principal":"bob","Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "bob"`},
		{"trustUnknownPrincipalType", KindTrust, `{"Statement":{"Effect":"Allow","Principal":{"Human":"bob"},"Action":"sts:AssumeRole"}}`, `Invalid principal in policy: "Human"`},
		{"resourceNoPrincipal", KindResource, `{"Statement":{` + ok + `}}`, MsgMissingPrincipal},
		{"principalAndNot", KindResource, `{"Statement":{` + ok + `,"Principal":"*","NotPrincipal":"*"}}`, MsgPrincipalAndNot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.doc, tt.kind)
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, nil; want error %q", tt.doc, p, tt.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("errors.Is(%v, ErrMalformed) = false", err)
			}
			var m *MalformedError
			if !errors.As(err, &m) {
				t.Fatalf("errors.As(%v, *MalformedError) = false", err)
			}
			if m.Message != tt.want {
				t.Errorf("Parse(%s) message = %q, want %q", tt.doc, m.Message, tt.want)
			}
		})
	}
}

func TestCanonicalSize(t *testing.T) {
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Sid\": \"A B\", \"Effect\": \"Allow\"}\n}"
	compact := `{"Version":"2012-10-17","Statement":{"Sid":"A B","Effect":"Allow"}}`
	got, err := CanonicalSize(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got != len(compact) {
		t.Errorf("CanonicalSize = %d, want %d", got, len(compact))
	}
	if c, _ := Compact(doc); c != compact {
		t.Errorf("Compact = %s, want %s", c, compact)
	}
	if _, err := CanonicalSize("{"); !errors.Is(err, ErrMalformed) {
		t.Errorf("CanonicalSize({) error = %v, want ErrMalformed", err)
	}
}
