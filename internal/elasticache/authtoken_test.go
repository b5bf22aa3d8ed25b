package elasticache

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

func TestCheckAuthToken(t *testing.T) {
	for _, tc := range []struct {
		tok string
		ok  bool
	}{
		{"0123456789abcdef", true},
		{strings.Repeat("a", 128), true},
		{"All-the-specials!&#$^<>-", true},
		{"0123456789abcde", false},        // 15
		{strings.Repeat("a", 129), false}, // 129
		{"with space 0123456789", false},
		{"with-at-@-0123456789", false},
		{`with-quote-"-0123456789`, false},
		{"with-slash-/-0123456789", false},
		{"non-ascii-é-0123456789", false},
	} {
		if err := checkAuthToken(tc.tok); (err == nil) != tc.ok {
			t.Errorf("checkAuthToken(%q) = %v, want ok %v", tc.tok, err, tc.ok)
		}
	}
}

// TestUpdateAuthTokens: ROTATE keeps the latest token and adds the new
// one, SET needs a rotation and keeps the new one only; the bad
// combinations are refused with AWS's codes.
func TestUpdateAuthTokens(t *testing.T) {
	h1, h2, h3 := tokenHash("token-one-0123456789"), tokenHash("token-two-0123456789"), tokenHash("token-three-0123456789")
	for _, tc := range []struct {
		name            string
		transit         string
		cur             []string
		tok, strategy   *string
		want            []string
		status, errCode string
	}{
		{name: "nothing", transit: "required", cur: []string{h1}, want: []string{h1}},
		{name: "rotate", transit: "required", cur: []string{h1}, tok: aws.String("token-two-0123456789"), strategy: aws.String("ROTATE"), want: []string{h1, h2}, status: "ROTATING"},
		{name: "rotate-from-none", transit: "required", tok: aws.String("token-one-0123456789"), strategy: aws.String("ROTATE"), want: []string{h1}, status: "ROTATING"},
		{name: "rotate-again", transit: "required", cur: []string{h1, h2}, tok: aws.String("token-three-0123456789"), strategy: aws.String("ROTATE"), want: []string{h2, h3}, status: "ROTATING"},
		{name: "set", transit: "required", cur: []string{h1, h2}, tok: aws.String("token-two-0123456789"), strategy: aws.String("SET"), want: []string{h2}, status: "SETTING"},
		{name: "set-without-rotate", transit: "required", cur: []string{h1}, tok: aws.String("token-two-0123456789"), strategy: aws.String("SET"), errCode: "InvalidParameterCombination"},
		{name: "no-tls", cur: nil, tok: aws.String("token-one-0123456789"), strategy: aws.String("ROTATE"), errCode: "InvalidParameterValue"},
		{name: "delete", transit: "required", cur: []string{h1}, strategy: aws.String("DELETE"), errCode: "InvalidParameterValue"},
		{name: "token-without-strategy", transit: "required", cur: []string{h1}, tok: aws.String("token-two-0123456789"), errCode: "InvalidParameterCombination"},
		{name: "strategy-without-token", transit: "required", cur: []string{h1}, strategy: aws.String("ROTATE"), errCode: "InvalidParameterCombination"},
		{name: "bad-strategy", transit: "required", cur: []string{h1}, tok: aws.String("token-two-0123456789"), strategy: aws.String("SWAP"), errCode: "InvalidParameterValue"},
		{name: "bad-token", transit: "required", cur: []string{h1}, tok: aws.String("short"), strategy: aws.String("ROTATE"), errCode: "InvalidParameterValue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, status, err := updateAuthTokens(tc.transit, tc.cur, tc.tok, tc.strategy)
			if tc.errCode != "" {
				e, ok := awserr.As(err)
				if !ok || e.Code != tc.errCode {
					t.Fatalf("updateAuthTokens = %v, want %s", err, tc.errCode)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) || status != tc.status {
				t.Errorf("updateAuthTokens = %v, %q, %v; want %v, %q", got, status, err, tc.want, tc.status)
			}
		})
	}
}
