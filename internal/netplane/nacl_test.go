package netplane

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// aclState is seedState with network ACLs: the private subnet has a custom
// ACL (ordered entries, an IPv6 entry, an invalid deny entry rendered as a
// drop of everything, an invalid allow left out), the public subnet the
// default allow-all ACL, which renders nothing.
func aclState() State {
	st := seedState()
	all := pfx("0.0.0.0/0")
	st.NetworkACLs = []NetworkACL{
		{ID: "acl-0default", VPC: "vpc-0a", Subnets: []string{"subnet-0public"},
			Ingress: []ACLEntry{{Number: 100, Protocol: "-1", CIDR: all, Allow: true}},
			Egress:  []ACLEntry{{Number: 100, Protocol: "-1", CIDR: all, Allow: true}}},
		{ID: "acl-0private", VPC: "vpc-0a", Subnets: []string{"subnet-0private"},
			Ingress: []ACLEntry{
				{Number: 200, Protocol: "6", FromPort: 6379, ToPort: 6379, CIDR: pfx("10.0.0.0/16"), Allow: true},
				{Number: 100, Protocol: "6", FromPort: 6379, ToPort: 6379, CIDR: pfx("10.0.0.66/32")},
				{Number: 150, Protocol: "1", FromPort: 8, ToPort: -1, CIDR: all, Allow: true},
				{Number: 160, Protocol: "-1", CIDR: pfx("2001:db8::/32")},
				{Number: 170, Protocol: "banana", CIDR: all, Allow: true},
			},
			Egress: []ACLEntry{
				{Number: 100, Protocol: "6", FromPort: 1024, ToPort: 65535, CIDR: pfx("10.0.0.0/16"), Allow: true},
				{Number: 50, Protocol: "17", FromPort: 0, ToPort: 65535, CIDR: all},
				{Number: 60, Protocol: "6", FromPort: 9, ToPort: 1, CIDR: all},
			}},
	}
	return st
}

func TestPlanNetworkACLs(t *testing.T) {
	p, err := NewPlan("cl", aclState())
	var problems []string
	for _, e := range unjoin(err) {
		if !errors.Is(e, ErrInvalid) {
			t.Errorf("problem %v is not ErrInvalid", e)
		}
		problems = append(problems, e.Error())
	}
	if len(problems) != 2 || !strings.Contains(problems[0]+problems[1], "ingress entry 170") || !strings.Contains(problems[0]+problems[1], "egress entry 60") {
		t.Errorf("problems = %q, want entries 170 and 60 reported", problems)
	}
	rs := routerRuleset(t, p, "vpc-0a")
	checkGolden(t, "ruleset-vpc-0a-nacl", rs.Text)
	// Only the private subnet's interface is dispatched; the default ACL
	// of the public subnet renders nothing.
	if strings.Count(rs.Text, ": jump nacl-") != 2 || strings.Contains(rs.Text, "acl-0default") {
		t.Errorf("dispatch:\n%s", rs.Text)
	}
	// Entries in rule-number order, the invalid deny as a drop in place.
	in := sectionOf(rs.Text, "chain nacl-in-subnet-0private")
	order := []string{"ingress 100 deny", "ingress 150 allow", "ingress 160 deny", "ingress 200 allow", "ingress * deny"}
	last := -1
	for _, o := range order {
		i := strings.Index(in, o)
		if i < last {
			t.Errorf("%q out of order in\n%s", o, in)
		}
		last = i
	}
	if strings.Contains(in, "170") {
		t.Errorf("invalid allow entry rendered:\n%s", in)
	}
	out := sectionOf(rs.Text, "chain nacl-out-subnet-0private")
	if !strings.Contains(out, "\t\tdrop comment \"acl-0private egress 60 deny\"") {
		t.Errorf("invalid deny entry not rendered as a drop of everything:\n%s", out)
	}
	// ACL chains are part of the frame: an entry change replaces the table.
	st := aclState()
	st.NetworkACLs[1].Egress[0].ToPort = 65000
	p2, _ := NewPlan("cl", st)
	if routerRuleset(t, p2, "vpc-0a").Frame == rs.Frame {
		t.Errorf("an entry change kept the Frame")
	}
	// Without ACLs (or with allow-all ones only) the table is what it was.
	plain, _ := NewPlan("cl", seedState())
	st = aclState()
	st.NetworkACLs = st.NetworkACLs[:1]
	allowAll, _ := NewPlan("cl", st)
	if routerRuleset(t, plain, "vpc-0a").Text != routerRuleset(t, allowAll, "vpc-0a").Text {
		t.Errorf("an allow-all ACL changed the ruleset")
	}
}

func TestPlanNetworkACLProblems(t *testing.T) {
	st := seedState()
	st.NetworkACLs = []NetworkACL{
		{ID: "acl-0a", VPC: "vpc-0a", Subnets: []string{"subnet-0private", "subnet-0b", "subnet-0nope"}},
		{ID: "acl-0b", VPC: "vpc-0a", Subnets: []string{"subnet-0private"}},
		{ID: "acl-0c", VPC: "vpc-0nope"},
	}
	_, err := NewPlan("cl", st)
	msg := err.Error()
	for _, want := range []string{"subnet subnet-0b is in vpc-0b", "unknown subnet \"subnet-0nope\"", "already associated with acl-0a", "unknown vpc \"vpc-0nope\""} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems %q lack %q", msg, want)
		}
	}
}

func TestAllowsAll(t *testing.T) {
	all := pfx("0.0.0.0/0")
	for _, c := range []struct {
		es   []ACLEntry
		want bool
	}{
		{nil, false},
		{[]ACLEntry{{Number: 1, Protocol: "-1", CIDR: all, Allow: true}}, true},
		{[]ACLEntry{{Number: 1, Protocol: "-1", CIDR: pfx("::/0"), Allow: true}, {Number: 2, Protocol: "-1", CIDR: all, Allow: true}}, true},
		{[]ACLEntry{{Number: 1, Protocol: "6", FromPort: 0, ToPort: 65535, CIDR: all, Allow: true}}, false},
		{[]ACLEntry{{Number: 1, Protocol: "-1", CIDR: pfx("10.0.0.0/8"), Allow: true}}, false},
		{[]ACLEntry{{Number: 1, Protocol: "-1", CIDR: all}}, false},
		{[]ACLEntry{{Number: 1, Protocol: "-1", CIDR: netip.Prefix{}, Allow: true}}, false},
	} {
		if got := allowsAll(sortedEntries(c.es)); got != c.want {
			t.Errorf("allowsAll(%+v) = %v, want %v", c.es, got, c.want)
		}
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func routerRuleset(t *testing.T, p *Plan, vpc string) *Ruleset {
	t.Helper()
	for _, ns := range p.Namespaces {
		if ns.Role == RoleRouter && ns.Resource == vpc {
			return ns.Ruleset
		}
	}
	t.Fatalf("no router for %s", vpc)
	return nil
}

// sectionOf returns text from the line starting with head to the next "}".
func sectionOf(text, head string) string {
	i := strings.Index(text, head)
	if i < 0 {
		return ""
	}
	j := strings.Index(text[i:], "\n\t}")
	return text[i : i+j]
}
