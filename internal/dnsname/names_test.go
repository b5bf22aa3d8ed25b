package dnsname

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var testSecret = bytes.Repeat([]byte{7}, SecretSize)

func TestScopeID(t *testing.T) {
	id := ScopeID(testSecret, "123456789012", "us-east-1")
	if len(id) != 6 || strings.Trim(id, idAlphabet) != "" {
		t.Fatalf("ScopeID = %q, want 6 characters of [a-z0-9]", id)
	}
	if again := ScopeID(append([]byte(nil), testSecret...), "123456789012", "us-east-1"); again != id {
		t.Errorf("ScopeID not stable: %q then %q", id, again)
	}
	other := bytes.Repeat([]byte{8}, SecretSize)
	for name, got := range map[string]string{
		"other region":  ScopeID(testSecret, "123456789012", "us-west-2"),
		"other account": ScopeID(testSecret, "123456789013", "us-east-1"),
		"other secret":  ScopeID(other, "123456789012", "us-east-1"),
		// The separator keeps account and region apart: "1"+"2x" is not "12"+"x".
		"shifted boundary": ScopeID(testSecret, "12345678901", "2us-east-1"),
	} {
		if got == id {
			t.Errorf("ScopeID with %s = %q, the same as the original", name, got)
		}
	}
}

// TestScopeIDSpread checks that ids use the whole alphabet and rarely
// collide: 2,000 accounts' ids in one region, among 36^6 possible ids.
func TestScopeIDSpread(t *testing.T) {
	seen := map[string]bool{}
	chars := map[rune]bool{}
	for i := range 2000 {
		id := ScopeID(testSecret, NodeID(i)+"00000000", "eu-west-1")
		seen[id] = true
		for _, c := range id {
			chars[c] = true
		}
	}
	if len(seen) < 1999 {
		t.Errorf("%d distinct ids among 2000 accounts", len(seen))
	}
	if len(chars) != 36 {
		t.Errorf("ids use %d characters, want all 36", len(chars))
	}
}

func TestNew(t *testing.T) {
	if _, err := New("cache.amazonaws.com", testSecret[:MinSecretSize-1]); !errors.Is(err, errShortSecret) {
		t.Errorf("New with a %d-byte secret = %v, want errShortSecret", MinSecretSize-1, err)
	}
	if _, err := New("Cache.Example", testSecret); err == nil {
		t.Error("New with an invalid domain succeeded")
	}
	n, err := New(DefaultDomain, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Scope("123456789012", "mars-north-1"); err == nil {
		t.Error("Scope in an invalid region succeeded")
	}
	// New copies the secret: changing the caller's slice changes nothing.
	secret := append([]byte(nil), testSecret...)
	n2, _ := New(DefaultDomain, secret)
	before, _ := n2.Scope("123456789012", "us-east-1")
	secret[0]++
	after, _ := n2.Scope("123456789012", "us-east-1")
	if before != after {
		t.Errorf("Scope changed after the caller's secret did: %+v, %+v", before, after)
	}
}

func TestEndpointNames(t *testing.T) {
	// A fixed scope: the shapes do not depend on how the id is drawn.
	s := Scope{Domain: "cache.amazonaws.com", Region: "us-east-1", RegionCode: "use1", ID: "km2jzi"}
	tests := []struct{ name, got, want string }{
		{"node", s.Node("my-cache", "0001"), "my-cache.km2jzi.0001.use1.cache.amazonaws.com"},
		{"node-3", s.Node("my-cache", NodeID(3)), "my-cache.km2jzi.0003.use1.cache.amazonaws.com"},
		{"node-uppercase-id", s.Node("My-Cache", "0001"), "my-cache.km2jzi.0001.use1.cache.amazonaws.com"},
		{"rg-member", s.Node("my-rg-001", "0001"), "my-rg-001.km2jzi.0001.use1.cache.amazonaws.com"},
		{"memcached-config", s.MemcachedConfig("my-mc"), "my-mc.km2jzi.cfg.use1.cache.amazonaws.com"},
		{"primary", s.Primary("my-rg"), "my-rg.km2jzi.ng.0001.use1.cache.amazonaws.com"},
		{"reader", s.Reader("my-rg"), "my-rg-ro.km2jzi.ng.0001.use1.cache.amazonaws.com"},
		{"tls-primary", s.TLSPrimary("my-rg"), "master.my-rg.km2jzi.use1.cache.amazonaws.com"},
		{"tls-reader", s.TLSReader("my-rg"), "replica.my-rg.km2jzi.use1.cache.amazonaws.com"},
		{"tls-node", s.TLSNode("my-rg-0001-001", "my-rg"), "my-rg-0001-001.my-rg.km2jzi.use1.cache.amazonaws.com"},
		{"cluster-config-tls", s.ClusterConfig("my-rg", true), "clustercfg.my-rg.km2jzi.use1.cache.amazonaws.com"},
		{"cluster-config", s.ClusterConfig("my-rg", false), "my-rg.km2jzi.clustercfg.use1.cache.amazonaws.com"},
		{"serverless", s.Serverless("my-sl"), "my-sl-km2jzi.serverless.use1.cache.amazonaws.com"},
		{"zone", s.Zone(), "use1.cache.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
			if err := ValidName(tt.got); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestLongestNames checks that the longest identifiers ElastiCache allows
// (40 characters; 49 for a member of a cluster-mode group) in the longest
// allowed domain still make valid DNS names.
func TestLongestNames(t *testing.T) {
	domain := strings.Repeat("d", 63) + "." + strings.Repeat("e", 63)
	if err := ValidateDomain(domain); err != nil {
		t.Fatal(err)
	}
	n, err := New(domain, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := n.Scope("123456789012", "ap-southeast-7")
	if err != nil {
		t.Fatal(err)
	}
	rg := strings.Repeat("r", 40)
	for _, name := range []string{
		s.Node(rg, "0001"), s.TLSNode(rg+"-0001-001", rg), s.Reader(rg), s.ClusterConfig(rg, true),
		s.MemcachedConfig(rg), s.Serverless(rg),
	} {
		if err := ValidName(name); err != nil {
			t.Error(err)
		}
	}
}

func TestScopeFromNamer(t *testing.T) {
	n, err := New(DefaultDomain, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := n.Scope("123456789012", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	want := Scope{Domain: DefaultDomain, Region: "eu-west-1", RegionCode: "euw1", ID: ScopeID(testSecret, "123456789012", "eu-west-1")}
	if s != want {
		t.Errorf("Scope = %+v, want %+v", s, want)
	}
	if got, want := s.Node("c", "0001"), "c."+want.ID+".0001.euw1.cache.amazonaws.com"; got != want {
		t.Errorf("Node = %q, want %q", got, want)
	}
	if n.Domain() != DefaultDomain {
		t.Errorf("Domain() = %q", n.Domain())
	}
}
