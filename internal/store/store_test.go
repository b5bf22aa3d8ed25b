package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func openTest(t testing.TB) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// dump returns every key and value, and the revision.
func dump(t testing.TB, s Store) (map[string]string, uint64) {
	t.Helper()
	kv := map[string]string{}
	var rev uint64
	err := s.View(context.Background(), func(tx Tx) error {
		rev = tx.Revision()
		return tx.Scan("", func(k string, v []byte) error {
			kv[k] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return kv, rev
}

func put(t testing.TB, s Store, kv ...string) {
	t.Helper()
	err := s.Update(context.Background(), func(tx Tx) error {
		for i := 0; i < len(kv); i += 2 {
			if err := tx.Put(kv[i], []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update(put %v): %v", kv, err)
	}
}

// boltTxID is the bbolt transaction id of the last commit: it counts commits.
func boltTxID(t testing.TB, s *Bolt) int {
	t.Helper()
	var id int
	if err := s.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

var errBoom = errors.New("boom")

// TestUpdateAllOrNothing: an Update whose function fails or panics leaves
// nothing: no key, no revision, no change for watchers.
func TestUpdateAllOrNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func() error // ends the function after its writes
	}{
		{"error", func() error { return errBoom }},
		{"panic", func() error { panic(errBoom) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTest(t)
			put(t, s, "a", "1", "b", "2")
			before, rev := dump(t, s)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			changes := s.Watch(ctx)

			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				err = s.Update(context.Background(), func(tx Tx) error {
					for _, op := range []error{tx.Put("a", []byte("changed")), tx.Delete("b"), tx.Put("c", []byte("new"))} {
						if op != nil {
							return op
						}
					}
					return tc.fail()
				})
			}()
			if !errors.Is(err, errBoom) && !strings.Contains(fmt.Sprint(err), "boom") {
				t.Fatalf("Update = %v, want the function's failure", err)
			}
			after, rev2 := dump(t, s)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("store changed by a failed Update (-before +after):\n%s", diff)
			}
			if rev2 != rev {
				t.Errorf("revision after a failed Update = %d, want %d", rev2, rev)
			}
			put(t, s, "marker", "x")
			if c := <-changes; c.Revision != rev+1 || !cmp.Equal(c.Keys, []string{"marker"}) {
				t.Errorf("first change after a failed Update = %+v, want the marker's at revision %d", c, rev+1)
			}
		})
	}
}

// TestUpdateAcknowledgedIsDurable: what Update acknowledged is there after
// the store is closed and opened again, revision included.
func TestUpdateAcknowledgedIsDurable(t *testing.T) {
	s, path := openTest(t)
	want := map[string]string{}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards want
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				k, v := fmt.Sprintf("w%d/k%02d", w, i), fmt.Sprintf("v%d", i)
				err := s.Update(context.Background(), func(tx Tx) error { return tx.Put(k, []byte(v)) })
				if err != nil {
					t.Errorf("Update %s: %v", k, err)
					continue
				}
				mu.Lock()
				want[k] = v
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, rev := dump(t, s2)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after reopen (-acknowledged +found):\n%s", diff)
	}
	if rev != uint64(len(want)) {
		t.Errorf("revision after reopen = %d, want %d (one per Update)", rev, len(want))
	}
}

// TestRevisions: every Update that changes something bumps the revision by
// one; one that changes nothing does not; inside an Update, Revision is the
// revision before it.
func TestRevisions(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if _, rev := dump(t, s); rev != 0 {
		t.Fatalf("new store revision = %d, want 0", rev)
	}
	for i := range 3 {
		var inside uint64
		err := s.Update(ctx, func(tx Tx) error {
			inside = tx.Revision()
			return tx.Put(fmt.Sprint("k", i), []byte("v"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, rev := dump(t, s); inside != uint64(i) || rev != uint64(i+1) {
			t.Errorf("Update %d: Revision inside = %d, after = %d; want %d, %d", i, inside, rev, i, i+1)
		}
	}
	noop := []func(Tx) error{
		func(tx Tx) error { _, err := tx.Get("k0"); return err },
		func(tx Tx) error { return tx.Delete("missing") },
		func(tx Tx) error { return tx.Scan("k", func(string, []byte) error { return nil }) },
	}
	for i, fn := range noop {
		if err := s.Update(ctx, fn); err != nil {
			t.Fatalf("no-op Update %d: %v", i, err)
		}
	}
	if _, rev := dump(t, s); rev != 3 {
		t.Errorf("revision after no-op Updates = %d, want 3", rev)
	}
	if err := s.Update(ctx, func(tx Tx) error { return tx.Delete("k0") }); err != nil {
		t.Fatal(err)
	}
	if _, rev := dump(t, s); rev != 4 {
		t.Errorf("revision after a delete = %d, want 4", rev)
	}
}

// TestWatchOrder: concurrent writers; a watcher receives every change once,
// with consecutive revisions in order, each naming what its Update wrote.
func TestWatchOrder(t *testing.T) {
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := s.Watch(ctx)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("w%d/%02d", w, i)
				if err := s.Update(ctx, func(tx Tx) error { return tx.Put(k, nil) }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for want := uint64(1); want <= writers*each; want++ {
		c := <-changes
		if c.Revision != want || c.Overflow || len(c.Keys) != 1 || seen[c.Keys[0]] {
			t.Fatalf("change %d = %+v, want revision %d with one new key", want, c, want)
		}
		seen[c.Keys[0]] = true
	}
	select {
	case c := <-changes:
		t.Errorf("extra change %+v", c)
	default:
	}
}

// TestWatch: a watcher sees only what is committed after Watch, keys
// sorted and once each, and its channel closes when its context ends or
// the store closes.
func TestWatch(t *testing.T) {
	s, _ := openTest(t)
	put(t, s, "before", "x")
	ctx, cancel := context.WithCancel(context.Background())
	changes := s.Watch(ctx)
	err := s.Update(context.Background(), func(tx Tx) error {
		for _, k := range []string{"z", "a", "z", "m"} {
			if err := tx.Put(k, []byte(k)); err != nil {
				return err
			}
		}
		return tx.Delete("before")
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := <-changes; !cmp.Equal(c, Change{Revision: 2, Keys: []string{"a", "before", "m", "z"}}) {
		t.Errorf("change = %+v, want revision 2, keys a before m z", c)
	}
	cancel()
	for c := range changes {
		t.Errorf("change after cancel: %+v", c)
	}

	open := s.Watch(context.Background())
	s.Close()
	if _, ok := <-open; ok {
		t.Error("watch channel open after Close")
	}
	if _, ok := <-s.Watch(context.Background()); ok {
		t.Error("Watch after Close returned an open channel")
	}
	if err := s.Update(context.Background(), func(tx Tx) error { return tx.Put("late", nil) }); !errors.Is(err, bolt.ErrDatabaseNotOpen) {
		t.Errorf("Update after Close = %v, want ErrDatabaseNotOpen", err)
	}
}

// TestWatchOverflow: a watcher that does not keep up never blocks writers
// and is never left unaware: the changes it missed are coalesced into an
// Overflow change at the latest revision, after those it still holds, in
// order.
func TestWatchOverflow(t *testing.T) {
	s, _ := openTest(t)
	slow := s.Watch(context.Background())
	const writers, each = 8, (watchBuffer + 100) / 8
	const n = writers * each
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("w%d/%d", w, i)
				if err := s.Update(context.Background(), func(tx Tx) error { return tx.Put(k, nil) }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var got []Change
	for len(slow) > 0 {
		got = append(got, <-slow)
	}
	if len(got) > watchBuffer {
		t.Fatalf("watcher holds %d changes, buffer is %d", len(got), watchBuffer)
	}
	last := got[len(got)-1]
	if !last.Overflow || last.Revision != n || len(last.Keys) != 0 {
		t.Errorf("last change = %+v, want Overflow at revision %d", last, n)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Revision <= got[i-1].Revision {
			t.Fatalf("change %d revision %d after %d: out of order", i, got[i].Revision, got[i-1].Revision)
		}
	}
	// A watcher that keeps up meanwhile sees each change.
	fast := s.Watch(context.Background())
	put(t, s, "after", "v")
	if c := <-fast; c.Overflow || c.Revision != n+1 {
		t.Errorf("fast watcher got %+v, want revision %d", c, n+1)
	}
}

// TestUpdateContext: an Update whose context has ended does not run.
func TestUpdateContext(t *testing.T) {
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := s.Update(ctx, func(Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Update(cancelled) = %v, ran %v; want context.Canceled, not run", err, ran)
	}
	if err := s.View(ctx, func(Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("View(cancelled) = %v, ran %v; want context.Canceled, not run", err, ran)
	}
}

// TestGroupCommit: Updates that arrive while one runs share its commit;
// each runs once, in turn, and sees those before it; one that fails in the
// middle is taken back alone (its overwrite, delete and insert undone) and
// the others commit.
func TestGroupCommit(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	put(t, s, "b", "old")
	commits := boltTxID(t, s)

	var runs [4]atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Update(ctx, func(tx Tx) error {
			runs[0].Add(1)
			close(started)
			<-release // hold the batch open until the others wait
			return tx.Put("a", []byte("1"))
		})
	}()
	<-started
	var revs [4]uint64
	fns := []func(Tx) error{
		nil, // the first, above
		func(tx Tx) error { // fails after an overwrite, a delete and an insert
			runs[1].Add(1)
			revs[1] = tx.Revision()
			_ = tx.Put("a", []byte("2"))
			_ = tx.Delete("b")
			_ = tx.Put("c", []byte("3"))
			return errBoom
		},
		func(tx Tx) error { // must not see the failed one's writes
			runs[2].Add(1)
			revs[2] = tx.Revision()
			if v, _ := tx.Get("a"); string(v) != "1" {
				return fmt.Errorf("a = %q, want 1 (the first's)", v)
			}
			if _, err := tx.Get("c"); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("c visible after its Update failed (%v)", err)
			}
			return tx.Put("d", []byte("4"))
		},
		func(tx Tx) error { // changes nothing
			runs[3].Add(1)
			revs[3] = tx.Revision()
			_, err := tx.Get("b")
			return err
		},
	}
	results := make([]chan error, len(fns))
	for i := 1; i < len(fns); i++ {
		results[i] = make(chan error, 1)
		go func() { results[i] <- s.Update(ctx, fns[i]) }()
	}
	for s.waiting.Load() < int32(len(fns)-1) {
		runtime.Gosched()
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first Update = %v", err)
	}
	for i := 1; i < len(fns); i++ {
		want := error(nil)
		if i == 1 {
			want = errBoom
		}
		if err := <-results[i]; !errors.Is(err, want) {
			t.Errorf("Update %d = %v, want %v", i, err, want)
		}
	}
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("function %d ran %d times, want once", i, n)
		}
	}
	got, rev := dump(t, s)
	if want := map[string]string{"a": "1", "b": "old", "d": "4"}; !cmp.Equal(got, want) {
		t.Errorf("store = %v, want %v", got, want)
	}
	if rev != 3 {
		t.Errorf("revision = %d, want 3 (two more changing Updates)", rev)
	}
	// The first got revision 2; the other changing one 3, whenever it ran.
	if revs[2] != 2 {
		t.Errorf("Revision inside the third = %d, want 2 (after the first, which changed a)", revs[2])
	}
	if n := boltTxID(t, s) - commits; n != 1 {
		t.Errorf("%d commits for one batch, want 1", n)
	}
}

// TestUpdateSideEffectsOnce: under concurrency with failures, each function
// runs exactly once (bbolt's Batch would run a batch's functions again
// after one fails) and exactly the successful ones are stored.
func TestUpdateSideEffectsOnce(t *testing.T) {
	s, _ := openTest(t)
	const writers, each = 16, 40
	var runs atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex // guards ok
	ok := map[string]string{}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := fmt.Sprintf("w%02d/%02d", w, i)
				fail := (w+i)%5 == 0
				err := s.Update(context.Background(), func(tx Tx) error {
					runs.Add(1)
					if err := tx.Put(k, []byte(k)); err != nil {
						return err
					}
					if fail {
						return errBoom
					}
					return nil
				})
				if fail != errors.Is(err, errBoom) || !fail && err != nil {
					t.Errorf("Update %s = %v, want failure %v", k, err, fail)
				}
				if err == nil {
					mu.Lock()
					ok[k] = k
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if n := runs.Load(); n != writers*each {
		t.Errorf("functions ran %d times for %d Updates", n, writers*each)
	}
	got, rev := dump(t, s)
	if diff := cmp.Diff(ok, got); diff != "" {
		t.Errorf("store (-acknowledged +stored):\n%s", diff)
	}
	if rev != uint64(len(ok)) {
		t.Errorf("revision = %d, want %d", rev, len(ok))
	}
}

// TestUpdateGoexit: a function that ends its goroutine (t.FailNow in a
// test) is taken back and does not wedge the store.
func TestUpdateGoexit(t *testing.T) {
	s, _ := openTest(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Update(context.Background(), func(tx Tx) error {
			_ = tx.Put("gone", nil)
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	put(t, s, "after", "v")
	if got, _ := dump(t, s); !cmp.Equal(got, map[string]string{"after": "v"}) {
		t.Errorf("store = %v, want only the later write", got)
	}
}

// TestUpdateCancelledWhileWaiting: an Update whose context ends while it
// waits its turn is not run, and the batch it would have joined commits the
// others.
func TestUpdateCancelledWhileWaiting(t *testing.T) {
	s, _ := openTest(t)
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Update(context.Background(), func(tx Tx) error {
			close(started)
			<-release
			return tx.Put("a", nil)
		})
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	var ran atomic.Bool
	go func() {
		second <- s.Update(ctx, func(tx Tx) error { ran.Store(true); return tx.Put("b", nil) })
	}()
	for s.waiting.Load() < 1 {
		runtime.Gosched()
	}
	cancel()
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first Update = %v", err)
	}
	if err := <-second; !errors.Is(err, context.Canceled) || ran.Load() {
		t.Errorf("Update cancelled while waiting = %v, ran %v; want context.Canceled, not run", err, ran.Load())
	}
	if got, _ := dump(t, s); !cmp.Equal(got, map[string]string{"a": ""}) {
		t.Errorf("store = %v, want only a", got)
	}
}
