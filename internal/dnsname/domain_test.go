package dnsname

import (
	"strings"
	"testing"
)

func TestValidateDomain(t *testing.T) {
	for _, d := range []string{"cache.amazonaws.com", "cache.amazonaws.com.cn", "cache.local.test", "a.b", "my-corp.example", "x1.y2"} {
		if err := ValidateDomain(d); err != nil {
			t.Errorf("ValidateDomain(%q) = %v, want nil", d, err)
		}
	}
}

func TestValidateDomainRejects(t *testing.T) {
	tests := []struct {
		name, domain, wantInErr string
	}{
		{"empty", "", "empty"},
		{"trailing-dot", "cache.amazonaws.com.", "must not end with a dot (write cache.amazonaws.com)"},
		{"uppercase", "Cache.Example", "must be lowercase (write cache.example)"},
		{"single-label", "localdomain", "at least two labels"},
		{"empty-label", "cache..example", "empty label"},
		{"leading-dot", ".cache.example", "empty label"},
		{"leading-hyphen", "-cache.example", "starts or ends with a hyphen"},
		{"trailing-hyphen", "cache-.example", "starts or ends with a hyphen"},
		{"underscore", "my_cache.example", `has '_'`},
		{"space", "my cache.example", `has ' '`},
		{"long-label", strings.Repeat("a", 64) + ".example", "longer than 63"},
		{"too-long", strings.Repeat("abcdefghi.", 13) + "example", "leave room"},
		{"ip-address", "10.0.0.1", "all digits"},
		{"internal", "cache.internal", ".internal"},
		{"ec2-internal", "ec2.internal", ".internal"},
		{"url", "https://cache.example", `has ':'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDomain(tt.domain)
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("ValidateDomain(%q) = %v, want an error containing %q", tt.domain, err, tt.wantInErr)
			}
		})
	}
}
