// Package store owns Cachalot's persistent state: one transactional, ordered
// key-value space holding every resource's desired state and observed status.
//
// Keys are slash-separated paths, by convention
// "<service>/<account>/<region>/<kind>/<id>" (see Key). Values are opaque bytes;
// JSON helpers are provided. Every committed Update bumps a global revision and
// notifies watchers of the keys it changed, which is how reconcilers learn that
// there is work to do.
//
// Updates are serialisable and all or nothing, each with its own revision;
// the bbolt implementation lets concurrent Updates share one commit (group
// commit, see batch.go) without running any function twice, and returns
// from Update only once its commit is on disk.
//
// The interface is deliberately narrow (get, put, delete, prefix scan, watch)
// so that a distributed KV such as etcd could implement it later. The bbolt
// implementation lives in bolt.go. Any package may import store; store imports
// nothing of Cachalot's.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned by Get for a key that does not exist.
var ErrNotFound = errors.New("store: key not found")

// Store is a transactional key-value store with change notification.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed when fn returns nil
	// and rolled back otherwise. When it returns nil the change is durable.
	Update(ctx context.Context, fn func(Tx) error) error
	// Watch delivers the changes committed after it was called until ctx ends.
	// Slow watchers never block writers: a watcher that falls behind receives
	// a Change with Overflow set and should rescan.
	Watch(ctx context.Context) <-chan Change
	// Close releases the store. Safe to call more than once.
	Close() error
}

// Tx is one transaction. It must not be used after its function returns.
type Tx interface {
	// Get returns the value at key or ErrNotFound.
	Get(key string) ([]byte, error)
	// Put sets key to value.
	Put(key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key string) error
	// Scan calls fn for each key with the prefix, in key order, until fn
	// returns an error (returned as is, except ErrStop which ends the scan
	// and makes Scan return nil).
	Scan(prefix string, fn func(key string, value []byte) error) error
	// Revision is the store's revision as of the start of the transaction.
	Revision() uint64
}

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("store: stop scan")

// Change is one committed transaction's effect.
type Change struct {
	Revision uint64
	Keys     []string // keys put or deleted, sorted, without duplicates
	// Overflow is set when changes were dropped because the watcher was slow;
	// Keys is then empty and the watcher should treat everything as changed.
	Overflow bool
}

// Key joins path parts with "/". Parts must not contain "/".
func Key(parts ...string) string { return strings.Join(parts, "/") }

// GetJSON decodes the value at key into v.
func GetJSON(tx Tx, key string, v any) error {
	b, err := tx.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// PutJSON encodes v and puts it at key.
func PutJSON(tx Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return tx.Put(key, b)
}

// ScanJSON decodes every value under prefix into a new T and calls fn.
func ScanJSON[T any](tx Tx, prefix string, fn func(key string, v *T) error) error {
	return tx.Scan(prefix, func(key string, b []byte) error {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		return fn(key, v)
	})
}

// ListJSON returns every value under prefix decoded as T, in key order.
func ListJSON[T any](tx Tx, prefix string) ([]*T, error) {
	var out []*T
	err := ScanJSON(tx, prefix, func(_ string, v *T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}
