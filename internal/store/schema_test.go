package store

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// schemaOf reads the schema version stored in the file at path.
func schemaOf(t *testing.T, path string) uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v uint64
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(keySchema); b != nil {
			v = binary.BigEndian.Uint64(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaVersionDeclared(t *testing.T) {
	if SchemaVersion != len(migrations) {
		t.Errorf("SchemaVersion = %d, but there are %d migrations", SchemaVersion, len(migrations))
	}
	s, path := openTest(t)
	s.Close()
	if v := schemaOf(t, path); v != SchemaVersion {
		t.Errorf("new store schema = %d, want %d", v, SchemaVersion)
	}
}

// TestMigrations: a store is brought from its schema to the binary's by
// running each missing migration once, in order, in one transaction with
// the open; a failing migration leaves the store as it was; a store newer
// than the binary is refused and left alone.
func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	var ran []string
	noop := func(Tx) error { ran = append(ran, "0->1"); return nil }
	rename := func(tx Tx) error { // 1 -> 2: "old/…" becomes "new/…"
		ran = append(ran, "1->2")
		return tx.Scan("old/", func(k string, v []byte) error {
			if err := tx.Delete(k); err != nil {
				return err
			}
			return tx.Put("new/"+strings.TrimPrefix(k, "old/"), v)
		})
	}
	upper := func(tx Tx) error { // 2 -> 3: values upper-cased, then fails
		ran = append(ran, "2->3")
		_ = tx.Scan("new/", func(k string, v []byte) error { return tx.Put(k, []byte(strings.ToUpper(string(v)))) })
		return errBoom
	}

	s, err := openBolt(path, []func(Tx) error{noop})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "old/a", "x", "old/b", "y", "other", "z")
	s.Close()

	s, err = openBolt(path, []func(Tx) error{noop, rename})
	if err != nil {
		t.Fatalf("open with a new migration: %v", err)
	}
	got, rev := dump(t, s)
	if want := map[string]string{"new/a": "x", "new/b": "y", "other": "z"}; !cmp.Equal(got, want) {
		t.Errorf("after migration 1->2: %v, want %v", got, want)
	}
	if rev != 1 {
		t.Errorf("revision after migration = %d, want 1 (migrations are not Updates)", rev)
	}
	if err := s.Update(ctx, func(tx Tx) error { return tx.Put("later", nil) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if v := schemaOf(t, path); v != 2 {
		t.Errorf("schema after migration = %d, want 2", v)
	}

	s, err = openBolt(path, []func(Tx) error{noop, rename})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if want := []string{"0->1", "1->2"}; !cmp.Equal(ran, want) {
		t.Errorf("migrations ran %v, want %v (each once)", ran, want)
	}

	before := dumpAt(t, path, 2)
	_, err = openBolt(path, []func(Tx) error{noop, rename, upper})
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "migrate store schema 2 to 3") {
		t.Errorf("open with a failing migration = %v, want its error", err)
	}
	if v := schemaOf(t, path); v != 2 {
		t.Errorf("schema after a failed migration = %d, want 2", v)
	}
	if after := dumpAt(t, path, 2); !cmp.Equal(before, after) {
		t.Errorf("failed migration changed the store: %v, want %v", after, before)
	}

	_, err = openBolt(path, []func(Tx) error{noop})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("open by an older binary = %v, want a refusal", err)
	}
	if v := schemaOf(t, path); v != 2 {
		t.Errorf("schema after an older binary's open = %d, want 2", v)
	}
}

// dumpAt opens path with n migrations that must not run (the store's
// schema is n) and returns its contents.
func dumpAt(t *testing.T, path string, n int) map[string]string {
	t.Helper()
	migs := make([]func(Tx) error, n)
	for i := range migs {
		migs[i] = func(Tx) error { return errors.New("no migration expected") }
	}
	s, err := openBolt(path, migs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kv, _ := dump(t, s)
	return kv
}
