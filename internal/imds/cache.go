package imds

import (
	"context"
	"strings"
	"sync"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// The metadata cache. Every request needs the instance's metadata; reading
// it from the store (a read transaction and the scope's records) was most
// of a request's cost, so the server keeps each instance's last read with
// the store revision it was read at, and serves it again while nothing in
// the instance's EC2 scope (account, region) has changed since.
//
// Staleness is never possible, even for an instant: a request reads the
// store's current revision first (cheap: no record is read), and an entry
// is served only when it was read at that very revision, or when the store
// watcher has already seen every change up to that revision and none of
// them touched the scope after the entry was read. A watcher lagging
// behind a commit makes the request read the store, as without a cache;
// so a change (HttpTokens, tags, a disassociated profile) still takes
// effect on the next request. The cache needs Instances to have a
// Revision method (ec2.Service has) and works fully once WatchStore runs;
// without a watcher an entry serves only requests at the same revision.

// revisioner is what the cache needs of Instances besides InstanceMetadata.
type revisioner interface {
	Revision(ctx context.Context) (uint64, error)
}

// Watcher is the store's change feed (store.Store has it).
type Watcher interface {
	Watch(ctx context.Context) <-chan store.Change
}

// metaCache holds the instances' metadata. Its mutex guards every field.
type metaCache struct {
	mu      sync.Mutex
	entries map[string]metaEntry // by account/region/instance
	// changed is the revision of the last change seen in each EC2 scope
	// (account/region); all is the revision of the last change that may
	// have touched any scope (an overflow of the watcher).
	changed map[string]uint64
	all     uint64
	// watching is set once the watcher runs; it has seen every change
	// between start and seen.
	watching    bool
	start, seen uint64
	stop        context.CancelFunc
	done        chan struct{}
}

type metaEntry struct {
	m    *ec2.Metadata
	tree map[string]string // metaTree(m), built once
	rev  uint64
}

// fresh reports whether an entry read at rev may be served at revision cur
// of scope. The caller holds mu.
func (c *metaCache) fresh(rev, cur uint64, scope string) bool {
	if rev == cur {
		return true
	}
	return c.watching && rev >= c.start && c.seen >= cur && c.all <= rev && c.changed[scope] <= rev
}

// metadata returns the metadata of instance and its meta-data tree (both
// read-only), from the cache when fresh.
func (s *Server) metadata(ctx context.Context, account, region, instance string) (*ec2.Metadata, map[string]string, error) {
	read := func() (*ec2.Metadata, map[string]string, error) {
		m, err := s.cfg.Instances.InstanceMetadata(ctx, account, region, instance)
		if err != nil {
			return nil, nil, err
		}
		return m, metaTree(m), nil
	}
	rv, ok := s.cfg.Instances.(revisioner)
	if !ok {
		return read()
	}
	cur, err := rv.Revision(ctx)
	if err != nil {
		return read()
	}
	scope, key := account+"/"+region, account+"/"+region+"/"+instance
	c := &s.cache
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && c.fresh(e.rev, cur, scope) {
		c.mu.Unlock()
		return e.m, e.tree, nil
	}
	c.mu.Unlock()
	// Read at a revision >= cur: recorded as cur, which can only make
	// the entry look older than it is.
	m, tree, err := read()
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	if e, ok := c.entries[key]; !ok || e.rev <= cur {
		c.entries[key] = metaEntry{m: m, tree: tree, rev: cur}
	}
	c.mu.Unlock()
	return m, tree, nil
}

// forgetMetadata drops the cached metadata of an instance.
func (s *Server) forgetMetadata(key string) {
	s.cache.mu.Lock()
	delete(s.cache.entries, key)
	s.cache.mu.Unlock()
}

// WatchStore follows the store's changes so that cached metadata is served
// across revisions that did not touch its scope, until Close. It needs
// Instances to have a Revision method; without one it does nothing.
func (s *Server) WatchStore(w Watcher) {
	rv, ok := s.cfg.Instances.(revisioner)
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	changes := w.Watch(ctx)
	// Every change after this revision is delivered (the watch began
	// before it was read).
	start, err := rv.Revision(ctx)
	if err != nil {
		cancel()
		s.log.Warn("metadata: no store watch; cached metadata serves one revision only", "err", err)
		return
	}
	c := &s.cache
	c.mu.Lock()
	c.watching, c.start, c.seen, c.stop, c.done = true, start, start, cancel, make(chan struct{})
	done := c.done
	c.mu.Unlock()
	go func() {
		defer close(done)
		for ch := range changes {
			c.mu.Lock()
			if ch.Overflow {
				c.all = ch.Revision
				clear(c.entries)
			}
			for _, k := range ch.Keys {
				if scope, ok := ec2Scope(k); ok {
					c.changed[scope] = ch.Revision
				}
			}
			c.seen = max(c.seen, ch.Revision)
			c.mu.Unlock()
		}
	}()
}

// Close stops the store watch; safe to call more than once and without
// WatchStore.
func (s *Server) Close() {
	c := &s.cache
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.stop, c.watching = nil, false
	c.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// ec2Scope returns the EC2 scope (account/region) of a store key
// ec2/<account>/<region>/…; indexes (ec2/_…) belong to none.
func ec2Scope(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "ec2/")
	if !ok || strings.HasPrefix(rest, "_") {
		return "", false
	}
	acct, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	region, _, _ := strings.Cut(rest, "/")
	return acct + "/" + region, region != ""
}
