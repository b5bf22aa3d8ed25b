package policy

import "testing"

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pat, s     string
		wild, fold bool
		want       bool
	}{
		{"*", "", true, false, true},
		{"*", "anything:at/all", true, false, true},
		{"ec2:Describe*", "ec2:DescribeVpcs", true, false, true},
		{"ec2:describe*", "EC2:DESCRIBEVPCS", true, true, true},
		{"ec2:describe*", "EC2:DESCRIBEVPCS", true, false, false},
		{"ec2:*Vpc?", "ec2:DescribeVpcs", true, false, true},
		{"ec2:*Vpc?", "ec2:DescribeVpc", true, false, false},
		{"a*b*c", "aXXbYYc", true, false, true},
		{"a*b*c", "aXXbYYcb", true, false, false},
		{"a*b*c", "abcbc", true, false, true},
		{"a**c", "ac", true, false, true},
		{"???", "héé", true, false, true}, // ? is one character, not one byte
		{"arn:aws:iam::*:user/*", "arn:aws:iam::111122223333:user/division/alice", true, false, true},
		{"arn:aws:elasticache:*:*:cluster:*", "arn:aws:elasticache:us-east-1:1:cluster:c1", true, false, true},
		{"arn:aws:elasticache:*", "arn:aws:elasticache:us-east-1:1:cluster:c1", true, false, true}, // * spans ':'
		{"a*", "a*", false, false, true},                                                           // not wild: '*' literal
		{"a*", "ab", false, false, false},
		{"", "", true, false, true},
		{"", "x", true, false, false},
	}
	for _, tt := range tests {
		p := compilePattern(tt.pat, tt.wild, false, tt.fold)
		if got := p.match(tt.s, nil); got != tt.want {
			t.Errorf("compilePattern(%q, wild=%v, fold=%v).match(%q) = %v, want %v", tt.pat, tt.wild, tt.fold, tt.s, got, tt.want)
		}
	}
}

func TestPatternVariables(t *testing.T) {
	r := aliceReq("s3:GetObject", "*")
	role := roleReq("s3:GetObject", "*", false)
	tests := []struct {
		name string
		pat  string
		req  *Request
		s    string
		want bool
	}{
		{"username", "home/${aws:username}/*", &r, "home/alice/x", true},
		{"usernameOther", "home/${aws:username}/*", &r, "home/bob/x", false},
		{"keyCaseInsensitive", "home/${AWS:UserName}/*", &r, "home/alice/x", true},
		{"missingNoDefault", "home/${aws:username}/*", &role, "home//x", false},
		{"default", "home/${aws:username, 'anonymous'}/*", &role, "home/anonymous/x", true},
		{"defaultUnused", "home/${aws:username, 'anonymous'}/*", &r, "home/anonymous/x", false},
		{"literalStar", "a${*}b", &r, "a*b", true},
		{"literalStarNotWild", "a${*}b", &r, "aXb", false},
		{"literalQuestion", "a${?}b", &r, "a?b", true},
		{"literalDollar", "a${$}b", &r, "a$b", true},
		{"userid", "${aws:userid}", &r, "AIDAEXAMPLEALICE", true},
		{"account", "arn:aws:iam::${aws:PrincipalAccount}:user/*", &r, aliceARN, true},
		{"currentTime", "${aws:CurrentTime}", &r, "2026-03-15T12:00:00Z", true},
		{"unclosed", "a${aws:username", &r, "a${aws:username", true},
		{"varValueIsLiteral", "${aws:username}", &Request{Caller: Caller{Username: "a*"}}, "ab", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compilePattern(tt.pat, true, true, false)
			e := &evalCtx{req: tt.req}
			if got := p.match(tt.s, e); got != tt.want {
				t.Errorf("match(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
			}
		})
	}
}
