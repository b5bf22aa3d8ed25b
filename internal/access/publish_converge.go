package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// HostEndpoints returns every endpoint published to the host, of every
// account and region: the records joined with the caches as they are now.
// A deleted or deleting cache has none, and an endpoint without an
// interface or an address yet is left out. Sorted by loopback address.
func (s *Service) HostEndpoints(ctx context.Context) ([]HostEndpoint, error) {
	p, err := s.publishing()
	if err != nil || p.Lister == nil {
		return nil, err
	}
	var all map[string]*publishRecord
	if err := p.Store.View(ctx, func(tx store.Tx) error {
		var err error
		all, err = publishRecords(tx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("read published caches: %w", err)
	}
	if len(all) == 0 {
		return nil, nil
	}
	caches, err := p.Lister.AllCaches(ctx)
	if err != nil {
		return nil, fmt.Errorf("read caches: %w", err)
	}
	byKey := map[string]Cache{}
	for _, c := range caches {
		byKey[cacheKey(c.Account, c.Region, c.kind(), c.ID)] = c
	}
	var out []HostEndpoint
	for _, r := range all {
		c, ok := byKey[cacheKey(r.Account, r.Region, r.Kind, r.ID)]
		if !ok || !c.CreatedAt.Equal(r.CacheCreatedAt) || c.Status == "deleting" {
			continue
		}
		out = append(out, p.published(r, c).Endpoints...)
	}
	slices.SortFunc(out, func(a, b HostEndpoint) int { return a.Loopback.Compare(b.Loopback) })
	return out, nil
}

// Converge brings the records in line with the caches, in one transaction:
// it forgets the records of caches that are gone (or were made again), and
// with serve --publish-all off, those it made; it gives new endpoints an
// address and forgets those of removed endpoints; with --publish-all on, it
// publishes every cache not yet published, a replication group as a whole
// (its members' own records made by --publish-all are forgotten: the
// group's hold their names). A cache whose names another
// published cache already claims is left unpublished and reported in the
// error, after everything else is written.
func (s *Service) Converge(ctx context.Context) error {
	p, err := s.publishing()
	if err != nil || p.Lister == nil {
		return err
	}
	caches, err := p.Lister.AllCaches(ctx)
	if err != nil {
		return fmt.Errorf("read caches: %w", err)
	}
	byKey := map[string]Cache{}
	var keys []string
	for _, c := range caches {
		k := publishedKey(c.Account, c.Region, c.kind(), c.ID)
		byKey[k] = c
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var conflicts []error
	err = p.Store.Update(ctx, func(tx store.Tx) error {
		conflicts = nil
		all, err := publishRecords(tx)
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(all) {
			r := all[k]
			c, ok := byKey[k]
			if !ok || !c.CreatedAt.Equal(r.CacheCreatedAt) || (r.Auto && (!p.All || c.Group != "")) {
				delete(all, k)
				if err := tx.Delete(k); err != nil {
					return err
				}
				continue
			}
			before := fmt.Sprint(r.Offsets)
			if err := p.allocate(r, c, all, k); err != nil {
				return err
			}
			if fmt.Sprint(r.Offsets) != before {
				if err := store.PutJSON(tx, k, r); err != nil {
					return err
				}
			}
		}
		if !p.All {
			return nil
		}
		for _, k := range keys {
			c := byKey[k]
			if _, ok := all[k]; ok || c.Status == "deleting" || c.Group != "" {
				continue
			}
			if err := p.autoPublish(tx, all, k, c); err != nil {
				if !isConflict(err) {
					return err
				}
				conflicts = append(conflicts, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("converge published caches: %w", err)
	}
	return errors.Join(conflicts...)
}

// ErrNameConflict marks a cache serve --publish-all leaves out because
// another published cache claims one of its names (errors.Is).
var ErrNameConflict = errors.New("published name conflict")

func isConflict(err error) bool { return errors.Is(err, ErrNameConflict) }

// autoPublish writes the --publish-all record of cache c at key k, unless
// another record claims one of its names.
func (p *Publishing) autoPublish(tx store.Tx, all map[string]*publishRecord, k string, c Cache) error {
	names, err := p.endpointNames(c.Account, c.Region, c)
	if err != nil {
		return err
	}
	claimed, err := p.claimedNames(all, k)
	if err != nil {
		return err
	}
	for _, n := range allNames(names) {
		if o, ok := claimed[n]; ok {
			return fmt.Errorf("cache %s/%s/%s left unpublished: %w: %s is %s's", c.Account, c.Region, c.ID, ErrNameConflict, n, o)
		}
	}
	r := &publishRecord{Account: c.Account, Region: c.Region, Kind: c.kind(), ID: c.ID, CacheCreatedAt: c.CreatedAt,
		Auto: true, Offsets: map[string]int{}}
	if err := p.allocate(r, c, all, k); err != nil {
		return err
	}
	all[k] = r
	return store.PutJSON(tx, k, r)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// PublishedKey reports whether a store key holds a published cache.
func PublishedKey(key string) bool { return strings.HasPrefix(key, PublishedPrefix) }
