package resolver

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTableLookup(t *testing.T) {
	tab := testTable(t)
	tests := []struct {
		name     string
		wantZone string
		wantN    int
	}{
		{node1, cacheZone, 1},
		{primary, cacheZone, 1},
		{unknownName, cacheZone, 0},
		{cacheZone, cacheZone, 0},
		{instance, ec2Zone, 1},
		{"cache.amazonaws.com", "", 0},
		{"example.com", "", 0},
		{"evil" + ec2Zone, "", 0}, // a suffix, not a subdomain
	}
	for _, tt := range tests {
		got, zone := tab.Lookup(tt.name)
		if zone != tt.wantZone || len(got) != tt.wantN {
			t.Errorf("Lookup(%q) = %d records in %q, want %d in %q", tt.name, len(got), zone, tt.wantN, tt.wantZone)
		}
	}
	var zero Table
	if rs, zone := zero.Lookup(node1); rs != nil || zone != "" {
		t.Errorf("zero Table Lookup = %v, %q; want nothing", rs, zone)
	}
}

// TestTableInnermostZone: with nested zones, a name belongs to the innermost.
func TestTableInnermostZone(t *testing.T) {
	var tab Table
	if err := tab.Set([]string{"cache.amazonaws.com", "use1.cache.amazonaws.com"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, zone := tab.Lookup("x.use1.cache.amazonaws.com"); zone != "use1.cache.amazonaws.com" {
		t.Errorf("zone = %q, want the inner one", zone)
	}
	if _, zone := tab.Lookup("x.usw2.cache.amazonaws.com"); zone != "cache.amazonaws.com" {
		t.Errorf("zone = %q, want the outer one", zone)
	}
}

func TestTableCanonical(t *testing.T) {
	var tab Table
	err := tab.Set([]string{"USE1.Cache.AmazonAWS.com."}, []Record{
		{Name: "My-RG.km2jzi.ng.0001.use1.cache.amazonaws.com.", Target: "Node.USE1.cache.amazonaws.com."},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, zone := tab.Lookup("my-rg.km2jzi.ng.0001.use1.cache.amazonaws.com")
	want := []Record{{Name: "my-rg.km2jzi.ng.0001.use1.cache.amazonaws.com", Target: "node.use1.cache.amazonaws.com"}}
	if zone != cacheZone || !cmp.Equal(got, want, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })) {
		t.Errorf("Lookup = %v in %q, want %v in %q", got, zone, want, cacheZone)
	}
}

func TestTableSetRejects(t *testing.T) {
	z := []string{cacheZone}
	a := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		name    string
		zones   []string
		records []Record
		wantErr string
	}{
		{"bad-zone", []string{"a..b"}, nil, "zone: not a DNS name"},
		{"empty-name", z, []Record{{Addr: a}}, "not a DNS name"},
		{"space-in-name", z, []Record{{Name: "a b." + cacheZone, Addr: a}}, "not a DNS name"},
		{"long-label", z, []Record{{Name: strings.Repeat("a", 64) + "." + cacheZone, Addr: a}}, "not a DNS name"},
		{"outside-zones", z, []Record{{Name: "x.usw2.cache.amazonaws.com", Addr: a}}, "in none of the zones"},
		{"no-address", z, []Record{{Name: node1}}, "is not IPv4"},
		{"ipv6", z, []Record{{Name: node1, Addr: netip.MustParseAddr("fd00::1")}}, "is not IPv4"},
		{"both", z, []Record{{Name: node1, Addr: a, Target: node2}}, "both an address and a CNAME"},
		{"bad-target", z, []Record{{Name: primary, Target: "a..b"}}, "CNAME target"},
		{"cname-beside-a", z, []Record{{Name: node1, Addr: a}, {Name: node1, Target: node2}}, "cannot share its name"},
		{"a-beside-cname", z, []Record{{Name: primary, Target: node1}, {Name: primary, Addr: a}}, "cannot share its name"},
		{"two-cnames", z, []Record{{Name: primary, Target: node1}, {Name: primary, Target: node2}}, "cannot share its name"},
		{"duplicate-a", z, []Record{{Name: node1, Addr: a}, {Name: node1, Addr: a}}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := testTable(t)
			err := tab.Set(tt.zones, tt.records)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Set = %v, want an error containing %q", err, tt.wantErr)
			}
			// Nothing changed: the previous view still answers.
			if rs, zone := tab.Lookup(node1); zone != cacheZone || len(rs) != 1 || rs[0].Addr != ip1 {
				t.Errorf("after a rejected Set, Lookup(node1) = %v in %q", rs, zone)
			}
		})
	}
}

func TestTableTwoAddresses(t *testing.T) {
	var tab Table
	rs := []Record{{Name: node1, Addr: ip1}, {Name: node1, Addr: ip2}}
	if err := tab.Set([]string{cacheZone}, rs); err != nil {
		t.Fatal(err)
	}
	if got, _ := tab.Lookup(node1); len(got) != 2 || got[0].Addr != ip1 || got[1].Addr != ip2 {
		t.Errorf("Lookup = %v, want both addresses in order", got)
	}
}

// TestTableConcurrent: lookups during Sets each see a whole view, the old
// or the new, and the race detector sees no race (run with -race).
func TestTableConcurrent(t *testing.T) {
	tab := testTable(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			to := node1
			if i%2 == 0 {
				to = node2
			}
			if err := tab.Set([]string{cacheZone, ec2Zone}, testRecords(to)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		p, _ := tab.Lookup(primary)
		r, _ := tab.Lookup(reader)
		if len(p) != 1 || len(r) != 1 || (p[0].Target != node1 && p[0].Target != node2) {
			t.Fatalf("Lookup during Set: primary %v, reader %v", p, r)
		}
	}
}
