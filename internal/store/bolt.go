package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketKV   = []byte("kv")
	bucketMeta = []byte("meta")
	keyRev     = []byte("revision")
	keySchema  = []byte("schema")
)

// watchBuffer is how many changes a watcher may lag before it overflows.
const watchBuffer = 1024

// Bolt is the bbolt implementation of Store. Concurrent Updates share
// commits (group commit, see batch.go): each still runs alone, in order,
// all or nothing, and returns only once its commit is on disk.
type Bolt struct {
	db *bolt.DB

	// wmu is held by the writer running its function in the open batch,
	// and by the one committing it. Lock order: wmu before mu.
	wmu sync.Mutex
	// waiting counts writers blocked on (or about to block on) wmu: while
	// one is, the holder leaves the batch open for it instead of
	// committing.
	waiting atomic.Int32
	cur     *batch // the open batch, or nil (guarded by wmu)
	lastN   int    // functions in the last batch finished (guarded by wmu)
	wclosed bool   // Close has run: no more writes (guarded by wmu)

	mu       sync.Mutex // guards watchers and closed
	watchers map[chan Change]struct{}
	closed   bool
}

// OpenBolt opens (creating if needed) the store at path and brings its schema
// up to date (see migrations in schema.go). A store that is damaged (torn
// down to fewer bytes than its last commit needs, or failing bbolt's
// consistency check) is refused with an error, never opened as if empty.
func OpenBolt(path string) (*Bolt, error) {
	return openBolt(path, migrations)
}

// openBolt is OpenBolt with the migrations given; the schema version is
// len(migs).
func openBolt(path string, migs []func(Tx) error) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Bolt{db: db, watchers: map[chan Change]struct{}{}}
	if err := s.migrate(migs); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkFile refuses an existing store file that bbolt would crash on or
// misread. It opens it read-only first (which reads nothing but the meta
// pages), checks that the file holds every page its last valid commit
// refers to, and runs bbolt's consistency check. A commit whose meta page
// was torn is not refused: bbolt falls back to the previous commit, and the
// torn one was never acknowledged (Update returns after the meta page is
// synced).
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
		return nil // new: bbolt initialises it
	}
	if err != nil {
		return fmt.Errorf("stat store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if need := tx.Size(); fi.Size() < need {
			return fmt.Errorf("store %s is damaged: %d bytes, its last commit needs %d", path, fi.Size(), need)
		}
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("store %s is damaged: %w", path, errors.Join(errs...))
		}
		return nil
	})
}

func (s *Bolt) migrate(migs []func(Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error {
		if _, err := btx.CreateBucketIfNotExists(bucketKV); err != nil {
			return fmt.Errorf("create kv bucket: %w", err)
		}
		meta, err := btx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		var version int
		if b := meta.Get(keySchema); b != nil {
			version = int(binary.BigEndian.Uint64(b))
		}
		if version > len(migs) {
			return fmt.Errorf("store schema %d is newer than this binary's %d", version, len(migs))
		}
		tx := &boltTx{btx: btx, writable: true, rev: readRevision(btx)}
		for v := version; v < len(migs); v++ {
			if err := migs[v](tx); err != nil {
				return fmt.Errorf("migrate store schema %d to %d: %w", v, v+1, err)
			}
		}
		return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, uint64(len(migs))))
	})
}

// View implements Store.
func (s *Bolt) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(btx *bolt.Tx) error { return fn(&boltTx{btx: btx}) })
}

func (s *Bolt) publish(c Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.watchers {
		select {
		case ch <- c:
		default:
			// The watcher is behind: drop this change and make sure it learns
			// it must rescan, by replacing the oldest queued change.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- Change{Revision: c.Revision, Overflow: true}:
			default:
			}
		}
	}
}

// Watch implements Store.
func (s *Bolt) Watch(ctx context.Context) <-chan Change {
	ch := make(chan Change, watchBuffer)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(ch)
		return ch
	}
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.watchers[ch]; ok {
			delete(s.watchers, ch)
			close(ch)
		}
	}()
	return ch
}

// Close implements Store. It commits the batch in progress, if any, first.
func (s *Bolt) Close() error {
	s.waiting.Add(1)
	s.wmu.Lock()
	s.waiting.Add(-1)
	if b := s.cur; b != nil {
		s.cur = nil
		s.finish(b)
	}
	s.wclosed = true
	s.wmu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ch := range s.watchers {
		delete(s.watchers, ch)
		close(ch)
	}
	s.mu.Unlock()
	return s.db.Close()
}

// boltTx is a Tx. A writable one runs in a batch: it records the value
// each key had before its first change (undo), so that its function's
// writes can be taken back alone.
type boltTx struct {
	btx      *bolt.Tx
	writable bool
	changed  map[string]struct{}
	undo     map[string][]byte // key -> value before this tx; nil if absent
	rev      uint64            // revision at the start (writable only)
}

func (t *boltTx) Get(key string) ([]byte, error) {
	v := t.btx.Bucket(bucketKV).Get([]byte(key))
	if v == nil {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (t *boltTx) Put(key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("store: empty key")
	}
	_, had := t.undo[key]
	t.remember(key)
	// bbolt keeps value until the commit, which may be after fn returns:
	// keep our own copy.
	if err := t.btx.Bucket(bucketKV).Put([]byte(key), bytes.Clone(value)); err != nil {
		if !had {
			delete(t.undo, key) // nothing changed
		}
		return fmt.Errorf("put %s: %w", key, err)
	}
	t.mark(key)
	return nil
}

func (t *boltTx) Delete(key string) error {
	b := t.btx.Bucket(bucketKV)
	if b.Get([]byte(key)) == nil {
		return nil
	}
	t.remember(key)
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	t.mark(key)
	return nil
}

// remember records key's value before its first change in this tx.
func (t *boltTx) remember(key string) {
	if t.undo == nil {
		return // not in a batch (migrations run in their own bbolt tx)
	}
	if _, ok := t.undo[key]; ok {
		return
	}
	t.undo[key] = bytes.Clone(t.btx.Bucket(bucketKV).Get([]byte(key)))
}

// rollback restores every key this tx changed to its value before.
func (t *boltTx) rollback() error {
	b := t.btx.Bucket(bucketKV)
	for k, v := range t.undo {
		var err error
		if v == nil {
			err = b.Delete([]byte(k))
		} else {
			err = b.Put([]byte(k), v)
		}
		if err != nil {
			return fmt.Errorf("undo %s: %w", k, err)
		}
	}
	return nil
}

func (t *boltTx) mark(key string) {
	if t.changed == nil {
		t.changed = map[string]struct{}{}
	}
	t.changed[key] = struct{}{}
}

func (t *boltTx) Scan(prefix string, fn func(key string, value []byte) error) error {
	c := t.btx.Bucket(bucketKV).Cursor()
	p := []byte(prefix)
	// Collect first when writable, so fn may modify the bucket while scanning.
	type kv struct{ k, v []byte }
	var pending []kv
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if t.writable {
			pending = append(pending, kv{bytes.Clone(k), bytes.Clone(v)})
			continue
		}
		if err := fn(string(k), v); err != nil {
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	for _, e := range pending {
		if err := fn(string(e.k), e.v); err != nil {
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	return nil
}

func (t *boltTx) Revision() uint64 {
	if t.writable {
		return t.rev
	}
	return readRevision(t.btx)
}

func readRevision(btx *bolt.Tx) uint64 {
	b := btx.Bucket(bucketMeta).Get(keyRev)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
