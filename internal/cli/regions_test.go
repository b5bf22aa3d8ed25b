package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

func TestParseRegions(t *testing.T) {
	all := dnsname.Regions()
	tests := []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{"aws", all, false},
		{"us-east-1", []string{"us-east-1"}, false},
		{" eu-west-1 , us-east-1,eu-west-1", []string{"eu-west-1", "us-east-1"}, false},
		{"xx-lab-1", nil, true}, // no direction "lab": cache endpoints could not be named
		{"xx-east-9,aws", append([]string{"xx-east-9"}, all...), false},
		{"us-east-1,", nil, true},
		{"US-EAST-1", nil, true},
	}
	for _, tt := range tests {
		got, err := parseRegions(tt.list)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseRegions(%q) = %v, %v; want %v (error %v)", tt.list, got, err, tt.want, tt.wantErr)
		}
	}
}

// A bad --dns-domain refuses to start, with a message naming the flag and
// what is wrong, before anything is created.
func TestServeRefusesBadDNSDomain(t *testing.T) {
	tests := []struct{ domain, why string }{
		{"Cache.Example", "lowercase"},
		{"cache.example.", "must not end with a dot"},
		{"localhost", "at least two labels"},
		{"cache.internal", ".internal"},
		{"10.0.0.1", "all digits"},
		{"bad_label.example", "only letters, digits and hyphens"},
	}
	for _, tt := range tests {
		dir := filepath.Join(t.TempDir(), "data")
		var out bytes.Buffer
		code := Run(context.Background(), []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--network", "loopback", "--dns-domain", tt.domain}, &out, &out)
		if code == 0 || !strings.Contains(out.String(), "--dns-domain") || !strings.Contains(out.String(), tt.why) {
			t.Errorf("serve --dns-domain %q = exit %d, %q; want a refusal saying %q", tt.domain, code, out.String(), tt.why)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serve --dns-domain %q created its data dir (%v)", tt.domain, err)
		}
	}
}

// A bad --idle-engine-hz (or CACHALOT_IDLE_ENGINE_HZ) refuses to start,
// naming what is wrong, before anything is created.
func TestServeRefusesBadIdleEngineHz(t *testing.T) {
	for _, tt := range []struct{ args, env, why string }{
		{"11", "", "--idle-engine-hz"},
		{"-1", "", "--idle-engine-hz"},
		{"", "fast", "CACHALOT_IDLE_ENGINE_HZ"},
	} {
		t.Setenv("CACHALOT_IDLE_ENGINE_HZ", tt.env)
		dir := filepath.Join(t.TempDir(), "data")
		args := []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--network", "loopback"}
		if tt.args != "" {
			args = append(args, "--idle-engine-hz", tt.args)
		}
		var out bytes.Buffer
		if code := Run(context.Background(), args, &out, &out); code == 0 || !strings.Contains(out.String(), tt.why) {
			t.Errorf("serve %v (env %q) = exit %d, %q; want a refusal naming %s", args[5:], tt.env, code, out.String(), tt.why)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serve %v created its data dir (%v)", args[5:], err)
		}
	}
}
