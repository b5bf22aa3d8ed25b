package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/ec2/sgeval"
)

// Explanation answers "why can't I connect?" for one instance and one cache.
type Explanation struct {
	CacheID, InstanceID, InterfaceID string
	Port                             int
	// Allowed is true when the instance may reach every endpoint of the cache.
	Allowed bool
	// Endpoints holds one verdict per cache endpoint (node).
	Endpoints []EndpointVerdict
}

// EndpointVerdict is the verdict for one endpoint of the cache.
type EndpointVerdict struct {
	Endpoint
	Allowed bool
	Path    string
	// Rules allowing the flow, for people: "outbound sg-… (name) sgr-…: tcp 6379 to sg-…".
	Rules []string
	// Missing pieces: kind (egress, ingress, route, peering, interface) and
	// what to add.
	Missing []sgeval.Missing
}

// Explain decides whether an instance may open a TCP connection to a cache
// on port (0: the cache's port), from sgeval over the scope's topology.
func (s *Service) Explain(ctx context.Context, instanceID, cacheID string, port int) (*Explanation, error) {
	if err := s.authorizeEC2(ctx, "ExplainCacheReachability", ExplainActions, onAny(ExplainActions)); err != nil {
		return nil, err
	}
	if instanceID == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter InstanceId")
	}
	w, err := s.load(ctx, cacheID, instanceID)
	if err != nil {
		return nil, err
	}
	return explain(w, w.snap.evaluator(), port)
}

func explain(w *world, ev *sgeval.Evaluator, port int) (*Explanation, error) {
	if port == 0 {
		port = w.cache.Port
	}
	if port < 1 || port > 65535 {
		return nil, invalid("Invalid port %d: the port must be between 1 and 65535.", port)
	}
	out := &Explanation{CacheID: w.cache.ID, InstanceID: w.instance.InstanceID, InterfaceID: w.instance.ID, Port: port, Allowed: true}
	if len(w.cache.Endpoints) == 0 {
		return nil, awserr.New("InvalidCacheClusterState", "Cache %s has no node with a network interface yet (status %s).", w.cache.ID, w.cache.Status)
	}
	for _, ep := range w.cache.Endpoints {
		v := ev.Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: w.instance.ID}, Dst: sgeval.Endpoint{Interface: ep.InterfaceID},
			Protocol: "tcp", Port: int32(port)})
		ev := EndpointVerdict{Endpoint: ep, Allowed: v.Allowed, Path: v.Path, Missing: v.Missing}
		for _, r := range v.Egress {
			ev.Rules = append(ev.Rules, w.ruleText(r))
		}
		for _, r := range v.Ingress {
			ev.Rules = append(ev.Rules, w.ruleText(r))
		}
		out.Allowed = out.Allowed && v.Allowed
		out.Endpoints = append(out.Endpoints, ev)
	}
	return out, nil
}

// ruleText describes an allowing rule with its group's name.
func (w *world) ruleText(r sgeval.RuleRef) string {
	dir := "inbound"
	if r.Egress {
		dir = "outbound"
	}
	g := w.groups[r.GroupID]
	if g == nil {
		return fmt.Sprintf("%s %s %s", dir, r.GroupID, r.RuleID)
	}
	rules := g.Ingress
	if r.Egress {
		rules = g.Egress
	}
	for _, tr := range rules {
		if tr.ID == r.RuleID {
			return fmt.Sprintf("%s rule %s of %s (%s): %s", dir, r.RuleID, g.ID, g.Name, ruleSummary(tr, r.Egress))
		}
	}
	return fmt.Sprintf("%s rule %s of %s (%s)", dir, r.RuleID, g.ID, g.Name)
}

func ruleSummary(r ec2.TopoRule, egress bool) string {
	proto := r.Protocol
	ports := ""
	switch {
	case proto == "-1":
		proto = "all traffic"
	case r.FromPort == r.ToPort:
		ports = fmt.Sprintf(" %d", r.FromPort)
	default:
		ports = fmt.Sprintf(" %d-%d", r.FromPort, r.ToPort)
	}
	peer := r.PrefixListID
	switch {
	case r.CIDR.IsValid():
		peer = r.CIDR.String()
	case r.Group != nil:
		peer = r.Group.GroupID
		if r.Group.PeeringID != "" {
			peer += " via " + r.Group.PeeringID
		}
	}
	dir := "from"
	if egress {
		dir = "to"
	}
	return fmt.Sprintf("%s%s %s %s", proto, ports, dir, peer)
}

// String renders the explanation for people.
func (e *Explanation) String() string {
	var b strings.Builder
	verdict := "ALLOWED"
	if !e.Allowed {
		verdict = "DENIED"
	}
	fmt.Fprintf(&b, "%s: %s (%s) -> cache %s, tcp/%d\n", verdict, e.InstanceID, e.InterfaceID, e.CacheID, e.Port)
	for _, ep := range e.Endpoints {
		state := "allowed"
		if !ep.Allowed {
			state = "denied"
		}
		path := ""
		if ep.Path != "" {
			path = " via " + ep.Path
		}
		fmt.Fprintf(&b, "  node %s (%s, %s): %s%s\n", ep.Name, ep.Address, ep.InterfaceID, state, path)
		for _, r := range ep.Rules {
			fmt.Fprintf(&b, "    + %s\n", r)
		}
		for _, m := range ep.Missing {
			fmt.Fprintf(&b, "    - missing %s\n", m)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
