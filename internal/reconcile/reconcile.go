// Package reconcile runs controllers that converge the machine (namespaces,
// nftables rules, engine processes) to the desired state in the store.
//
// A controller is level-triggered: Reconcile looks at the whole desired state
// (the changed keys are only a hint), compares it with what it observes, acts
// idempotently and writes status back to the store. The Manager runs every
// controller once over everything at Start — which is how a restart, even
// after kill -9, converges — and again whenever a key it watches changes,
// coalescing bursts, retrying failures with exponential backoff, and
// resyncing periodically. A controller can also ask, from inside Reconcile,
// to be run again at a time of its choosing (RequeueAt: snapshot windows,
// maintenance windows, health checks), not only on store changes. Imported
// by the wiring package and by controllers.
package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// Controller converges one concern of the machine to the store.
type Controller interface {
	// Name identifies the controller in logs.
	Name() string
	// Watches reports whether a change of key concerns the controller.
	Watches(key string) bool
	// Reconcile converges. changed lists the keys changed since the last
	// successful run, or is nil when everything must be looked at.
	Reconcile(ctx context.Context, changed []string) error
}

// Options tune the Manager. Zero values take the defaults.
type Options struct {
	MinBackoff time.Duration // first retry delay; default 50ms
	MaxBackoff time.Duration // default 5s
	Resync     time.Duration // periodic full reconcile; default 5m, negative disables
	Logger     *slog.Logger  // default slog.Default()
	// Observe, if set, is told of every reconcile run: the controller, how
	// long it took and its error (metrics). Default: nil.
	Observe func(controller string, took time.Duration, err error)
}

// Manager runs controllers.
type Manager struct {
	st    store.Store
	opts  Options
	ctrls []*runner

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewManager returns a manager for the controllers; it has no side effects.
func NewManager(st store.Store, opts Options, ctrls ...Controller) *Manager {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 50 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.Resync == 0 {
		opts.Resync = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Manager{st: st, opts: opts}
	for _, c := range ctrls {
		m.ctrls = append(m.ctrls, &runner{c: c, opts: opts, wake: make(chan struct{}, 1), all: true})
	}
	return m
}

// Start subscribes to store changes and starts every controller with a full
// reconcile. The controllers stop when ctx ends or Close is called.
func (m *Manager) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	changes := m.st.Watch(ctx)
	var rev uint64
	m.st.View(ctx, func(tx store.Tx) error { rev = tx.Revision(); return nil })
	for _, r := range m.ctrls {
		r.setTarget(rev)
		r.signal()
		m.wg.Add(1)
		go func() { defer m.wg.Done(); r.run(ctx) }()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for ch := range changes {
			for _, r := range m.ctrls {
				r.offer(ch)
			}
		}
	}()
}

// Trigger schedules a full reconcile of every controller.
func (m *Manager) Trigger() {
	for _, r := range m.ctrls {
		r.mu.Lock()
		r.all = true
		r.mu.Unlock()
		r.signal()
	}
}

// Wake schedules a full reconcile of the controller named name (its
// Name()), now: how something outside the store (an engine that died)
// reaches the controller that must act on it. Unknown names do nothing.
func (m *Manager) Wake(name string) {
	for _, r := range m.ctrls {
		if r.c.Name() == name {
			r.mu.Lock()
			r.all = true
			r.mu.Unlock()
			r.signal()
		}
	}
}

// WaitIdle blocks until every controller has successfully reconciled the
// store as of now (or ctx ends). Tests use it instead of sleeping.
func (m *Manager) WaitIdle(ctx context.Context) error {
	var rev uint64
	if err := m.st.View(ctx, func(tx store.Tx) error { rev = tx.Revision(); return nil }); err != nil {
		return err
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		idle := true
		for _, r := range m.ctrls {
			if !r.doneAt(rev) {
				idle = false
			}
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Idle reports, without waiting, whether every controller has
// successfully reconciled the store as of now (what /ready asks).
func (m *Manager) Idle(ctx context.Context) (bool, error) {
	var rev uint64
	if err := m.st.View(ctx, func(tx store.Tx) error { rev = tx.Revision(); return nil }); err != nil {
		return false, err
	}
	for _, r := range m.ctrls {
		if !r.doneAt(rev) {
			return false, nil
		}
	}
	return true, nil
}

// Close stops the controllers and waits for them. Safe after a partial start.
func (m *Manager) Close() error {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	return nil
}

// runner drives one controller.
type runner struct {
	c    Controller
	opts Options
	wake chan struct{}

	mu      sync.Mutex // guards the fields below
	pending []string   // changed keys not yet reconciled
	all     bool       // a full reconcile is due
	running bool       // Reconcile is in progress
	due     time.Time  // earliest requested requeue (RequeueAt); zero: none
	target  uint64     // latest store revision offered
	done    uint64     // revision as of which everything watched is reconciled
}

// runnerKey carries the runner in the context Reconcile runs with.
type runnerKey struct{}

// RequeueAt asks, from inside Reconcile, that the controller run again — a
// full run, changed == nil — at t, whether or not anything in the store
// changes. Of the requests made, the earliest is kept, whatever the outcome
// of the run that made it (a backoff still delays it); serving it forgets
// them all, since the run it causes is full and asks again for what it
// still needs. A time in the past means as soon as possible. Outside a
// Manager's Reconcile it does nothing.
func RequeueAt(ctx context.Context, t time.Time) {
	r, ok := ctx.Value(runnerKey{}).(*runner)
	if !ok {
		return
	}
	r.mu.Lock()
	if r.due.IsZero() || t.Before(r.due) {
		r.due = t
	}
	r.mu.Unlock()
	r.signal() // the run loop re-arms its timer
}

// RequeueAfter is RequeueAt(ctx, time.Now().Add(d)).
func RequeueAfter(ctx context.Context, d time.Duration) { RequeueAt(ctx, time.Now().Add(d)) }

// dueTimer returns a channel that fires at the earliest requested requeue,
// or nil, and the function that releases it.
func (r *runner) dueTimer() (<-chan time.Time, func() bool) {
	r.mu.Lock()
	due := r.due
	r.mu.Unlock()
	if due.IsZero() {
		return nil, func() bool { return false }
	}
	t := time.NewTimer(time.Until(due))
	return t.C, t.Stop
}

func (r *runner) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *runner) setTarget(rev uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target = max(r.target, rev)
}

func (r *runner) doneAt(rev uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.all && len(r.pending) == 0 && !r.running && r.done >= rev
}

// offer queues the keys of ch that the controller watches.
func (r *runner) offer(ch store.Change) {
	r.mu.Lock()
	interested := ch.Overflow
	if ch.Overflow {
		r.all = true
	}
	for _, k := range ch.Keys {
		if r.c.Watches(k) {
			r.pending = append(r.pending, k)
			interested = true
		}
	}
	r.target = max(r.target, ch.Revision)
	if !interested && !r.all && len(r.pending) == 0 && !r.running {
		// Nothing for us: we are as current as the store.
		r.done = r.target
	}
	r.mu.Unlock()
	if interested {
		r.signal()
	}
}

func (r *runner) run(ctx context.Context) {
	backoff := time.Duration(0)
	var resync <-chan time.Time
	if r.opts.Resync > 0 {
		t := time.NewTicker(r.opts.Resync)
		defer t.Stop()
		resync = t.C
	}
	for {
		var retry <-chan time.Time
		wake := r.wake
		due, stopDue := r.dueTimer()
		if backoff > 0 {
			// Backing off: changes and requeues accumulate (offer and
			// RequeueAt record them) but do not cut the wait short, or a
			// controller that writes its own failure to the store would spin.
			retry = time.After(backoff)
			wake, due = nil, nil
		}
		select {
		case <-ctx.Done():
			stopDue()
			return
		case <-wake:
		case <-retry:
		case <-resync:
			r.mu.Lock()
			r.all = true
			r.mu.Unlock()
		case now := <-due:
			r.mu.Lock()
			if !r.due.IsZero() && !now.Before(r.due) {
				r.due, r.all = time.Time{}, true
			}
			r.mu.Unlock()
		}
		stopDue()
		r.mu.Lock()
		if !r.all && len(r.pending) == 0 {
			r.mu.Unlock()
			continue
		}
		var changed []string
		if !r.all {
			changed = slices.Compact(slices.Sorted(slices.Values(r.pending)))
		}
		all, pending := r.all, r.pending
		r.all, r.pending, r.running = false, nil, true
		r.mu.Unlock()

		err := r.reconcile(ctx, changed)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, r.opts.MinBackoff), r.opts.MaxBackoff)
			r.opts.Logger.Warn("reconcile failed; will retry", "controller", r.c.Name(), "err", err, "retry_in", backoff)
			r.mu.Lock()
			r.all = r.all || all
			r.pending = append(r.pending, pending...)
			r.running = false
			r.mu.Unlock()
			continue
		}
		backoff = 0
		r.mu.Lock()
		r.running = false
		if !r.all && len(r.pending) == 0 {
			r.done = r.target
		}
		r.mu.Unlock()
	}
}

// reconcile calls the controller, turning a panic into an error so one bad
// controller cannot take the daemon down.
func (r *runner) reconcile(ctx context.Context, changed []string) (err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("panic in controller " + r.c.Name())
			r.opts.Logger.Error("controller panicked", "controller", r.c.Name(), "panic", p)
		}
		if r.opts.Observe != nil {
			r.opts.Observe(r.c.Name(), time.Since(start), err)
		}
	}()
	return r.c.Reconcile(context.WithValue(ctx, runnerKey{}, r), changed)
}
