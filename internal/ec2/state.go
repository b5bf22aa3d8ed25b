package ec2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// State handling.
//
// The store is the source of truth. Every scope (account, region) has a meta
// record at ec2/<account>/<region>/meta whose Gen is bumped by every
// transaction that changes the scope. Decoded state is cached per scope as an
// immutable snapshot tagged with its Gen; a transaction reads the meta record
// and uses the cached snapshot only when the generations agree, otherwise it
// rescans the scope's keys. Writes clone what they change (copy-on-write), so
// a failed transaction leaves both the store and the cache untouched, and a
// committed one publishes its new snapshot to the cache.
//
// The scope index ec2/_scopes/<account>/<region> lists the scopes that exist
// (for Topology); the Elastic IP index ec2/_eip/<ip> keeps public addresses
// unique across the installation.

// scope is an account and region.
type scope struct{ Account, Region string }

func (sc scope) prefix() string  { return "ec2/" + sc.Account + "/" + sc.Region + "/" }
func (sc scope) metaKey() string { return sc.prefix() + "meta" }
func (sc scope) key(id string) string {
	return sc.prefix() + kindOf(id) + "/" + id
}

const scopeIndexPrefix = "ec2/_scopes/"

type scopeMeta struct {
	Gen uint64 `json:"gen"`
	// Version is drawn at random by each write of the scope (flush): a
	// snapshot matches the stored state only when both Gen and Version do.
	// Gen alone is not enough, because writes offer their snapshot before
	// their group commit is on disk (update), and a commit that fails
	// leaves a snapshot of a Gen that another write will reuse. 0 in
	// stores written before it.
	Version      uint64 `json:"version,omitempty"`
	Initialized  bool   `json:"initialized"`
	Classic      bool   `json:"classic,omitempty"`
	DefaultVpcID string `json:"defaultVpcId,omitempty"`
	// DefaultDoptID is the DHCP options set created with the scope
	// (dhcp.go); "" in scopes created before DHCP options sets.
	DefaultDoptID string `json:"defaultDoptId,omitempty"`
}

// snapshot is the decoded state of one scope at one generation. objs is never
// modified after publication.
type snapshot struct {
	sc   scope
	meta scopeMeta
	objs objects

	mu    sync.Mutex          // guards lists
	lists map[string][]record // kind -> records sorted by id, built on demand

	// memo maps a record pointer to its converted API shape. Valid for the
	// snapshot's lifetime because records and their dependencies are frozen.
	memo sync.Map
}

func (sn *snapshot) list(kind string) []record {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if l, ok := sn.lists[kind]; ok {
		return l
	}
	l := sortedKind(sn.objs, kind)
	if sn.lists == nil {
		sn.lists = map[string][]record{}
	}
	sn.lists[kind] = l
	return l
}

// objects holds records by kind, then id.
type objects map[string]map[string]record

func (o objects) get(id string) record { return o[kindOf(id)][id] }

type indexKey string

// index returns the filter index named key, building it once per snapshot.
func (sn *snapshot) index(key string, build func() map[string][]int32) map[string][]int32 {
	if v, ok := sn.memo.Load(indexKey(key)); ok {
		return v.(map[string][]int32)
	}
	m := build()
	sn.memo.Store(indexKey(key), m)
	return m
}

func sortedKind(objs objects, kind string) []record {
	l := make([]record, 0, len(objs[kind]))
	for _, r := range objs[kind] {
		l = append(l, r)
	}
	slices.SortFunc(l, func(a, b record) int { return strings.Compare(a.id(), b.id()) })
	return l
}

// cache holds snapshots of each scope, in two lists, newest first:
//
//   - recent: those the last writes left, some of them of writes whose
//     group commit is not on disk yet (offered by update, so that the next
//     write of the same batch, which already sees their changes, does not
//     decode the whole scope again under the store's write lock);
//   - matched: those transactions found matching the stored state, which
//     is only ever the state a whole batch left. Readers need these: a
//     read transaction may begin before a batch commits and read well
//     after, while the batch's writes push everything out of recent, so
//     the states of the last few batches are kept apart.
//
// A transaction uses the snapshot matching the Gen and Version it reads
// (lookup). Snapshots share every record and every kind a write did not
// change: each costs about one copy of the id map of the kind it changed.
type cache struct {
	mu      sync.Mutex // guards recent and matched
	recent  map[scope][]*snapshot
	matched map[scope][]*snapshot
}

// Snapshots kept per scope in each list.
const (
	recentPerScope  = 8
	matchedPerScope = 8
)

func newCache() cache {
	return cache{recent: map[scope][]*snapshot{}, matched: map[scope][]*snapshot{}}
}

// latest returns the newest snapshot of sc, committed or not: for the
// scope's settings (Initialized, Classic), never for its contents.
func (c *cache) latest(sc scope) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.recent[sc]; len(l) > 0 {
		return l[0]
	}
	if l := c.matched[sc]; len(l) > 0 {
		return l[0]
	}
	return nil
}

func find(l []*snapshot, m scopeMeta) *snapshot {
	for _, sn := range l {
		if sn.meta.Gen == m.Gen && sn.meta.Version == m.Version {
			return sn
		}
	}
	return nil
}

// insert adds sn to l (newest first, at most max), unless it holds it.
func insert(l []*snapshot, sn *snapshot, max int) []*snapshot {
	if find(l, sn.meta) != nil {
		return l
	}
	i := 0
	for i < len(l) && l[i].meta.Gen >= sn.meta.Gen {
		i++
	}
	if i >= max {
		return l // older than every kept one
	}
	l = slices.Insert(l, i, sn)
	if len(l) > max {
		l = l[:max]
	}
	return l
}

// lookup returns the snapshot of sc at exactly m's Gen and Version. A
// read transaction's (committed) one moves to matched.
func (c *cache) lookup(sc scope, m scopeMeta, read bool) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sn := find(c.matched[sc], m); sn != nil {
		return sn
	}
	sn := find(c.recent[sc], m)
	if sn != nil && read {
		c.matched[sc] = insert(c.matched[sc], sn, matchedPerScope)
	}
	return sn
}

// loaded records a snapshot a read transaction read from the store.
func (c *cache) loaded(sn *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.matched[sn.sc] = insert(c.matched[sn.sc], sn, matchedPerScope)
}

// offer records the snapshot a write leaves (its commit may still fail).
func (c *cache) offer(sn *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent[sn.sc] = insert(c.recent[sn.sc], sn, recentPerScope)
}

// errNeedInit makes a read retry after an Update initialised the scope.
var errNeedInit = errors.New("ec2: scope not initialised")

// txn is one store transaction over any number of scopes.
type txn struct {
	s      *Service
	tx     store.Tx
	write  bool
	now    time.Time
	scopes map[scope]*scopeTx
	// extra puts/deletes outside scopes (indexes), applied at flush.
	extra map[string][]byte
}

// scopeTx is a scope's state inside a transaction.
type scopeTx struct {
	t     *txn
	sc    scope
	base  *snapshot
	objs  objects // base.objs until the first write, then a private copy
	owned bool
	// ownedKinds are the kinds whose id map is already a private copy.
	ownedKinds map[string]bool
	dirty      map[string]struct{}
	meta       scopeMeta
	mdirt      bool
	lists      map[string][]record // private sorted lists once owned
	// used IPs per subnet, computed on demand within this transaction.
	used map[string]map[string]bool
}

func (t *txn) scope(sc scope) (*scopeTx, error) {
	if st, ok := t.scopes[sc]; ok {
		return st, nil
	}
	var m scopeMeta
	if err := store.GetJSON(t.tx, sc.metaKey(), &m); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("read ec2 scope meta: %w", err)
	}
	sn := t.s.cache.lookup(sc, m, !t.write)
	if sn == nil || m.Gen == 0 {
		var err error
		sn, err = loadSnapshot(t.tx, sc, m)
		if err != nil {
			return nil, err
		}
		t.s.decoded.Add(1)
		switch {
		case m.Gen == 0:
		case t.write:
			// The state of a batch that may not commit: for the writes
			// after this one in it.
			t.s.cache.offer(sn)
		default:
			t.s.cache.loaded(sn)
		}
	}
	st := &scopeTx{t: t, sc: sc, base: sn, objs: sn.objs, meta: sn.meta}
	t.scopes[sc] = st
	return st, nil
}

func loadSnapshot(tx store.Tx, sc scope, m scopeMeta) (*snapshot, error) {
	sn := &snapshot{sc: sc, meta: m, objs: objects{}}
	pfx := sc.prefix()
	err := tx.Scan(pfx, func(key string, b []byte) error {
		rest := key[len(pfx):]
		kind, id, ok := strings.Cut(rest, "/")
		if !ok {
			return nil // meta
		}
		r := newRecord(kind)
		if r == nil {
			return nil
		}
		if err := json.Unmarshal(b, r); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		if sn.objs[kind] == nil {
			sn.objs[kind] = map[string]record{}
		}
		sn.objs[kind][id] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load ec2 scope %s/%s: %w", sc.Account, sc.Region, err)
	}
	return sn, nil
}

func (st *scopeTx) get(id string) record { return st.objs.get(id) }

// list returns the scope's records of kind, sorted by id. The slice must not
// be modified.
func (st *scopeTx) list(kind string) []record {
	if !st.owned {
		return st.base.list(kind)
	}
	if l, ok := st.lists[kind]; ok {
		return l
	}
	l := sortedKind(st.objs, kind)
	st.lists[kind] = l
	return l
}

func (st *scopeTx) own() {
	if st.owned {
		return
	}
	if !st.t.write {
		panic("ec2: write in a read transaction") // programming error, caught by tests
	}
	st.objs = make(objects, len(kinds))
	for k, v := range st.base.objs {
		st.objs[k] = v
	}
	st.ownedKinds = map[string]bool{}
	st.owned = true
	st.dirty = map[string]struct{}{}
	st.lists = map[string][]record{}
}

// ownKind makes the id map of kind private and returns it.
func (st *scopeTx) ownKind(kind string) map[string]record {
	st.own()
	if !st.ownedKinds[kind] {
		m := make(map[string]record, len(st.objs[kind])+1)
		for k, v := range st.objs[kind] {
			m[k] = v
		}
		st.objs[kind] = m
		st.ownedKinds[kind] = true
	}
	return st.objs[kind]
}

// put stores r, which must be a new record or one obtained from mut.
func (st *scopeTx) put(r record) {
	st.ownKind(kindOf(r.id()))[r.id()] = r
	st.dirty[r.id()] = struct{}{}
	delete(st.lists, kindOf(r.id()))
}

func (st *scopeTx) del(id string) {
	delete(st.ownKind(kindOf(id)), id)
	st.dirty[id] = struct{}{}
	delete(st.lists, kindOf(id))
}

// mut returns a private clone of the record with id, already put, or nil.
func mut[T record](st *scopeTx, id string) T {
	var zero T
	r, ok := st.objs.get(id).(T)
	if !ok {
		return zero
	}
	if st.owned {
		if _, ok := st.dirty[id]; ok {
			return r // already private
		}
	}
	c := cloneRec(r)
	st.put(c)
	return c
}

func cloneRec[T record](r T) T {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("ec2: clone %s: %v", r.id(), err)) // records always marshal
	}
	c := newRecord(kindOf(r.id())).(T)
	if err := json.Unmarshal(b, c); err != nil {
		panic(fmt.Sprintf("ec2: clone %s: %v", r.id(), err))
	}
	return c
}

// getT returns the record with id as a T.
func getT[T record](st *scopeTx, id string) (T, bool) {
	r, ok := st.objs.get(id).(T)
	return r, ok
}

// listT returns the records of kind as Ts, sorted by id.
func listT[T record](st *scopeTx, kind string) []T {
	l := st.list(kind)
	out := make([]T, 0, len(l))
	for _, r := range l {
		out = append(out, r.(T))
	}
	return out
}

func (st *scopeTx) setMeta(m scopeMeta) {
	st.own()
	st.meta = m
	st.mdirt = true
}

// flush writes every changed record and bumps the generations.
func (t *txn) flush() error {
	for _, st := range t.scopes {
		if !st.owned || (len(st.dirty) == 0 && !st.mdirt) {
			continue
		}
		for id := range st.dirty {
			key := st.sc.key(id)
			if r := st.objs.get(id); r != nil {
				if err := store.PutJSON(t.tx, key, r); err != nil {
					return err
				}
			} else if err := t.tx.Delete(key); err != nil {
				return fmt.Errorf("delete %s: %w", key, err)
			}
		}
		if st.base.meta.Gen == 0 {
			if err := t.tx.Put(scopeIndexPrefix+st.sc.Account+"/"+st.sc.Region, []byte("{}")); err != nil {
				return fmt.Errorf("index ec2 scope: %w", err)
			}
		}
		st.meta.Gen = st.base.meta.Gen + 1
		st.meta.Version = rand.Uint64() | 1
		if err := store.PutJSON(t.tx, st.sc.metaKey(), st.meta); err != nil {
			return err
		}
	}
	for k, v := range t.extra {
		if v == nil {
			if err := t.tx.Delete(k); err != nil {
				return fmt.Errorf("delete %s: %w", k, err)
			}
		} else if err := t.tx.Put(k, v); err != nil {
			return fmt.Errorf("put %s: %w", k, err)
		}
	}
	return nil
}

// publish offers the snapshots written to the cache.
func (t *txn) publish() {
	for _, st := range t.scopes {
		if !st.owned || (len(st.dirty) == 0 && !st.mdirt) {
			continue
		}
		sn := &snapshot{sc: st.sc, meta: st.meta, objs: st.objs, lists: map[string][]record{}}
		// Sorted lists of kinds this transaction did not touch carry over.
		st.base.mu.Lock()
		for k, l := range st.base.lists {
			if !st.ownedKinds[k] {
				sn.lists[k] = l
			}
		}
		st.base.mu.Unlock()
		for k, l := range st.lists { // still valid: put and del drop a kind's list
			sn.lists[k] = l
		}
		t.s.cache.offer(sn)
	}
}

// update runs fn in one store transaction for the caller's scope sc (created
// with its defaults on first use) and publishes the result.
func (s *Service) update(ctx context.Context, sc scope, fn func(t *txn, st *scopeTx) error) error {
	if err := validScope(sc); err != nil {
		return err
	}
	classic, err := s.classicIfNeeded(ctx, sc)
	if err != nil {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		t := &txn{s: s, tx: tx, write: true, now: s.now(), scopes: map[scope]*scopeTx{}, extra: map[string][]byte{}}
		st, err := t.scope(sc)
		if err != nil {
			return err
		}
		if !st.meta.Initialized {
			if err := t.initScope(st, classic); err != nil {
				return err
			}
		} else if st.meta.DefaultDoptID == "" {
			createDefaultDopt(st) // a scope created before DHCP options sets (dhcp.go)
		}
		if fn != nil {
			if err := fn(t, st); err != nil {
				return err
			}
		}
		if err := t.flush(); err != nil {
			return err
		}
		// Offered before the commit, for the writes after this one in the
		// same group commit (see cache).
		t.publish()
		return nil
	})
}

// view runs fn in a read transaction on the caller's scope sc, creating the
// scope's defaults first if it was never used.
func (s *Service) view(ctx context.Context, sc scope, fn func(t *txn, st *scopeTx) error) error {
	if err := validScope(sc); err != nil {
		return err
	}
	for range 2 {
		err := s.st.View(ctx, func(tx store.Tx) error {
			t := &txn{s: s, tx: tx, now: s.now(), scopes: map[scope]*scopeTx{}}
			st, err := t.scope(sc)
			if err != nil {
				return err
			}
			if !st.meta.Initialized {
				return errNeedInit
			}
			return fn(t, st)
		})
		if !errors.Is(err, errNeedInit) {
			return err
		}
		if err := s.update(ctx, sc, nil); err != nil {
			return err
		}
	}
	return fmt.Errorf("ec2: scope %s/%s not initialised after update", sc.Account, sc.Region)
}

// classicIfNeeded asks the Accounts setting when the scope may need creating.
// It runs before the transaction: Accounts may read the store itself.
func (s *Service) classicIfNeeded(ctx context.Context, sc scope) (bool, error) {
	if sn := s.cache.latest(sc); sn != nil && sn.meta.Initialized {
		return sn.meta.Classic, nil
	}
	return s.classic(ctx, sc.Account)
}

func (s *Service) classic(ctx context.Context, account string) (bool, error) {
	if s.cfg.Accounts == nil {
		return false, nil
	}
	c, err := s.cfg.Accounts.EC2Classic(ctx, account)
	if err != nil {
		return false, fmt.Errorf("ec2-classic setting of %s: %w", account, err)
	}
	return c, nil
}
