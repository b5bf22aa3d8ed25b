package access

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// The descriptions ConnectCompute gives its groups and rules. Rule
// descriptions are part of "unmodified": changing one makes the group invalid.
const (
	cacheRuleDesc    = "Allows the connected instance (ElastiCache compute connection)"
	instanceRuleDesc = "Allows reaching the connected cache (ElastiCache compute connection)"
)

// CacheSideName is the cache-side group's name for a pair.
func CacheSideName(cacheID, instanceID string) string {
	return "elasticache-ec2-" + cacheID + ":" + instanceID
}

// InstanceSideName is the instance-side group's name for a pair.
func InstanceSideName(instanceID, cacheID string) string {
	return "ec2-elasticache-" + instanceID + ":" + cacheID
}

// nameMatches reports whether name is base, or base:N (N ≥ 2) — the name
// ConnectCompute gives a new pair when a modified (so never reused) group
// already holds base: group names are unique in a VPC, and groups a user
// changed are never deleted or reused.
func nameMatches(name, base string) bool {
	if name == base {
		return true
	}
	rest, ok := strings.CutPrefix(name, base+":")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(rest)
	return err == nil && n >= 2 && strconv.Itoa(n) == rest
}

// freeName returns base, or the lowest base:N no group of the VPC holds.
func freeName(groups []ec2.TopoGroup, vpc, base string) string {
	taken := map[string]bool{}
	for _, g := range groups {
		if g.VpcID == vpc {
			taken[g.Name] = true
		}
	}
	if !taken[base] {
		return base
	}
	for n := 2; ; n++ {
		if name := base + ":" + strconv.Itoa(n); !taken[name] {
			return name
		}
	}
}

func isDefaultEgress(r ec2.TopoRule) bool {
	return r.Protocol == "-1" && r.Group == nil && r.PrefixListID == "" && r.CIDR.IsValid() && r.CIDR.String() == "0.0.0.0/0"
}

// isPairRule reports whether r is exactly the rule ConnectCompute writes:
// TCP on port, to or from group peer, with its description.
func isPairRule(r ec2.TopoRule, port Ports, peer, desc string) bool {
	return r.Protocol == "tcp" && int(r.FromPort) == port.From && int(r.ToPort) == port.To &&
		!r.CIDR.IsValid() && r.PrefixListID == "" &&
		r.Group != nil && r.Group.GroupID == peer && r.Group.PeeringID == "" && r.Description == desc
}

// cacheSideValid: exactly one inbound rule, from an instance-side group
// (one of isInstanceSide) on the cache's port; its outbound rules as created
// (the default allow-all).
func cacheSideValid(g *ec2.TopoGroup, isInstanceSide func(id string) bool, port Ports) bool {
	return len(g.Ingress) == 1 && g.Ingress[0].Group != nil && isInstanceSide(g.Ingress[0].Group.GroupID) &&
		isPairRule(g.Ingress[0], port, g.Ingress[0].Group.GroupID, cacheRuleDesc) &&
		len(g.Egress) == 1 && isDefaultEgress(g.Egress[0])
}

// instanceSideValid: exactly one outbound rule, to a cache-side group on the
// cache's port (the default egress revoked); no inbound rule.
func instanceSideValid(g *ec2.TopoGroup, isCacheSide func(id string) bool, port Ports) bool {
	return len(g.Egress) == 1 && g.Egress[0].Group != nil && isCacheSide(g.Egress[0].Group.GroupID) &&
		isPairRule(g.Egress[0], port, g.Egress[0].Group.GroupID, instanceRuleDesc) && len(g.Ingress) == 0
}

// Pair is a cache-side and an instance-side group.
type Pair struct {
	CacheSide, InstanceSide *ec2.TopoGroup
}

// sides holds the name-matching groups of one (cache, instance) in a VPC
// and which of them are valid.
type sides struct {
	cache, instance []*ec2.TopoGroup // valid ones only
	all             map[string]*ec2.TopoGroup
}

func findSides(groups []ec2.TopoGroup, vpc, cacheID, instanceID string, port Ports) sides {
	cbase, ibase := CacheSideName(cacheID, instanceID), InstanceSideName(instanceID, cacheID)
	cnamed, inamed := map[string]*ec2.TopoGroup{}, map[string]*ec2.TopoGroup{}
	s := sides{all: map[string]*ec2.TopoGroup{}}
	for i := range groups {
		g := &groups[i]
		if g.VpcID != vpc {
			continue
		}
		switch {
		case nameMatches(g.Name, cbase):
			cnamed[g.ID], s.all[g.ID] = g, g
		case nameMatches(g.Name, ibase):
			inamed[g.ID], s.all[g.ID] = g, g
		}
	}
	isC := func(id string) bool { return cnamed[id] != nil }
	isI := func(id string) bool { return inamed[id] != nil }
	for _, g := range cnamed {
		if cacheSideValid(g, isI, port) {
			s.cache = append(s.cache, g)
		}
	}
	for _, g := range inamed {
		if instanceSideValid(g, isC, port) {
			s.instance = append(s.instance, g)
		}
	}
	byName := func(a, b *ec2.TopoGroup) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(s.cache, byName)
	slices.SortFunc(s.instance, byName)
	return s
}

// pairs returns the valid groups that name each other: the pairs
// ConnectCompute created and nobody modified since.
func (s sides) pairs() []Pair {
	var out []Pair
	for _, c := range s.cache {
		for _, i := range s.instance {
			if c.Ingress[0].Group.GroupID == i.ID && i.Egress[0].Group.GroupID == c.ID {
				out = append(out, Pair{c, i})
			}
		}
	}
	return out
}

// validPairs returns the unmodified pairs of (cache, instance) in vpc.
func validPairs(groups []ec2.TopoGroup, vpc, cacheID, instanceID string, port Ports) []Pair {
	return findSides(groups, vpc, cacheID, instanceID, port).pairs()
}

// Actions of the decision table.
const (
	ActionNone      = "none"
	ActionCreate    = "create"
	ActionAssociate = "associate"
)

// Decision is what ConnectCompute does in a given state.
type Decision struct {
	Action string
	// Row of the documented decision table (1-5); 0 for a state the table
	// does not list (then: create, as for every state without a valid pair
	// associated with the cache).
	Row int
	// Pair is the existing pair (none, associate).
	Pair Pair
	// CacheSideName and InstanceSideName name the groups to create.
	CacheSideName, InstanceSideName string
	Reason                          string
}

// Decide applies the decision table of "Connect an instance and a cache
// automatically" to a state: the cache's groups, the instance's interface
// groups and every group of the VPC. It is pure.
//
// A group is valid when its name matches its pattern, and it is exactly as
// ConnectCompute created it: the cache side has one inbound rule, TCP on
// the cache's port from an instance-side group, and the default egress; the
// instance side has one outbound rule, TCP on that port to a cache-side
// group, and no inbound rule.
func Decide(groups []ec2.TopoGroup, c Cache, instanceID string, instanceGroups []string) Decision {
	sd := findSides(groups, c.VpcID, c.ID, instanceID, c.Ports())
	cacheAssoc := func(g *ec2.TopoGroup) bool { return slices.Contains(c.SecurityGroups, g.ID) }
	instAssoc := func(g *ec2.TopoGroup) bool { return slices.Contains(instanceGroups, g.ID) }
	pairs := sd.pairs()
	for _, p := range pairs {
		if cacheAssoc(p.CacheSide) && instAssoc(p.InstanceSide) {
			return Decision{Action: ActionNone, Row: 1, Pair: p,
				Reason: fmt.Sprintf("already connected: valid group %s (%s) is associated with the cache and valid group %s (%s) with the instance",
					p.CacheSide.ID, p.CacheSide.Name, p.InstanceSide.ID, p.InstanceSide.Name)}
		}
	}
	for _, p := range pairs {
		if cacheAssoc(p.CacheSide) && !instAssoc(p.InstanceSide) {
			return Decision{Action: ActionAssociate, Row: 4, Pair: p,
				Reason: fmt.Sprintf("valid group %s is associated with the cache; the valid instance-side group %s (%s) exists but is not associated with the instance",
					p.CacheSide.ID, p.InstanceSide.ID, p.InstanceSide.Name)}
		}
	}
	d := Decision{Action: ActionCreate,
		CacheSideName:    freeName(groups, c.VpcID, CacheSideName(c.ID, instanceID)),
		InstanceSideName: freeName(groups, c.VpcID, InstanceSideName(instanceID, c.ID)),
	}
	cacheValidAssoc := slices.ContainsFunc(sd.cache, cacheAssoc)
	instValidAssoc := slices.ContainsFunc(sd.instance, instAssoc)
	instValid := len(sd.instance) > 0
	switch {
	case !cacheValidAssoc && !instValid:
		d.Row, d.Reason = 2, "no valid group is associated with the cache, and the instance has no valid group"
	case cacheValidAssoc && !instValid:
		d.Row, d.Reason = 3, "a valid group is associated with the cache, but the instance side has only invalid groups"
	case !cacheValidAssoc && instValidAssoc:
		d.Row, d.Reason = 5, "a valid group is associated with the instance, but the cache has none or only invalid ones"
	default:
		d.Reason = "no valid pair of groups is associated with the cache (a state the decision table does not list)"
	}
	return d
}

// connectedTo returns the instances (primary interfaces) connected to the
// cache by a valid pair associated on both sides, sorted by instance id.
func connectedTo(topo *ec2.Topology, c Cache) []connected {
	prefix := "elasticache-ec2-" + c.ID + ":"
	seen := map[string]bool{}
	var out []connected
	for _, g := range topo.Groups {
		if g.VpcID != c.VpcID || !strings.HasPrefix(g.Name, prefix) {
			continue
		}
		inst := strings.TrimPrefix(g.Name, prefix)
		if k := strings.Index(inst, ":"); k >= 0 {
			inst = inst[:k]
		}
		if seen[inst] {
			continue
		}
		seen[inst] = true
		for i := range topo.Interfaces {
			ifc := &topo.Interfaces[i]
			if ifc.InstanceID != inst || ifc.VpcID != c.VpcID {
				continue
			}
			if d := Decide(topo.Groups, c, inst, ifc.Groups); d.Action == ActionNone {
				out = append(out, connected{iface: ifc, pair: d.Pair})
			}
			break
		}
	}
	slices.SortFunc(out, func(a, b connected) int { return strings.Compare(a.iface.InstanceID, b.iface.InstanceID) })
	return out
}

type connected struct {
	iface *ec2.TopoInterface
	pair  Pair
}
