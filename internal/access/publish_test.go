package access

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// pubCaches serves caches of every scope, keyed account/region/id.
type pubCaches struct{ m map[string]Cache }

func (f *pubCaches) Cache(ctx context.Context, id string) (Cache, error) {
	s := auth.ScopeFrom(ctx)
	c, ok := f.m[s.AccountID+"/"+s.Region+"/"+id]
	if !ok {
		return Cache{}, awserr.New("CacheClusterNotFound", "CacheCluster not found: %s", id)
	}
	return c, nil
}

func (f *pubCaches) EditSecurityGroups(context.Context, string, func([]string) ([]string, error)) error {
	return errors.New("not used")
}

func (f *pubCaches) AllCaches(context.Context) ([]Cache, error) {
	var out []Cache
	for _, c := range f.m {
		out = append(out, c)
	}
	return out, nil
}

func (f *pubCaches) put(c Cache) { f.m[c.Account+"/"+c.Region+"/"+c.ID] = c }

func testCache(id string, nodes ...string) Cache {
	c := Cache{Account: testAccount, Region: testRegion, ID: id, Status: "available", Port: 6379,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	for i, n := range nodes {
		c.Endpoints = append(c.Endpoints, Endpoint{Name: n, InterfaceID: "eni-" + id + n, Address: "10.0.0." + string(rune('4'+i))})
	}
	return c
}

func newPublishService(t *testing.T, all bool) (*Service, *pubCaches, store.Store) {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	names, err := dnsname.New(dnsname.DefaultDomain, bytes.Repeat([]byte{1}, dnsname.SecretSize))
	if err != nil {
		t.Fatal(err)
	}
	caches := &pubCaches{m: map[string]Cache{}}
	base := netip.MustParseAddr("127.64.0.0")
	s := New(Config{Caches: caches, Authorizer: authz{}, Publishing: Publishing{
		Store: st, Names: names, Lister: caches, All: all, Offsets: 16,
		LoopbackAddr: func(n int) (netip.Addr, bool) {
			if n < 2 || n >= 16 {
				return netip.Addr{}, false
			}
			a := base.As4()
			a[3] = byte(n)
			return netip.AddrFrom4(a), true
		},
		HostClient: netip.MustParseAddr("169.254.64.1"),
	}})
	return s, caches, st
}

func code(err error) string {
	if e, ok := awserr.As(err); ok {
		return e.Code
	}
	return ""
}

func hostAddrs(t *testing.T, s *Service) map[string]string {
	t.Helper()
	eps, err := s.HostEndpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range eps {
		out[e.CacheID+"/"+e.Name] = e.Address
	}
	return out
}

// Publish gives each endpoint an address of its own and a name; bad input
// is an AWS error and changes nothing.
func TestPublishErrors(t *testing.T) {
	s, caches, _ := newPublishService(t, false)
	ctx := callerCtx()
	caches.put(testCache("web", "0001", "0002"))
	dying := testCache("dying", "0001")
	dying.Status = "deleting"
	caches.put(dying)

	pc, err := s.Publish(ctx, "web")
	if err != nil {
		t.Fatalf("Publish(web) = %v", err)
	}
	if len(pc.Endpoints) != 2 || pc.Endpoints[0].Address != "127.64.0.2" || pc.Endpoints[1].Address != "127.64.0.3" ||
		!strings.HasPrefix(pc.Endpoints[0].DNSName, "web.") || !strings.HasSuffix(pc.Endpoints[0].DNSName, ".0001.use1.cache.amazonaws.com") {
		t.Errorf("Publish(web) endpoints = %+v", pc.Endpoints)
	}
	for _, tc := range []struct {
		f    func() error
		want string
	}{
		{func() error { _, err := s.Publish(ctx, "web"); return err }, "CacheClusterAlreadyPublished"},
		{func() error { _, err := s.Publish(ctx, "nope"); return err }, "CacheClusterNotFound"},
		{func() error { _, err := s.Publish(ctx, "dying"); return err }, "InvalidCacheClusterState"},
		{func() error { _, err := s.Publish(ctx, ""); return err }, "MissingParameter"},
		{func() error { _, err := s.Unpublish(ctx, "nope"); return err }, "CacheClusterNotFound"},
		{func() error { _, err := s.Unpublish(ctx, "dying"); return err }, "CacheClusterNotPublished"},
		{func() error { _, err := s.DescribePublished(ctx, "dying"); return err }, "CacheClusterNotPublished"},
	} {
		if got := code(tc.f()); got != tc.want {
			t.Errorf("got %q, want %s", got, tc.want)
		}
	}
	if got := hostAddrs(t, s); len(got) != 2 || got["web/0001"] != "127.64.0.2" {
		t.Errorf("HostEndpoints after bad input = %v, want web's two", got)
	}
	if _, err := s.Unpublish(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got := hostAddrs(t, s); len(got) != 0 {
		t.Errorf("HostEndpoints after Unpublish = %v", got)
	}
}

// Two caches whose names collide (the same id and id6 in one region: here,
// one record forged under another account's key) cannot both be published.
func TestPublishNameConflict(t *testing.T) {
	s, caches, st := newPublishService(t, false)
	ctx := callerCtx()
	caches.put(testCache("web", "0001"))
	// A record naming the same endpoint as web's, as a colliding id6 would.
	forged := &publishRecord{Account: testAccount, Region: testRegion, Kind: KindCacheCluster, ID: "web", Offsets: map[string]int{"0001": 9}}
	if err := st.Update(context.Background(), func(tx store.Tx) error {
		return store.PutJSON(tx, PublishedPrefix+"999999999999/us-east-1/cache-cluster/web", forged)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, "web"); code(err) != "PublishedNameConflict" {
		t.Errorf("Publish of a colliding name = %v, want PublishedNameConflict", err)
	}
}

// Converge forgets the records of deleted (or re-created) caches, gives a
// new node an address and frees a removed node's; the addresses of the
// others stay.
func TestConverge(t *testing.T) {
	s, caches, _ := newPublishService(t, false)
	ctx := callerCtx()
	caches.put(testCache("web", "0001", "0002"))
	caches.put(testCache("mc", "0001"))
	for _, id := range []string{"web", "mc"} {
		if _, err := s.Publish(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	caches.put(testCache("web", "0002", "0003")) // 0001 removed, 0003 added
	delete(caches.m, testAccount+"/"+testRegion+"/mc")
	if err := s.Converge(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := hostAddrs(t, s)
	if len(got) != 2 || got["web/0002"] != "127.64.0.3" || got["web/0003"] == "" || got["web/0003"] == "127.64.0.3" {
		t.Errorf("HostEndpoints after Converge = %v, want web/0002 kept at 127.64.0.3 and web/0003 new", got)
	}
	// mc made again: its old record is garbage, the new one unpublished.
	mc := testCache("mc", "0001")
	mc.CreatedAt = mc.CreatedAt.Add(time.Hour)
	caches.put(mc)
	if err := s.Converge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DescribePublished(ctx, "mc"); code(err) != "CacheClusterNotPublished" {
		t.Errorf("DescribePublished(mc re-created) = %v, want CacheClusterNotPublished", err)
	}
}

// With --publish-all every cache is published, Unpublish says why it
// cannot, and without it the automatic records go.
func TestPublishAll(t *testing.T) {
	s, caches, _ := newPublishService(t, true)
	ctx := callerCtx()
	caches.put(testCache("web", "0001"))
	caches.put(testCache("mc", "0001"))
	if err := s.Converge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := hostAddrs(t, s); len(got) != 2 {
		t.Errorf("HostEndpoints with --publish-all = %v, want both caches", got)
	}
	if _, err := s.Publish(ctx, "web"); code(err) != "CacheClusterAlreadyPublished" {
		t.Errorf("Publish under --publish-all = %v", err)
	}
	if _, err := s.Unpublish(ctx, "web"); code(err) != "InvalidParameterCombination" {
		t.Errorf("Unpublish under --publish-all = %v", err)
	}
	s.cfg.Publishing.All = false
	if err := s.Converge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := hostAddrs(t, s); len(got) != 0 {
		t.Errorf("HostEndpoints after --publish-all is off = %v, want none", got)
	}
}

// testGroup is a replication group of members m1 (the primary) and m2, m3
// as elasticache lists it: the primary and reader aliases, then a member
// endpoint each, with the names resolving to it.
func testGroup(primary string, members ...string) Cache {
	c := Cache{Account: testAccount, Region: testRegion, ID: "rg", Kind: KindReplicationGroup, Status: "available", Port: 6379,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var eps []Endpoint
	for i, m := range members {
		ep := Endpoint{Name: m, InterfaceID: "eni-" + m, Address: "10.0.0." + string(rune('4'+i)), DNSNames: []string{m + ".own"}}
		if m == primary {
			ep.DNSNames = append(ep.DNSNames, "rg.primary")
			c.Endpoints = append(c.Endpoints, Endpoint{Name: "primary", InterfaceID: ep.InterfaceID, Address: ep.Address, Alias: true})
		} else {
			ep.DNSNames = append(ep.DNSNames, "rg.reader")
		}
		eps = append(eps, ep)
	}
	c.Endpoints = append(c.Endpoints, eps...)
	return c
}

// A published group gives each member (not the aliases) an address; the
// names follow the roles: after a failover the primary name is on the new
// primary's address, the addresses unchanged; a member's own record
// conflicts with the group's; --publish-all publishes the group, not its
// members.
func TestPublishGroup(t *testing.T) {
	s, caches, _ := newPublishService(t, false)
	ctx := callerCtx()
	caches.put(testGroup("m1", "m1", "m2", "m3"))
	member := testCache("m2", "0001")
	member.Group = "rg"
	caches.put(member)
	pc, err := s.Publish(ctx, "rg")
	if err != nil {
		t.Fatal(err)
	}
	if pc.Kind != KindReplicationGroup || len(pc.Endpoints) != 3 {
		t.Fatalf("Publish(rg) = %+v, want the three members", pc)
	}
	names := func() map[string][]string {
		eps, err := s.HostEndpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, e := range eps {
			for _, n := range e.DNSNames {
				out[n] = append(out[n], e.Address)
			}
		}
		return out
	}
	got := names()
	if len(got["rg.primary"]) != 1 || got["rg.primary"][0] != got["m1.own"][0] || len(got["rg.reader"]) != 2 {
		t.Fatalf("names = %v, want the primary name at m1's address, the reader's at m2's and m3's", got)
	}
	before := hostAddrs(t, s)

	caches.put(testGroup("m3", "m1", "m2", "m3")) // a failover
	got = names()
	if len(got["rg.primary"]) != 1 || got["rg.primary"][0] != got["m3.own"][0] || len(got["rg.reader"]) != 2 {
		t.Errorf("names after the failover = %v, want the primary name at m3's address", got)
	}
	if after := hostAddrs(t, s); !maps.Equal(before, after) {
		t.Errorf("addresses after the failover = %v, want them kept: %v", after, before)
	}
	if _, err := s.Publish(ctx, "m2"); code(err) != "PublishedNameConflict" {
		t.Errorf("Publish(m2), a member of the published group = %v, want PublishedNameConflict", err)
	}
	if pcs, err := s.DescribePublished(ctx, ""); err != nil || len(pcs) != 1 || pcs[0].ID != "rg" {
		t.Errorf("DescribePublished = %+v, %v", pcs, err)
	}
	if _, err := s.Unpublish(ctx, "rg"); err != nil {
		t.Fatal(err)
	}
	if got := hostAddrs(t, s); len(got) != 0 {
		t.Errorf("after Unpublish: %v", got)
	}

	all, caches, _ := newPublishService(t, true)
	caches.put(testGroup("m1", "m1", "m2", "m3"))
	caches.put(member)
	if err := all.Converge(context.Background()); err != nil {
		t.Fatal(err)
	}
	pcs, err := all.DescribePublished(ctx, "")
	if err != nil || len(pcs) != 1 || pcs[0].ID != "rg" || !pcs[0].Auto {
		t.Errorf("--publish-all: %+v, %v, want the group only", pcs, err)
	}
}
