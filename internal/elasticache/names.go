package elasticache

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// Endpoint names. Every endpoint the API returns is a DNS name spelt by
// dnsname (Config.Names); this file is the one place that decides which
// names a cache has and what each resolves to, so that the API (Describe,
// the Memcached configuration endpoint's "config get cluster"), the VPC
// resolvers and the host's view of published caches agree.

// EndpointName is one DNS name of a cache and the private address it
// resolves to inside the VPCs.
type EndpointName struct {
	// Name is the DNS name, lowercase, without a trailing dot, e.g.
	// my-cache.km2jzi.0001.use1.cache.amazonaws.com.
	Name            string
	Account, Region string
	Cache           string // the cluster id
	// Node is the node id (0001, …); "" for a Memcached cluster's
	// configuration endpoint.
	Node string
	// VpcID is the cluster's VPC; "" in EC2-Classic.
	VpcID       string
	InterfaceID string     // the network interface holding IP
	IP          netip.Addr // the private IPv4 address the name resolves to
	Port        int        // the engine's port at IP
}

// Names returns the DNS names of cl's endpoints: one per node that has an
// address (exactly the nodes Describe shows an endpoint for) and, for a
// Memcached cluster whose configuration endpoint has one, the configuration
// endpoint. A name resolves exactly while Describe shows it.
func (s *Service) Names(cl *Cluster) ([]EndpointName, error) {
	sc, err := s.nameScope(cl.Account, cl.Region)
	if err != nil {
		return nil, err
	}
	var out []EndpointName
	add := func(name, node, eni, ip string) error {
		addr, err := netip.ParseAddr(ip)
		if err != nil || !addr.Is4() {
			return fmt.Errorf("cluster %s: endpoint %s: address %q is not IPv4", cl.Ref(), name, ip)
		}
		out = append(out, EndpointName{Name: name, Account: cl.Account, Region: cl.Region, Cache: cl.ID, Node: node,
			VpcID: cl.VpcID, InterfaceID: eni, IP: addr, Port: cl.Port})
		return nil
	}
	if cl.Engine == catalog.Memcached && cl.ConfigIP != "" {
		if err := add(sc.MemcachedConfig(cl.ID), "", cl.ConfigInterfaceID, cl.ConfigIP); err != nil {
			return nil, err
		}
	}
	for _, n := range cl.Nodes {
		if n.IP == "" {
			continue
		}
		name := nodeName(sc, cl, n.ID)
		if cl.ServerlessCache != "" {
			// A serverless cache's engines are its endpoint: the
			// cache's one name, which they announce (AllNames leaves
			// them to the cache's own names).
			name = sc.Serverless(cl.ServerlessCache)
		}
		if err := add(name, n.ID, n.InterfaceID, n.IP); err != nil {
			return nil, err
		}
		if cl.PlainNames && cl.TransitEncryptionMode != "" {
			// Enabling TLS, in preferred: the name without TLS stays.
			if err := add(sc.Node(cl.ID, n.ID), n.ID, n.InterfaceID, n.IP); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// AllNames returns the names of every cluster of every account and region
// (Names), read in one transaction: what the Amazon-provided DNS server of
// every VPC answers for, ElastiCache's names being public DNS names that
// resolve to private addresses everywhere.
func (s *Service) AllNames(ctx context.Context) ([]EndpointName, error) {
	clusters, err := s.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	var out []EndpointName
	for _, cl := range clusters {
		if cl.ServerlessCache != "" {
			continue // named by its cache (GroupNames)
		}
		names, err := s.Names(cl)
		if err != nil {
			return nil, err
		}
		out = append(out, names...)
	}
	groups, members, err := s.ReplicationGroups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		names, err := s.GroupNames(g, members[g.Ref()])
		if err != nil {
			return nil, err
		}
		out = append(out, names...)
	}
	return out, nil
}

// GroupNames returns the names of a replication group's endpoints (its
// members' node names are theirs, Names): the primary endpoint, naming the
// current primary's node, and the reader endpoint, naming every replica's
// node as AWS's DNS spreads readers over them (the primary's when there is
// no replica). A name resolves once its nodes have addresses, exactly
// while Describe shows it.
func (s *Service) GroupNames(g *ReplicationGroup, members []*Cluster) ([]EndpointName, error) {
	if g.Serverless != nil {
		return s.serverlessNames(g, members)
	}
	if g.ClusterEnabled() {
		return s.clusterNames(g, members)
	}
	sc, err := s.nameScope(g.Account, g.Region)
	if err != nil {
		return nil, err
	}
	var out []EndpointName
	if g.ClusterMode == ClusterModeCompatible {
		// Compatible: the configuration endpoint besides the primary and
		// reader endpoints.
		if out, err = s.clusterNames(g, members); err != nil {
			return nil, err
		}
	}
	add := func(name string, c *Cluster) {
		if len(c.Nodes) == 0 || c.Nodes[0].IP == "" {
			return
		}
		n := c.Nodes[0]
		addr, err := netip.ParseAddr(n.IP)
		if err != nil || !addr.Is4() {
			return
		}
		out = append(out, EndpointName{Name: name, Account: g.Account, Region: g.Region, Cache: g.ID, Node: n.ID,
			VpcID: c.VpcID, InterfaceID: n.InterfaceID, IP: addr, Port: g.Port})
	}
	var primary *Cluster
	readers := 0
	for _, c := range members {
		if c.ID == g.Primary {
			primary = c
		}
	}
	if primary == nil || len(primary.Nodes) == 0 || primary.Nodes[0].IP == "" {
		return nil, nil // Describe shows no endpoint yet
	}
	endpoints := func(primaryName, readerName string) {
		add(primaryName, primary)
		readers = 0
		for _, c := range members {
			if c.ID != g.Primary && c.Status != StatusDeleting && len(c.Nodes) > 0 && c.Nodes[0].IP != "" {
				add(readerName, c)
				readers++
			}
		}
		if readers == 0 {
			add(readerName, primary)
		}
	}
	endpoints(groupEndpointNames(sc, g))
	if g.PlainNames && g.TransitEncryptionMode != "" {
		// Enabling TLS, in preferred: the endpoints without TLS stay
		// until required, as on ElastiCache.
		endpoints(sc.Primary(g.ID), sc.Reader(g.ID))
	}
	return out, nil
}

// nameScope is the naming scope of an account in a region.
func (s *Service) nameScope(account, region string) (dnsname.Scope, error) {
	if s.cfg.Names == nil {
		return dnsname.Scope{}, fmt.Errorf("elasticache: no endpoint namer configured")
	}
	sc, err := s.cfg.Names.Scope(account, region)
	if err != nil {
		return dnsname.Scope{}, fmt.Errorf("endpoint names in %s: %w", region, err)
	}
	return sc, nil
}

// endpoints returns the API endpoints of cl: its configuration endpoint
// (Memcached; invalid when it has none) and its nodes', by node id. Each is
// the endpoint's DNS name and port, or in the loopback network mode the
// host address and port the realiser bound it to (Config.HostAddrs), since
// nothing there resolves the names.
func (s *Service) endpoints(cl *Cluster) (config hostPort, nodes map[string]hostPort, err error) {
	names, err := s.Names(cl)
	if err != nil {
		return hostPort{}, nil, err
	}
	nodes = map[string]hostPort{}
	for _, n := range names {
		hp := hostPort{host: n.Name, ip: n.IP.String(), port: n.Port}
		if s.cfg.HostAddrs != nil {
			if hip, hport, ok := s.cfg.HostAddrs.HostAddr(n.InterfaceID, n.Port); ok {
				hp = hostPort{host: hip, ip: hip, port: hport}
			}
		}
		if n.Node == "" {
			config = hp
		} else {
			nodes[n.Node] = hp
		}
	}
	return config, nodes, nil
}

// hostPort is an endpoint as the API gives it: host (a DNS name, or in the
// loopback mode the host address), the address host resolves to, and port.
type hostPort struct {
	host, ip string
	port     int
}

func (h hostPort) valid() bool { return h.host != "" }
