package redis

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

// testAdmin is a fixed admin for golden files.
var testAdmin = Admin{Password: "0123456789abcdef0123456789abcdef", Suffix: "fedcba9876543210fedcba9876543210"}

func TestRenderConf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		family string
		cfg    Config
	}{
		{"redis7-defaults", "redis7", Config{
			NodeID: "cc-0001", BindIP: "10.0.1.230", Port: 6379, MaxMemory: 536870912, Dir: "/var/lib/cachalot/engine/cc-0001",
			Admin: testAdmin,
		}},
		{"redis7-modified", "redis7", Config{
			NodeID: "cc-0002", BindIP: "10.0.1.231", Port: 6380, MaxMemory: 1471026299, Dir: "/data/cc-0002",
			Save: []string{"900 1", "300 10"}, FDLimit: 20000, Admin: testAdmin,
			Parameters: map[string]string{
				"maxmemory-policy": "allkeys-lru", "notify-keyspace-events": "KEA", "timeout": "300",
				"appendonly": "yes", "databases": "32", "reserved-memory-percent": "10",
				"client-output-buffer-limit-normal-hard-limit": "1048576",
			},
		}},
		{"valkey8-replica", "valkey8", Config{
			NodeID: "rg-002.0001", BindIP: "10.0.1.232", Port: 6379, Dir: ".", Admin: testAdmin,
			ReplicaOf: &Upstream{Host: "10.0.1.231", Port: 6379, AdminPassword: "00112233445566778899aabbccddeeff"},
		}},
		{"redis7-tls-auth-replica", "redis7", Config{
			NodeID: "rg-002.0001", BindIP: "10.0.1.233", Port: 6379, Dir: ".", Admin: testAdmin,
			ReplicaOf:  &Upstream{Host: "10.0.1.231", Port: 6379, AdminPassword: "00112233445566778899aabbccddeeff"},
			TLS:        &TLS{CertFile: "tls-0123456789ab-cert.pem", KeyFile: "tls-0123456789ab-key.pem", CAFile: "tls-0123456789ab-ca.pem"},
			AuthTokens: []string{strings.Repeat("a", 64), strings.Repeat("b", 64)},
		}},
		{"redis7-tls-users", "redis7", Config{
			NodeID: "rg-001.0001", BindIP: "10.0.1.234", Port: 6379, Dir: ".", Admin: testAdmin,
			TLS: &TLS{CertFile: "tls-0123456789ab-cert.pem", KeyFile: "tls-0123456789ab-key.pem", CAFile: "tls-0123456789ab-ca.pem"},
			Users: []User{
				{Name: "default", Rules: []string{"nopass", "&*", "off"}},
				{Name: "reader", Rules: []string{"#" + strings.Repeat("c", 64), "#" + strings.Repeat("d", 64), "&*", "on", "~app:*", "-@all", "+get"}},
			},
		}},
		{"redis7-tls-preferred-replica", "redis7", Config{
			NodeID: "rg-002.0001", BindIP: "10.0.1.235", Port: 6379, Dir: ".", Admin: testAdmin,
			ReplicaOf: &Upstream{Host: "10.0.1.231", Port: 6379, AdminPassword: "00112233445566778899aabbccddeeff"},
			TLS: &TLS{CertFile: "tls-0123456789ab-cert.pem", KeyFile: "tls-0123456789ab-key.pem", CAFile: "tls-0123456789ab-ca.pem",
				Split: &Split{Plain: 26379, TLS: 26380}},
		}},
		{"redis7-cluster-preferred", "redis7", Config{
			NodeID: "cm-0001-002", BindIP: "10.0.1.236", Port: 6379, Dir: ".", Admin: testAdmin,
			Parameters:       map[string]string{"cluster-enabled": "yes"},
			AnnounceHostname: "cm-0001-002.cm.km2jzi.use1.cache.amazonaws.com",
			TLS: &TLS{CertFile: "tls-0123456789ab-cert.pem", KeyFile: "tls-0123456789ab-key.pem", CAFile: "tls-0123456789ab-ca.pem",
				Split: &Split{Plain: 26379, TLS: 26380}},
		}},
		{"valkey8-cluster-public", "valkey8", Config{
			NodeID: "vk-0001-001", BindIP: "203.0.113.73", Port: 6379, Dir: ".", Admin: testAdmin,
			Parameters: map[string]string{"cluster-enabled": "yes"},
		}},
		{"redis7-cluster-hostname", "redis7", Config{
			NodeID: "cm-0001-001", BindIP: "10.0.1.234", Port: 6379, Dir: ".", Admin: testAdmin,
			Parameters:       map[string]string{"cluster-enabled": "yes"},
			AnnounceHostname: "cm-0001-001.km2jzi.0001.use1.cache.amazonaws.com",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderConf(tc.family, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".conf", got)
		})
	}
}

func TestRenderConfErrors(t *testing.T) {
	base := Config{NodeID: "n", BindIP: "127.0.0.1", Dir: "/d", Admin: testAdmin}
	for _, tc := range []struct {
		name   string
		family string
		mod    func(*Config)
	}{
		{"memcached-family", "memcached1.6", func(*Config) {}},
		{"bad-ip", "redis7", func(c *Config) { c.BindIP = "nope" }},
		{"bad-id", "redis7", func(c *Config) { c.NodeID = "a b" }},
		{"bad-value", "redis7", func(c *Config) { c.Parameters = map[string]string{"timeout": "x"} }},
		{"unknown-param", "redis7", func(c *Config) { c.Parameters = map[string]string{"nope": "1"} }},
		{"no-dir", "redis7", func(c *Config) { c.Dir = "" }},
		{"no-admin", "redis7", func(c *Config) { c.Admin = Admin{} }},
		{"auth-token-not-a-hash", "redis7", func(c *Config) { c.AuthTokens = []string{"plain-token-0123456789"} }},
		{"user-password-not-a-hash", "redis7", func(c *Config) { c.Users = []User{{Name: "u", Rules: []string{"#plain"}}} }},
		{"user-plaintext-password", "redis7", func(c *Config) { c.Users = []User{{Name: "u", Rules: []string{">secret-password-0123"}}} }},
		{"user-quote", "redis7", func(c *Config) { c.Users = []User{{Name: "u", Rules: []string{"~a\"b"}}} }},
		{"user-admin-name", "redis7", func(c *Config) { c.Users = []User{{Name: AdminUser, Rules: []string{"on"}}} }},
		{"user-twice", "redis7", func(c *Config) { c.Users = []User{{Name: "u"}, {Name: "u"}} }},
		{"user-bad-name", "redis7", func(c *Config) { c.Users = []User{{Name: "a b"}} }},
		{"short-suffix", "redis7", func(c *Config) { c.Admin.Suffix = "abc" }},
		{"suffix-not-alphanumeric", "redis7", func(c *Config) { c.Admin.Suffix = "0123456789abcdef 0" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if _, err := RenderConf(tc.family, c); err == nil {
				t.Errorf("RenderConf(%s) = nil error, want error", tc.name)
			}
		})
	}
}

func TestAnnounceCommand(t *testing.T) {
	on := map[string]string{"cluster-enabled": "yes"}
	for _, tc := range []struct {
		name, family string
		params       map[string]string
		host         string
		want         string
		err          bool
	}{
		{"redis7", "redis7", on, "a.b.c", "CONFIG SET cluster-announce-hostname a.b.c cluster-preferred-endpoint-type hostname", false},
		{"valkey8", "valkey8", on, "a.b.c", "CONFIG SET cluster-announce-hostname a.b.c cluster-preferred-endpoint-type hostname", false},
		{"no cluster mode", "redis7", nil, "a.b.c", "", false},
		{"no name", "redis7", on, "", "", false},
		{"redis6", "redis6.x", on, "a.b.c", "", false},
		{"bad name", "redis7", on, "a b", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AnnounceCommand(tc.family, tc.params, tc.host)
			if (err != nil) != tc.err || strings.Join(got, " ") != tc.want {
				t.Errorf("AnnounceCommand = %q, %v, want %q (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestTransitCommands: the listeners move so that the port is free before
// anything takes it: plaintext leaves first for TLS, TLS first for
// plaintext, both for the split ports.
func TestTransitCommands(t *testing.T) {
	files := TLS{CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem"}
	split := files
	split.Split = &Split{Plain: 26379, TLS: 26380}
	setFiles := "CONFIG SET tls-cert-file c.pem tls-key-file k.pem tls-ca-cert-file ca.pem tls-auth-clients no tls-protocols TLSv1.2 TLSv1.3"
	for _, tc := range []struct {
		name string
		to   *TLS
		want []string
	}{
		{"plaintext", nil, []string{"CONFIG SET tls-port 0", "CONFIG SET port 6379", "CONFIG SET replica-announce-port 0 tls-replication no"}},
		{"required", &files, []string{setFiles, "CONFIG SET port 0", "CONFIG SET tls-port 6379", "CONFIG SET replica-announce-port 0 tls-replication yes"}},
		{"preferred", &split, []string{setFiles, "CONFIG SET port 26379", "CONFIG SET tls-port 26380", "CONFIG SET replica-announce-port 6379 tls-replication yes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range TransitCommands(tc.to, 6379, false) {
				got = append(got, strings.Join(c, " "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("TransitCommands = %q, want %q", got, tc.want)
			}
		})
	}
}
