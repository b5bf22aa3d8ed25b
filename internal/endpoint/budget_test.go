package endpoint

import (
	"context"
	"runtime"
	"testing"
)

func (b *budget) inUse() (used int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, len(b.waiters)
}

func granted(w *waiter) bool {
	select {
	case <-w.ready:
		return true
	default:
		return false
	}
}

// The body budget grants bytes first come, first served, never more than
// its max at once (but a request larger than max alone), and forgets a
// waiter whose context ends.
func TestBudget(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100)
	if err := b.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	// 60 + 50 > 100: a second request waits; a third, small enough to fit,
	// waits behind it (first come, first served).
	w1 := &waiter{n: 50, ready: make(chan struct{})}
	w2 := &waiter{n: 10, ready: make(chan struct{})}
	b.mu.Lock()
	b.waiters = append(b.waiters, w1, w2)
	b.mu.Unlock()
	if used, waiting := b.inUse(); used != 60 || waiting != 2 {
		t.Fatalf("in use %d, waiting %d; want 60, 2", used, waiting)
	}
	b.release(60)
	if !granted(w1) || !granted(w2) {
		t.Fatalf("after release: granted %v %v, want both", granted(w1), granted(w2))
	}
	if used, waiting := b.inUse(); used != 60 || waiting != 0 {
		t.Fatalf("in use %d, waiting %d; want 60, 0", used, waiting)
	}

	// A waiter whose context ends is removed and gets nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.acquire(cctx, 90); err == nil {
		t.Fatal("acquire with an ended context succeeded while the budget is full")
	}
	if used, waiting := b.inUse(); used != 60 || waiting != 0 {
		t.Fatalf("after a cancelled wait: in use %d, waiting %d; want 60, 0", used, waiting)
	}
	b.release(60)

	// Larger than max: let through alone.
	if err := b.acquire(ctx, 500); err != nil {
		t.Fatal(err)
	}
	if err := b.acquire(cctx, 1); err == nil {
		t.Fatal("a request was let in beside an oversized one")
	}
	b.release(500)
	if used, _ := b.inUse(); used != 0 {
		t.Fatalf("all released: in use %d, want 0", used)
	}
}

// A waiter queued behind one that gives up is granted when it fits.
func TestBudgetCancelGrantsNext(t *testing.T) {
	b := newBudget(100)
	ctx := context.Background()
	b.acquire(ctx, 30)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- b.acquire(cctx, 90) }()
	for {
		if _, waiting := b.inUse(); waiting == 1 {
			break
		}
		runtime.Gosched()
	}
	next := &waiter{n: 20, ready: make(chan struct{})}
	b.mu.Lock()
	b.waiters = append(b.waiters, next)
	b.mu.Unlock()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled acquire succeeded")
	}
	if !granted(next) {
		t.Fatal("the waiter behind the cancelled one was not granted")
	}
	if used, waiting := b.inUse(); used != 50 || waiting != 0 {
		t.Fatalf("in use %d, waiting %d; want 50, 0", used, waiting)
	}
}
