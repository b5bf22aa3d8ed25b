package access

// Publishing caches to the host (docs/api-extensions.md, PublishCache):
// the desired state is one record per published cache, written by the API
// in one transaction (or by Converge for serve --publish-all), holding the
// loopback address of each endpoint as an offset in the published range.
// The network controller realises HostEndpoints (vpcnet, netplane's host
// links); the publish controller (internal/publishctl) calls Converge and
// writes the hosts file. Caches are node-based clusters, replication
// groups and serverless caches (named by CacheClusterId as in the other
// access flows: a cluster first, then a group, then a serverless cache). A
// serverless cache's one endpoint has one address for both its ports.
//
// A group's record gives an address to each member's node; the names the
// host resolves are those the VPCs' DNS servers answer (Endpoint.DNSNames):
// the members' own, the primary endpoint's at the current primary, the
// reader endpoint's at every replica, a cluster-mode group's configuration
// endpoint at every node. They follow a failover: the publish controller
// rewrites the hosts file when a group's roles change.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Kinds of published caches.
const (
	KindCacheCluster     = "cache-cluster"
	KindReplicationGroup = "replication-group"
	KindServerlessCache  = "serverless-cache"
)

// PublishedPrefix is where published caches are kept:
// access/published/<account>/<region>/<kind>/<id>. Controllers watch it.
const PublishedPrefix = "access/published/"

func publishedKey(account, region, kind, id string) string {
	return PublishedPrefix + store.Key(account, region, kind, id)
}

// publishRecord is the stored desired state of one published cache.
type publishRecord struct {
	Account, Region, Kind, ID string
	// CacheCreatedAt tells the cache published from a later one of the
	// same id: a record whose cache was deleted is garbage.
	CacheCreatedAt time.Time
	CreatedAt      time.Time
	// Auto is set for a record made by serve --publish-all.
	Auto bool `json:",omitempty"`
	// Offsets are the loopback addresses of the cache's endpoints (node id,
	// "configuration", or a group's member cluster id), as offsets in the
	// published range.
	Offsets map[string]int
}

// Namer names the endpoints of a scope (*dnsname.Namer).
type Namer interface {
	Scope(account, region string) (dnsname.Scope, error)
}

// HostAddrs says where the host reaches a server in the loopback network
// mode (vpcnet's HostAddr); ok is false in the namespaces mode.
type HostAddrs interface {
	HostAddr(interfaceID string, port int) (ip string, hostPort int, ok bool)
}

// CacheLister lists the caches of every account and region.
type CacheLister interface {
	AllCaches(ctx context.Context) ([]Cache, error)
}

// Publishing configures publishing (Config.Publishing); its zero value
// disables it (the actions then answer InvalidParameterValue).
type Publishing struct {
	Store  store.Store
	Names  Namer
	Lister CacheLister
	// LoopbackAddr maps an offset to a loopback address
	// (netplane.PublishedAddr); Offsets bounds them (2 ≤ n < Offsets).
	LoopbackAddr func(n int) (netip.Addr, bool)
	Offsets      int
	// HostClient is the address security groups see for the host
	// (netplane.HostClientAddr); invalid in the loopback network mode,
	// where rules are not enforced.
	HostClient netip.Addr
	// HostAddrs gives the loopback mode's addresses; nil or never ok in
	// the namespaces mode.
	HostAddrs HostAddrs
	// All publishes every cache (serve --publish-all).
	All bool
}

// HostEndpoint is one endpoint of a published cache as the host reaches it.
type HostEndpoint struct {
	Account, Region, Kind, CacheID string
	// Name is the endpoint's node id (0001, …), "configuration", or a
	// group's member cluster id.
	Name string
	// DNSName is the endpoint's own name; DNSNames every name the host
	// resolves to it (DNSName first).
	DNSName     string
	DNSNames    []string
	InterfaceID string
	PrivateIP   string
	Port        int
	// Loopback is the endpoint's own address in the published range;
	// Address:HostPort is where the host reaches it: Loopback and Port in
	// the namespaces mode, 127.0.0.1 and the node's host port in the
	// loopback mode.
	Loopback netip.Addr
	Address  string
	HostPort int
}

// PublishedCache is a published cache and its endpoints.
type PublishedCache struct {
	Kind, ID  string
	Auto      bool
	Endpoints []HostEndpoint
}

func (s *Service) publishing() (*Publishing, error) {
	p := &s.cfg.Publishing
	if p.Store == nil || p.Names == nil || p.LoopbackAddr == nil {
		return nil, invalid("Publishing caches to the host is not enabled on this endpoint.")
	}
	return p, nil
}

func notPublished(id string) error {
	return awserr.WithStatus(404, "CacheClusterNotPublished", "Cache cluster %s is not published to the host.", id)
}

func invalidState(c Cache) error {
	return awserr.New("InvalidCacheClusterState", "Cache cluster %s is %s.", c.ID, c.Status)
}

// endpointNames returns the DNS names of each endpoint of c given an
// address (not the aliases), by endpoint name, its own name first.
func (p *Publishing) endpointNames(account, region string, c Cache) (map[string][]string, error) {
	sc, err := p.Names.Scope(account, region)
	if err != nil {
		return nil, fmt.Errorf("name endpoints: %w", err)
	}
	out := map[string][]string{}
	for _, ep := range c.Endpoints {
		switch {
		case ep.Alias:
		case len(ep.DNSNames) > 0:
			out[ep.Name] = slices.Clone(ep.DNSNames)
		case ep.Name == "configuration":
			out[ep.Name] = []string{sc.MemcachedConfig(c.ID)}
		default:
			out[ep.Name] = []string{sc.Node(c.ID, ep.Name)}
		}
	}
	return out, nil
}

// allNames are every name of names, sorted, once.
func allNames(names map[string][]string) []string {
	var out []string
	for _, ns := range names {
		out = append(out, ns...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// recordNames returns the DNS names a record claims: those of its
// endpoints; for a group, every name its members and the group may have
// (both layouts, with and without TLS), whoever answers for them now.
func (p *Publishing) recordNames(r *publishRecord) ([]string, error) {
	sc, err := p.Names.Scope(r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	var out []string
	if r.Kind == KindReplicationGroup {
		out = append(out, sc.Primary(r.ID), sc.Reader(r.ID), sc.TLSPrimary(r.ID), sc.TLSReader(r.ID),
			sc.ClusterConfig(r.ID, false), sc.ClusterConfig(r.ID, true))
		for m := range r.Offsets {
			out = append(out, sc.Node(m, dnsname.NodeID(1)), sc.TLSNode(m, r.ID))
		}
		return out, nil
	}
	if r.Kind == KindServerlessCache {
		return []string{sc.Serverless(r.ID)}, nil
	}
	for ep := range r.Offsets {
		if ep == "configuration" {
			out = append(out, sc.MemcachedConfig(r.ID))
		} else {
			out = append(out, sc.Node(r.ID, ep))
		}
	}
	return out, nil
}

// Publish publishes a cache (a cluster, or else a replication group, named
// id) to the host: one transaction writes its record with a loopback
// address for each of its endpoints; the controllers realise it.
func (s *Service) Publish(ctx context.Context, id string) (*PublishedCache, error) {
	p, err := s.publishing()
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter CacheClusterId")
	}
	c, err := s.cfg.Caches.Cache(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status == "deleting" {
		return nil, invalidState(c)
	}
	scope := auth.ScopeFrom(ctx)
	c.Account, c.Region = scope.AccountID, scope.Region
	names, err := p.endpointNames(c.Account, c.Region, c)
	if err != nil {
		return nil, err
	}
	key := publishedKey(c.Account, c.Region, c.kind(), c.ID)
	rec := &publishRecord{Account: c.Account, Region: c.Region, Kind: c.kind(), ID: c.ID, CacheCreatedAt: c.CreatedAt,
		CreatedAt: s.cfg.Now().UTC(), Offsets: map[string]int{}}
	err = p.Store.Update(ctx, func(tx store.Tx) error {
		var cur publishRecord
		switch err := store.GetJSON(tx, key, &cur); {
		case err == nil && cur.CacheCreatedAt.Equal(c.CreatedAt):
			how := ""
			if cur.Auto {
				how = " (by serve --publish-all)"
			}
			return awserr.New("CacheClusterAlreadyPublished", "Cache cluster %s is already published to the host%s.", c.ID, how)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		all, err := publishRecords(tx)
		if err != nil {
			return err
		}
		claimed, err := p.claimedNames(all, key)
		if err != nil {
			return err
		}
		for _, n := range allNames(names) {
			if o, ok := claimed[n]; ok {
				return awserr.New("PublishedNameConflict", "The name %s of cache cluster %s is already published for %s.", n, c.ID, o)
			}
		}
		if err := p.allocate(rec, c, all, key); err != nil {
			return err
		}
		return store.PutJSON(tx, key, rec)
	})
	if err != nil {
		return nil, err
	}
	return p.published(rec, c), nil
}

// Unpublish withdraws a cache from the host.
func (s *Service) Unpublish(ctx context.Context, id string) (*PublishedCache, error) {
	p, err := s.publishing()
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter CacheClusterId")
	}
	c, err := s.cfg.Caches.Cache(ctx, id)
	if err != nil {
		return nil, err
	}
	scope := auth.ScopeFrom(ctx)
	c.Account, c.Region = scope.AccountID, scope.Region
	key := publishedKey(c.Account, c.Region, c.kind(), c.ID)
	var rec publishRecord
	err = p.Store.Update(ctx, func(tx store.Tx) error {
		switch err := store.GetJSON(tx, key, &rec); {
		case errors.Is(err, store.ErrNotFound):
			return notPublished(c.ID)
		case err != nil:
			return err
		case rec.Auto && p.All:
			return awserr.New("InvalidParameterCombination",
				"Cache cluster %s is published by serve --publish-all; restart serve without --publish-all to publish caches one by one.", c.ID)
		}
		return tx.Delete(key)
	})
	if err != nil {
		return nil, err
	}
	return p.published(&rec, c), nil
}

// DescribePublished lists the caches of the caller's scope published to the
// host, of every kind (id "" for all), sorted by kind and id.
func (s *Service) DescribePublished(ctx context.Context, id string) ([]PublishedCache, error) {
	p, err := s.publishing()
	if err != nil {
		return nil, err
	}
	scope := auth.ScopeFrom(ctx)
	if id != "" {
		c, err := s.cfg.Caches.Cache(ctx, id)
		if err != nil {
			return nil, err
		}
		id = c.ID
	}
	var recs []*publishRecord
	err = p.Store.View(ctx, func(tx store.Tx) error {
		var err error
		recs, err = store.ListJSON[publishRecord](tx, PublishedPrefix+store.Key(scope.AccountID, scope.Region)+"/")
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []PublishedCache{}
	for _, r := range recs {
		if id != "" && r.ID != id {
			continue
		}
		c, err := s.cfg.Caches.Cache(ctx, r.ID)
		if err != nil || c.kind() != r.Kind || !c.CreatedAt.Equal(r.CacheCreatedAt) {
			continue // deleted: the controller forgets the record
		}
		c.Account, c.Region = scope.AccountID, scope.Region
		out = append(out, *p.published(r, c))
	}
	if id != "" && len(out) == 0 {
		return nil, notPublished(id)
	}
	return out, nil
}

// published renders a record of cache c: its endpoints that have an
// interface and an address.
func (p *Publishing) published(r *publishRecord, c Cache) *PublishedCache {
	out := &PublishedCache{Kind: r.Kind, ID: r.ID, Auto: r.Auto}
	names, _ := p.endpointNames(r.Account, r.Region, c)
	for _, ep := range c.Endpoints {
		n, ok := r.Offsets[ep.Name]
		if !ok || ep.Alias {
			continue
		}
		loop, ok := p.LoopbackAddr(n)
		if !ok {
			continue
		}
		var own string
		if ns := names[ep.Name]; len(ns) > 0 {
			own = ns[0]
		}
		// One host endpoint per port of the cache (a serverless cache's
		// 6379 and 6380), at the same address.
		for port := c.Ports().From; port <= c.Ports().To; port++ {
			he := HostEndpoint{Account: r.Account, Region: r.Region, Kind: r.Kind, CacheID: r.ID, Name: ep.Name, DNSName: own, DNSNames: names[ep.Name],
				InterfaceID: ep.InterfaceID, PrivateIP: ep.Address, Port: port, Loopback: loop, Address: loop.String(), HostPort: port}
			if p.HostAddrs != nil {
				if ip, hp, ok := p.HostAddrs.HostAddr(ep.InterfaceID, he.Port); ok {
					he.Address, he.HostPort = ip, hp
				}
			}
			out.Endpoints = append(out.Endpoints, he)
		}
	}
	return out
}

// claimedNames are the DNS names of every record but the one at skip, each
// with the cache claiming it.
func (p *Publishing) claimedNames(all map[string]*publishRecord, skip string) (map[string]string, error) {
	claimed := map[string]string{}
	for k, r := range all {
		if k == skip {
			continue
		}
		ns, err := p.recordNames(r)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			claimed[n] = r.Account + "/" + r.Region + "/" + r.ID
		}
	}
	return claimed, nil
}

// allocate gives each endpoint of c without one the lowest free offset,
// and drops the offsets of endpoints c no longer has. all holds every
// record (rec's own under key, if stored).
func (p *Publishing) allocate(rec *publishRecord, c Cache, all map[string]*publishRecord, key string) error {
	used := map[int]bool{}
	for k, r := range all {
		if k == key {
			continue
		}
		for _, n := range r.Offsets {
			used[n] = true
		}
	}
	have := map[string]bool{}
	for _, ep := range c.Endpoints {
		have[ep.Name] = !ep.Alias
	}
	for name := range rec.Offsets {
		if !have[name] {
			delete(rec.Offsets, name)
		}
	}
	for _, n := range rec.Offsets {
		used[n] = true
	}
	next := 2
	for _, ep := range c.Endpoints {
		if _, ok := rec.Offsets[ep.Name]; ok || ep.Alias {
			continue
		}
		for next < p.Offsets && used[next] {
			next++
		}
		if next >= p.Offsets {
			return awserr.New("InsufficientCacheClusterCapacity", "Every host address of the published range is taken.")
		}
		rec.Offsets[ep.Name] = next
		used[next] = true
	}
	return nil
}

// publishRecords reads every publish record, by key.
func publishRecords(tx store.Tx) (map[string]*publishRecord, error) {
	all := map[string]*publishRecord{}
	err := store.ScanJSON(tx, PublishedPrefix, func(k string, r *publishRecord) error {
		all[k] = r
		return nil
	})
	return all, err
}

// cacheKey names a cache across scopes.
func cacheKey(account, region, kind, id string) string {
	return strings.Join([]string{account, region, kind, id}, "/")
}
