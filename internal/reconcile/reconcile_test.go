package reconcile

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// fake records what it was asked to reconcile and fails its first n runs.
type fake struct {
	mu       sync.Mutex
	failures int
	runs     [][]string
	seen     map[string]bool // desired keys as last observed
	st       store.Store
}

func (f *fake) Name() string            { return "fake" }
func (f *fake) Watches(key string) bool { return strings.HasPrefix(key, "want/") }
func (f *fake) Reconcile(ctx context.Context, changed []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, changed)
	if f.failures > 0 {
		f.failures--
		return errors.New("injected failure")
	}
	f.seen = map[string]bool{}
	return f.st.View(ctx, func(tx store.Tx) error {
		return tx.Scan("want/", func(k string, _ []byte) error { f.seen[k] = true; return nil })
	})
}

func (f *fake) state() (int, map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.runs), f.seen
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func put(t *testing.T, st store.Store, key string) {
	t.Helper()
	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.Put(key, []byte("x")) }); err != nil {
		t.Fatal(err)
	}
}

func TestConvergesAtStartAndOnChange(t *testing.T) {
	st := openStore(t)
	put(t, st, "want/a")
	f := &fake{st: st, failures: 2}
	m := NewManager(st, Options{MinBackoff: time.Millisecond}, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.Start(ctx)
	t.Cleanup(func() { m.Close() })

	if err := m.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle = %v", err)
	}
	runs, seen := f.state()
	if runs != 3 || !seen["want/a"] {
		t.Fatalf("after start: runs = %d, seen = %v; want 3 runs (2 failures retried) and want/a", runs, seen)
	}

	put(t, st, "other/x") // not watched: no run
	put(t, st, "want/b")
	if err := m.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle = %v", err)
	}
	_, seen = f.state()
	if !seen["want/b"] {
		t.Errorf("after change: seen = %v, want want/b", seen)
	}
	f.mu.Lock()
	last := f.runs[len(f.runs)-1]
	f.mu.Unlock()
	if len(last) != 1 || last[0] != "want/b" {
		t.Errorf("last run changed = %v, want [want/b]", last)
	}
}

func TestPanicIsContained(t *testing.T) {
	st := openStore(t)
	m := NewManager(st, Options{MinBackoff: time.Millisecond, Logger: nil}, panicky{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	m.Start(ctx)
	defer m.Close()
	if err := m.WaitIdle(ctx); err == nil {
		t.Fatal("WaitIdle = nil for a controller that always panics, want timeout")
	}
}

type panicky struct{}

func (panicky) Name() string                              { return "panicky" }
func (panicky) Watches(string) bool                       { return true }
func (panicky) Reconcile(context.Context, []string) error { panic("boom") }

// selfWriter fails every run and writes a new failure record each time, as a
// controller recording its last error does: backoff must still hold.
type selfWriter struct {
	st   store.Store
	mu   sync.Mutex
	runs int
}

func (s *selfWriter) Name() string            { return "self-writer" }
func (s *selfWriter) Watches(key string) bool { return strings.HasPrefix(key, "want/") }
func (s *selfWriter) Reconcile(ctx context.Context, _ []string) error {
	s.mu.Lock()
	s.runs++
	n := s.runs
	s.mu.Unlock()
	s.st.Update(ctx, func(tx store.Tx) error { return tx.Put("want/error", []byte(time.Now().String()+string(rune(n)))) })
	return errors.New("always failing")
}

func TestBackoffHoldsAgainstSelfWrites(t *testing.T) {
	st := openStore(t)
	s := &selfWriter{st: st}
	m := NewManager(st, Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.Start(ctx)
	time.Sleep(400 * time.Millisecond)
	m.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	// 50, 100, 200 ms backoffs fit about 4 runs in 400 ms; a spinning
	// manager would run hundreds of times.
	if s.runs > 8 {
		t.Errorf("runs in 400 ms = %d, want a handful: backoff is bypassed by the controller's own writes", s.runs)
	}
}

// requeuer asks, on its first run, to run again at the times in asks (from
// now); every run is sent on runs.
type requeuer struct {
	asks []time.Duration
	runs chan []string
	n    int // runs so far; touched only by the manager's goroutine
}

func (q *requeuer) Name() string        { return "requeuer" }
func (q *requeuer) Watches(string) bool { return false }
func (q *requeuer) Reconcile(ctx context.Context, changed []string) error {
	q.n++
	if q.n == 1 {
		for _, d := range q.asks {
			RequeueAfter(ctx, d)
		}
	}
	q.runs <- changed
	return nil
}

// A controller that asks to be run again is run again, fully, without any
// store change; of several requests the earliest is served, and serving it
// forgets them all.
func TestRequeue(t *testing.T) {
	for _, tt := range []struct {
		name string
		asks []time.Duration
	}{
		{"one", []time.Duration{10 * time.Millisecond}},
		{"earliest wins", []time.Duration{time.Hour, 10 * time.Millisecond, 2 * time.Hour}},
		{"in the past", []time.Duration{-time.Minute}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			q := &requeuer{asks: tt.asks, runs: make(chan []string, 10)}
			m := NewManager(st, Options{Resync: -1}, q)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m.Start(ctx)
			defer m.Close()
			for i := range 2 {
				select {
				case changed := <-q.runs:
					if changed != nil {
						t.Errorf("run %d: changed = %v, want nil (a full run)", i+1, changed)
					}
				case <-ctx.Done():
					t.Fatalf("run %d never came: the requeue was not served", i+1)
				}
			}
			r := m.ctrls[0]
			r.mu.Lock()
			due := r.due
			r.mu.Unlock()
			if !due.IsZero() {
				t.Errorf("after the requeued run: due = %v, want none (a served request is forgotten with the later ones; the run asks again if it must)", due)
			}
		})
	}
}

// RequeueAt outside a Manager's Reconcile does nothing (and does not panic).
func TestRequeueOutsideManager(t *testing.T) {
	RequeueAt(context.Background(), time.Now())
}
