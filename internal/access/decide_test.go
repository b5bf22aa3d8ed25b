package access

import (
	"net/netip"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

const (
	tVPC  = "vpc-1"
	tInst = "i-0123"
	tPort = 6379
)

var tCache = Cache{ID: "web", VpcID: tVPC, Port: tPort, SecurityGroups: []string{"sg-default"}}

func pairGroups(cs, is string, cacheName, instName string) (ec2.TopoGroup, ec2.TopoGroup) {
	c := ec2.TopoGroup{ID: cs, VpcID: tVPC, Name: cacheName,
		Ingress: []ec2.TopoRule{{ID: "sgr-c", Protocol: "tcp", FromPort: tPort, ToPort: tPort, Group: &ec2.TopoGroupRef{GroupID: is}, Description: cacheRuleDesc}},
		Egress:  []ec2.TopoRule{{ID: "sgr-e", Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}}
	i := ec2.TopoGroup{ID: is, VpcID: tVPC, Name: instName,
		Egress: []ec2.TopoRule{{ID: "sgr-i", Protocol: "tcp", FromPort: tPort, ToPort: tPort, Group: &ec2.TopoGroupRef{GroupID: cs}, Description: instanceRuleDesc}}}
	return c, i
}

func validPair() (ec2.TopoGroup, ec2.TopoGroup) {
	return pairGroups("sg-c", "sg-i", CacheSideName("web", tInst), InstanceSideName(tInst, "web"))
}

// TestDecide covers each row of the documented decision table, plus the
// states it does not list and what "modified" means.
func TestDecide(t *testing.T) {
	withCache := func(groups ...string) Cache {
		c := tCache
		c.SecurityGroups = append([]string{"sg-default"}, groups...)
		return c
	}
	modified := func(mod func(c, i *ec2.TopoGroup)) []ec2.TopoGroup {
		c, i := validPair()
		mod(&c, &i)
		return []ec2.TopoGroup{c, i}
	}
	c, i := validPair()
	valid := []ec2.TopoGroup{c, i}
	tests := []struct {
		name      string
		groups    []ec2.TopoGroup
		cache     Cache
		instance  []string
		action    string
		row       int
		cacheName string
	}{
		{"Row1Connected", valid, withCache("sg-c"), []string{"sg-app", "sg-i"}, ActionNone, 1, ""},
		{"Row2Nothing", nil, withCache(), []string{"sg-app"}, ActionCreate, 2, CacheSideName("web", tInst)},
		{"Row2BothModified", modified(func(c, i *ec2.TopoGroup) { c.Ingress[0].ToPort = 6380; i.Egress[0].Description = "mine" }),
			withCache("sg-c"), []string{"sg-i"}, ActionCreate, 2, CacheSideName("web", tInst) + ":2"},
		{"Row3InstanceSideModified", modified(func(c, i *ec2.TopoGroup) {
			i.Ingress = append(i.Ingress, ec2.TopoRule{ID: "x", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDR: netip.MustParsePrefix("0.0.0.0/0")})
		}), withCache("sg-c"), []string{"sg-i"}, ActionCreate, 3, CacheSideName("web", tInst) + ":2"},
		{"Row4Associate", valid, withCache("sg-c"), []string{"sg-app"}, ActionAssociate, 4, ""},
		{"Row5CacheSideModified", modified(func(c, i *ec2.TopoGroup) { c.Ingress[0].FromPort, c.Ingress[0].ToPort = 6380, 6380 }),
			withCache("sg-c"), []string{"sg-app", "sg-i"}, ActionCreate, 5, CacheSideName("web", tInst) + ":2"},
		{"Row5CacheSideNotAssociated", valid, withCache(), []string{"sg-app", "sg-i"}, ActionCreate, 5, CacheSideName("web", tInst) + ":2"},
		{"Row5CacheEgressRevoked", modified(func(c, i *ec2.TopoGroup) { c.Egress = nil }), withCache("sg-c"), []string{"sg-i"}, ActionCreate, 5, CacheSideName("web", tInst) + ":2"},
		{"UnlistedValidPairAssociatedNowhere", valid, withCache(), []string{"sg-app"}, ActionCreate, 0, CacheSideName("web", tInst) + ":2"},
		{"OtherVPCIgnored", func() []ec2.TopoGroup {
			c, i := validPair()
			c.VpcID, i.VpcID = "vpc-2", "vpc-2"
			return []ec2.TopoGroup{c, i}
		}(),
			withCache("sg-c"), []string{"sg-i"}, ActionCreate, 2, CacheSideName("web", tInst)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.groups, tt.cache, tInst, tt.instance)
			if d.Action != tt.action || d.Row != tt.row {
				t.Fatalf("Decide = %s row %d (%s), want %s row %d", d.Action, d.Row, d.Reason, tt.action, tt.row)
			}
			if tt.cacheName != "" && d.CacheSideName != tt.cacheName {
				t.Errorf("new cache-side name = %q, want %q", d.CacheSideName, tt.cacheName)
			}
		})
	}
}

func TestNameMatches(t *testing.T) {
	base := CacheSideName("web", "i-1")
	for name, want := range map[string]bool{base: true, base + ":2": true, base + ":10": true, base + ":1": false, base + ":02": false, base + "x": false, "elasticache-ec2-web:i-12": false} {
		if got := nameMatches(name, base); got != want {
			t.Errorf("nameMatches(%q) = %v, want %v", name, got, want)
		}
	}
	if got, want := CacheSideName("web", "i-1"), "elasticache-ec2-web:i-1"; got != want {
		t.Errorf("CacheSideName = %q, want %q", got, want)
	}
	if got, want := InstanceSideName("i-1", "web"), "ec2-elasticache-i-1:web"; got != want {
		t.Errorf("InstanceSideName = %q, want %q", got, want)
	}
}
