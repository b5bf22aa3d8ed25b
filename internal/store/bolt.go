package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
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

// Bolt is the bbolt implementation of Store.
type Bolt struct {
	db *bolt.DB

	mu       sync.Mutex // guards watchers and closed
	watchers map[chan Change]struct{}
	closed   bool
}

// OpenBolt opens (creating if needed) the store at path and brings its schema
// up to date (see migrations in schema.go).
func OpenBolt(path string) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Bolt{db: db, watchers: map[chan Change]struct{}{}}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Bolt) migrate() error {
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
		if version > SchemaVersion {
			return fmt.Errorf("store schema %d is newer than this binary's %d", version, SchemaVersion)
		}
		tx := &boltTx{btx: btx}
		for v := version; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate store schema %d to %d: %w", v, v+1, err)
			}
		}
		return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, uint64(SchemaVersion)))
	})
}

// View implements Store.
func (s *Bolt) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(btx *bolt.Tx) error { return fn(&boltTx{btx: btx}) })
}

// Update implements Store.
func (s *Bolt) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var tx *boltTx
	err := s.db.Update(func(btx *bolt.Tx) error {
		tx = &boltTx{btx: btx, writable: true}
		if err := fn(tx); err != nil {
			return err
		}
		if len(tx.changed) == 0 {
			return nil
		}
		tx.rev = tx.Revision() + 1
		return btx.Bucket(bucketMeta).Put(keyRev, binary.BigEndian.AppendUint64(nil, tx.rev))
	})
	if err != nil || len(tx.changed) == 0 {
		return err
	}
	keys := make([]string, 0, len(tx.changed))
	for k := range tx.changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.publish(Change{Revision: tx.rev, Keys: keys})
	return nil
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

// Close implements Store.
func (s *Bolt) Close() error {
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

type boltTx struct {
	btx      *bolt.Tx
	writable bool
	changed  map[string]struct{}
	rev      uint64
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
	if err := t.btx.Bucket(bucketKV).Put([]byte(key), value); err != nil {
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
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	t.mark(key)
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
	if t.rev != 0 {
		return t.rev
	}
	b := t.btx.Bucket(bucketMeta).Get(keyRev)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
