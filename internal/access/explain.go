package access

import (
	"context"
	"fmt"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/ec2/sgeval"
)

// Explanation answers "why can't I connect?" for one instance (or the host)
// and one cache.
type Explanation struct {
	CacheID, InstanceID, InterfaceID string
	// FromHost: the source is Cachalot's host, through the cache's
	// published endpoints, as the host client (HostClient).
	FromHost   bool
	HostClient string
	// Note is said before the verdicts (the loopback network mode's).
	Note string
	Port int
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
	out, err := explain(w, w.snap.evaluator(), port)
	if err == nil && !s.cfg.Publishing.HostClient.IsValid() {
		out.Note = "loopback network mode: security groups are NOT enforced; the verdict is what the rules would decide in the namespaces mode"
	}
	return out, err
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
		for _, r := range v.ACLs {
			ev.Rules = append(ev.Rules, r.String())
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
	from := fmt.Sprintf("%s (%s)", e.InstanceID, e.InterfaceID)
	if e.FromHost {
		from = "the host"
		if e.HostClient != "" {
			from += " (as " + e.HostClient + ")"
		}
	}
	fmt.Fprintf(&b, "%s: %s -> cache %s, tcp/%d\n", verdict, from, e.CacheID, e.Port)
	if e.Note != "" {
		fmt.Fprintf(&b, "  %s\n", e.Note)
	}
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

// ExplainHost decides whether programs on the host may open a TCP
// connection to a cache on port (0: the cache's port) through its
// published endpoints: the cache must be published, and each node's
// inbound rules must admit the host client. In the loopback network mode
// nothing is enforced, and the explanation says so.
func (s *Service) ExplainHost(ctx context.Context, cacheID string, port int) (*Explanation, error) {
	if err := s.authorizeEC2(ctx, "ExplainCacheReachability", ExplainActions, onAny(ExplainActions)); err != nil {
		return nil, err
	}
	w, err := s.load(ctx, cacheID, "")
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = w.cache.Port
	}
	if port < 1 || port > 65535 {
		return nil, invalid("Invalid port %d: the port must be between 1 and 65535.", port)
	}
	if len(w.cache.Endpoints) == 0 {
		return nil, awserr.New("InvalidCacheClusterState", "Cache %s has no node with a network interface yet (status %s).", w.cache.ID, w.cache.Status)
	}
	out := &Explanation{CacheID: w.cache.ID, FromHost: true, Port: port, Allowed: true}
	// Published interfaces: a group's primary and reader endpoints are
	// published with the member that answers for them.
	published := map[string]bool{}
	if _, err := s.publishing(); err == nil {
		if pcs, err := s.DescribePublished(ctx, w.cache.ID); err == nil {
			for _, ep := range pcs[0].Endpoints {
				published[ep.InterfaceID] = true
			}
		}
	}
	client := s.cfg.Publishing.HostClient
	if !client.IsValid() {
		out.Note = "loopback network mode: security groups are NOT enforced; the host reaches every node at its host port"
	} else {
		out.HostClient = client.String()
	}
	ev := w.snap.evaluator()
	for _, ep := range w.cache.Endpoints {
		v := EndpointVerdict{Endpoint: ep, Allowed: true, Path: "host"}
		if !published[ep.InterfaceID] {
			v.Allowed = false
			v.Missing = append(v.Missing, sgeval.Missing{Kind: "published", Interface: ep.InterfaceID,
				Reason: fmt.Sprintf("cache %s is not published to the host (cachalot publish %s)", w.cache.ID, w.cache.ID)})
		}
		if client.IsValid() {
			sv := ev.Check(sgeval.Flow{Src: sgeval.Endpoint{Addr: client, Host: true}, Dst: sgeval.Endpoint{Interface: ep.InterfaceID},
				Protocol: "tcp", Port: int32(port)})
			v.Allowed = v.Allowed && sv.Allowed
			v.Missing = append(v.Missing, sv.Missing...)
			for _, r := range sv.Ingress {
				v.Rules = append(v.Rules, w.ruleText(r))
			}
			for _, r := range sv.ACLs {
				v.Rules = append(v.Rules, r.String())
			}
		}
		out.Allowed = out.Allowed && v.Allowed
		out.Endpoints = append(out.Endpoints, v)
	}
	return out, nil
}
