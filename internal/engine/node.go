package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// node is one supervised engine. Its lifecycle is owned by one goroutine,
// run (an actor): Stop, Reboot and ApplyParameters are requests to it, and
// process exits are events to it, so no two lifecycle changes of a node
// ever overlap.
type node struct {
	s    *Supervisor
	id   string
	dir  string
	reqs chan request
	done chan struct{} // closed when run returns (or Start failed)

	mu     sync.Mutex // guards spec, status and admin; written by the actor, read by anyone
	spec   NodeSpec
	status NodeStatus
	// admin is how the current process is reached past the restrictions
	// clients have: the node's secrets, or the zero Admin for an engine
	// adopted from a Cachalot before them.
	admin redis.Admin
	// seeded: the launch under way copied NodeSpec.Seed in as the dump
	// file, removed once the engine has loaded it.
	seeded bool
}

type reqKind int

const (
	reqStop reqKind = iota
	reqReboot
	reqApply
	reqRole
	reqTLS
	reqAuth
	reqTransit
	reqAnnounce
)

type request struct {
	kind   reqKind
	params map[string]string
	role   Role
	tls    *TLS
	split  *Split
	name   string // reqAnnounce
	auth   []string
	users  []ACLUser
	ctx    context.Context
	reply  chan result
}

type result struct {
	pending []string
	err     error
}

// watcher watches one process and closes exited when it is gone: through
// the process's pidfd where the kernel has one (exitwait_linux.go), else by
// checking it every PollInterval.
type watcher struct {
	id       procID
	started  time.Time
	exited   chan struct{}
	quit     chan struct{}
	stopOnce sync.Once
	notifier *exitNotifier // nil: polled
}

func (w *watcher) stop() {
	w.stopOnce.Do(func() {
		close(w.quit)
		if w.notifier != nil {
			w.notifier.close()
		}
	})
}

func (n *node) watch(id procID) *watcher {
	w := &watcher{id: id, started: time.Now(), exited: make(chan struct{}), quit: make(chan struct{}),
		notifier: openExitNotifier(id)}
	n.s.wg.Add(1)
	go func() {
		defer n.s.wg.Done()
		if w.notifier != nil {
			// The supervisor's end stops the wait as Stop does.
			unregister := context.AfterFunc(n.s.ctx, w.stop)
			defer unregister()
			w.notifier.wait()
			select {
			case <-w.quit:
				return
			default:
			}
			// Exited, or the poller failed: confirm (and reap) below.
		}
		t := time.NewTicker(n.s.cfg.PollInterval)
		defer t.Stop()
		for {
			if !alive(id) {
				close(w.exited)
				return
			}
			select {
			case <-t.C:
			case <-w.quit:
				return
			case <-n.s.ctx.Done():
				return
			}
		}
	}()
	return w
}

func (n *node) snapshot() NodeStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status
}

func (n *node) family() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.spec.Engine.Family
}

func (n *node) setStatus(f func(*NodeStatus)) {
	n.mu.Lock()
	f(&n.status)
	n.mu.Unlock()
}

func (n *node) emit(e Event) {
	e.NodeID = n.id
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	lvl := n.s.log.Info
	if e.Err != nil {
		lvl = n.s.log.Warn
	}
	lvl("engine node "+string(e.Type), "node", n.id, "pid", e.PID, "msg", e.Message, "err", e.Err)
	if f := n.s.cfg.OnEvent; f != nil {
		f(e)
	}
}

// do sends a request to the actor and waits for its result.
func (n *node) do(ctx context.Context, r request) (result, error) {
	r.ctx = ctx
	r.reply = make(chan result, 1)
	select {
	case n.reqs <- r:
	case <-n.done:
		return result{}, fmt.Errorf("%w: %s", ErrNodeNotFound, n.id)
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	res := <-r.reply // the actor always replies to a request it took
	return res, res.err
}

// bringUp adopts the node's running engine or launches one; it runs
// before the actor exists.
func (n *node) bringUp(ctx context.Context) (*watcher, bool, error) {
	if err := os.MkdirAll(n.dir, 0o750); err != nil {
		return nil, false, fmt.Errorf("node directory: %w", err)
	}
	if st, err := readState(n.dir); err == nil && owned(st.procID, n.dir) {
		// The engine is reached as it listens; a Redis OSS or Valkey
		// engine asked to listen otherwise (its transit encryption
		// changed while no supervisor ran) switches live once adopted.
		want := cloneSpec(n.spec)
		as, switchable := adoptedTransit(st, n.spec)
		admin, err := adoptedAdmin(n.dir, st)
		if err == nil {
			admin, err = withTLS(admin, as)
		}
		if err == nil && st.Binary == n.spec.Engine.Path && st.BindIP == n.spec.BindIP && st.Port == n.spec.port() && switchable {
			n.mu.Lock()
			n.admin = admin
			n.spec.TLS, n.spec.Split = as.TLS, as.Split
			n.mu.Unlock()
			w := n.watch(st.procID)
			if err := n.waitReady(ctx, w); err != nil {
				w.stop()
				return nil, false, fmt.Errorf("adopt pid %d: %w", st.PID, err)
			}
			if transitOf(as) != transitOf(want) {
				if err := n.switchTransit(ctx, w, want.TLS, want.Split); err != nil {
					w.stop()
					return nil, false, fmt.Errorf("adopt pid %d: %w", st.PID, err)
				}
			}
			// The config file follows the spec; values differing from
			// the adopted process's apply at its next start. Its role
			// applies now: a failover may have happened meanwhile.
			if err := n.writeConfig(); err != nil {
				w.stop()
				return nil, false, err
			}
			if err := n.applyAdoptedRole(ctx); err != nil {
				w.stop()
				return nil, false, fmt.Errorf("adopt pid %d: role: %w", st.PID, err)
			}
			if n.spec.TLS != nil {
				// The certificate may have been renewed while no
				// supervisor ran: the engine takes the spec's, live.
				if err := n.renewTLS(ctx, w, n.spec.TLS, true); err != nil {
					w.stop()
					return nil, false, fmt.Errorf("adopt pid %d: %w", st.PID, err)
				}
			}
			if st.Engine != catalog.Memcached {
				// So may the AUTH tokens.
				if err := n.setAuth(ctx, w, n.spec.AuthTokens, n.spec.Users, true); err != nil {
					w.stop()
					return nil, false, fmt.Errorf("adopt pid %d: %w", st.PID, err)
				}
				// A cluster-mode node started before nodes announced
				// their names announces its own from now on.
				if err := n.announceLive(ctx); err != nil {
					w.stop()
					return nil, false, fmt.Errorf("adopt pid %d: %w", st.PID, err)
				}
			}
			if st.Engine == catalog.Memcached {
				// A seed still there was being loaded when the last
				// supervisor stopped: written in again (an item
				// written twice is the same item).
				data := filepath.Join(n.dir, dataDirName)
				if _, err := os.Lstat(filepath.Join(data, memcachedSeedFile)); err == nil {
					if err := n.loadMemcachedSeed(ctx, data); err != nil {
						w.stop()
						return nil, false, fmt.Errorf("adopt pid %d: %w", st.PID, err)
					}
					_ = os.Remove(filepath.Join(data, memcachedSeedFile))
				}
			}
			n.setStatus(func(s *NodeStatus) {
				s.State, s.PID, s.Adopted, s.Since = StateRunning, st.PID, true, time.Now()
			})
			return w, true, nil
		}
		// Same node, different binary or address, or secrets lost: replace
		// the process.
		if err := n.s.terminate(ctx, st.procID); err != nil {
			return nil, false, fmt.Errorf("replace pid %d: %w", st.PID, err)
		}
	} else if err == nil && n.spec.Role.HoldOnCrash {
		// The engine this node ran is gone (it crashed while no
		// supervisor watched): held, not relaunched.
		return nil, false, errHeld
	}
	// An engine no state file records would hold the address and fail
	// every launch.
	if err := n.s.terminateStrays(ctx, n.dir); err != nil {
		return nil, false, err
	}
	w, err := n.launch(ctx)
	return w, false, err
}

// errHeld says bringUp found the engine of a node held on crash gone.
var errHeld = errors.New("engine gone; held on crash")

// adoptedAdmin returns how to reach an engine a state file records: as
// the admin of the node's secrets if it was started with them, as it is
// if it was started before them.
func adoptedAdmin(dir string, st nodeState) (redis.Admin, error) {
	if !st.Restricted {
		return redis.Admin{}, nil
	}
	sec, err := readSecrets(dir)
	if err != nil {
		return redis.Admin{}, err
	}
	return sec.redisAdmin(), nil
}

// writeConfig renders the engine configuration into the node directory.
func (n *node) writeConfig() error {
	_, _, err := n.render()
	return err
}

// render renders the engine's command line and files, writes the files
// into the node directory, and returns them with the admin of the
// node's secrets (made on first use).
func (n *node) render() (rendered, redis.Admin, error) {
	n.mu.Lock()
	spec := cloneSpec(n.spec)
	n.mu.Unlock()
	d, err := driverFor(spec.Engine.Engine)
	if err != nil {
		return rendered{}, redis.Admin{}, err
	}
	sec, err := ensureSecrets(n.dir)
	if err != nil {
		return rendered{}, redis.Admin{}, err
	}
	up, err := n.s.upstream(spec.Role)
	if err != nil {
		return rendered{}, redis.Admin{}, err
	}
	admin, err := withTLS(sec.redisAdmin(), spec)
	if err != nil {
		return rendered{}, redis.Admin{}, err
	}
	env := nodeEnv{id: n.id, dir: n.dir, fdLimit: fdHardLimit(), admin: admin, upstream: up}
	r, err := d.render(spec, env)
	if err != nil {
		return rendered{}, redis.Admin{}, err
	}
	for name, b := range r.files {
		if err := writeFileAtomic(filepath.Join(n.dir, name), b); err != nil {
			return rendered{}, redis.Admin{}, err
		}
	}
	return r, env.admin, nil
}

// launch starts the engine, confined (sandbox.go), and waits until it
// answers.
func (n *node) launch(ctx context.Context) (*watcher, error) {
	r, admin, err := n.render()
	if err != nil {
		return nil, err
	}
	argv, data, ident, err := n.confine(r)
	if err != nil {
		return nil, err
	}
	removeOldTLSFiles(data, nil)
	if err := writeEngineFiles(data, ident, r.dataFiles); err != nil {
		return nil, err
	}
	var stdin *os.File
	if r.stdin != "" {
		if stdin, err = os.Open(filepath.Join(n.dir, r.stdin)); err != nil {
			return nil, fmt.Errorf("open engine configuration: %w", err)
		}
		defer stdin.Close()
	}
	logPath := filepath.Join(n.dir, "engine.out")
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open engine output: %w", err)
	}
	launch := n.s.cfg.Launcher
	n.mu.Lock()
	if n.spec.Launcher != nil {
		launch = n.spec.Launcher
	}
	n.admin = admin
	n.mu.Unlock()
	cmd := launch(ctx, argv)
	if cmd.Dir == "" {
		cmd.Dir = data
	}
	cmd.Stdout, cmd.Stderr = out, out
	if stdin != nil {
		cmd.Stdin = stdin
	}
	detach(cmd)
	err = cmd.Start()
	out.Close()
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", argv[0], err)
	}
	id, err := identify(cmd.Process.Pid)
	_ = cmd.Process.Release() // the watcher reaps it; see alive
	if err != nil {
		return nil, fmt.Errorf("launch %s: %w", argv[0], err)
	}
	n.mu.Lock()
	spec := n.spec
	n.mu.Unlock()
	st := nodeState{procID: id, Engine: spec.Engine.Engine, Binary: spec.Engine.Path, BindIP: spec.BindIP, Port: spec.port(), Restricted: true, TLS: spec.TLS != nil, Split: splitOf(spec)}
	if ident != nil {
		st.UID = ident.UID
	}
	if err := writeState(n.dir, st); err != nil {
		_ = killGroup(id)
		return nil, fmt.Errorf("record pid: %w", err)
	}
	w := n.watch(id)
	if err := n.waitReady(ctx, w); err != nil {
		w.stop()
		_ = n.s.terminate(context.WithoutCancel(ctx), id)
		_ = os.Remove(filepath.Join(n.dir, stateFileName))
		return nil, err
	}
	n.mu.Lock()
	seeded := n.seeded
	n.mu.Unlock()
	if seeded && spec.Engine.Engine == catalog.Memcached {
		// memcached does not read a dump: the supervisor writes it in
		// before the node counts as running. Failing, the engine goes
		// and the data directory with it, so the next launch seeds
		// again.
		if err := n.loadMemcachedSeed(ctx, data); err != nil {
			w.stop()
			_ = n.s.terminate(context.WithoutCancel(ctx), id)
			_ = os.Remove(filepath.Join(n.dir, stateFileName))
			_ = os.RemoveAll(data)
			return nil, err
		}
	}
	n.setStatus(func(s *NodeStatus) {
		s.State, s.PID, s.Adopted, s.Since, s.LastError = StateRunning, id.PID, false, time.Now(), ""
	})
	n.mu.Lock()
	n.seeded = false
	n.mu.Unlock()
	if seeded {
		// Loaded: a restart after a crash starts empty, as without
		// persistence, not from the snapshot again. Unlinking a name
		// never follows a link the engine may have put there.
		_ = os.Remove(filepath.Join(data, seedFileName(spec.Engine.Engine)))
	}
	return w, nil
}

// waitReady polls the engine (PING, or memcached's version) until it
// answers, it exits, ReadyTimeout passes or ctx ends.
func (n *node) waitReady(ctx context.Context, w *watcher) error {
	// An engine loading its dataset (a restored snapshot) answers LOADING:
	// it makes progress, and ReadyTimeout counts from its last answer.
	deadline := time.Now().Add(n.s.cfg.ReadyTimeout)
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	var last error
	t0 := time.Now()
	for attempt := 1; ; attempt++ {
		select {
		case <-w.exited:
			return fmt.Errorf("%w: %s exited during start: %s", ErrNotReady, spec.Engine.Engine, n.logTail())
		default:
		}
		if last = ping(ctx, spec, admin); last == nil {
			n.s.log.Debug("engine ready", "node", n.id, "pid", w.id.PID, "attempts", attempt, "after", time.Since(t0))
			return nil
		}
		if attempt%20 == 0 {
			n.s.log.Debug("engine not ready yet", "node", n.id, "pid", w.id.PID, "attempts", attempt, "after", time.Since(t0), "err", last)
		}
		if redis.IsLoading(last) {
			deadline = time.Now().Add(n.s.cfg.ReadyTimeout)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s at %s: %w: %s", ErrNotReady, spec.Engine.Engine, spec.Addr(), last, n.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s at %s: %w: %s", ErrNotReady, spec.Engine.Engine, spec.Addr(), last, n.logTail())
		case <-w.exited:
		case <-n.s.ctx.Done():
			return ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (n *node) logTail() string {
	t := tail(filepath.Join(n.dir, "engine.out"), 512)
	n.mu.Lock()
	kind := n.spec.Engine.Engine
	n.mu.Unlock()
	if d, err := driverFor(kind); err == nil && d.logFile() != "" {
		r := tail(filepath.Join(n.dir, dataDirName, d.logFile()), 512)
		if r == "" { // an engine started before the data directory
			r = tail(filepath.Join(n.dir, d.logFile()), 512)
		}
		if r != "" {
			t += "\n" + r
		}
	}
	return t
}

// ping checks an engine answers (PING as admin, or memcached's version).
func ping(ctx context.Context, spec NodeSpec, admin redis.Admin) error {
	d, err := driverFor(spec.Engine.Engine)
	if err != nil {
		return err
	}
	return d.ping(ctx, spec.Dial, spec.adminAddr(), admin)
}

// actor is the state the node's actor goroutine owns.
type actor struct {
	n        *node
	w        *watcher // the current process's; nil when none runs (held on crash)
	exitedC  <-chan struct{}
	retry    *time.Timer
	retryC   <-chan time.Time
	restarts restartTracker
}

func (a *actor) stopRetry() {
	if a.retry != nil {
		a.retry.Stop()
	}
	a.retry, a.retryC = nil, nil
}

func (a *actor) schedule(delay time.Duration) {
	a.retry = time.NewTimer(delay)
	a.retryC = a.retry.C
}

// use makes w the current process's watcher (nil: none).
func (a *actor) use(w *watcher) {
	a.w, a.exitedC = w, nil
	if w != nil {
		a.exitedC = w.exited
	}
}

// run is the node's actor. It owns the watcher of the current process.
func (n *node) run(w *watcher) {
	defer n.s.wg.Done()
	defer close(n.done)
	a := &actor{n: n, restarts: restartTracker{policy: restartPolicy{
		minBackoff: n.s.cfg.MinBackoff, maxBackoff: n.s.cfg.MaxBackoff, stableAfter: defaultStableAfter}}}
	a.use(w)
	defer a.stopRetry()
	defer func() {
		if a.w != nil {
			a.w.stop()
		}
	}()
	for {
		select {
		case <-n.s.ctx.Done():
			return // Close: leave the process running
		case <-a.exitedC:
			a.exited()
		case <-a.retryC:
			a.retry, a.retryC = nil, nil
			if !a.relaunch() {
				return
			}
		case r := <-n.reqs:
			if a.request(r) {
				return
			}
		}
	}
}

// exited handles the current process's exit: a restart after a backoff,
// or, for a node held on crash, nothing (StateFailed).
func (a *actor) exited() {
	n, w := a.n, a.w
	up := time.Since(w.started)
	w.stop()
	a.use(nil)
	err := fmt.Errorf("engine exited after %s: %s", up.Round(time.Millisecond), n.logTail())
	n.mu.Lock()
	held := n.spec.Role.HoldOnCrash
	n.mu.Unlock()
	if held {
		n.setStatus(func(s *NodeStatus) { s.State, s.PID, s.LastError = StateFailed, 0, err.Error() })
		n.emit(Event{Type: EventFailed, PID: w.id.PID, Err: err})
		return
	}
	n.setStatus(func(s *NodeStatus) { s.State, s.LastError = StateRestarting, err.Error() })
	n.emit(Event{Type: EventCrashed, PID: w.id.PID, Err: err})
	a.schedule(a.restarts.exited(up))
}

// relaunch restarts the engine after a crash; false when the supervisor
// is closing.
func (a *actor) relaunch() bool {
	n := a.n
	nw, err := n.launch(n.s.ctx)
	if err != nil {
		if errors.Is(err, ErrClosed) || n.s.ctx.Err() != nil {
			return false
		}
		n.setStatus(func(s *NodeStatus) { s.LastError = err.Error() })
		n.emit(Event{Type: EventRestartFailed, Err: err})
		a.schedule(a.restarts.startFailed())
		return true
	}
	a.use(nw)
	n.setStatus(func(s *NodeStatus) { s.Restarts++ })
	n.emit(Event{Type: EventRestarted, PID: nw.id.PID, Message: "Cache node restarted"})
	return true
}

// request serves one request; true when the node is gone (stopped).
func (a *actor) request(r request) (gone bool) {
	n := a.n
	switch r.kind {
	case reqStop:
		return a.stop(r)
	case reqReboot:
		a.stopRetry()
		nw, err := n.restart(r.ctx, a.w)
		if err != nil {
			r.reply <- result{err: fmt.Errorf("reboot node %s: %w", n.id, err)}
			a.use(nil)
			a.schedule(a.restarts.startFailed()) // keep trying like after a crash
			return false
		}
		a.use(nw)
		r.reply <- result{}
		n.emit(Event{Type: EventRebooted, PID: nw.id.PID, Message: "Cache node rebooted"})
	case reqApply:
		if a.w == nil {
			// No process (held, or between restarts): the values are in
			// the configuration the next launch reads.
			r.reply <- result{err: n.mergeParameters(r.params)}
			return false
		}
		pending, nw, err := n.apply(r.ctx, a.w, r.params)
		if nw != nil {
			a.stopRetry()
			a.use(nw)
		}
		if err != nil && a.exitedC != nil && !alive(a.w.id) {
			// A failed memcached restart left no process: retry.
			a.w.stop()
			a.use(nil)
			a.schedule(a.restarts.startFailed())
		}
		r.reply <- result{pending: pending, err: err}
		if err == nil {
			n.emit(Event{Type: EventParametersApplied, PID: a.w.id.PID,
				Message: fmt.Sprintf("%d parameter(s); pending reboot: %v", len(r.params), pending)})
		}
	case reqTLS:
		r.reply <- result{err: n.renewTLS(r.ctx, a.w, r.tls, false)}
	case reqAuth:
		r.reply <- result{err: n.setAuth(r.ctx, a.w, r.auth, r.users, false)}
	case reqTransit:
		r.reply <- result{err: n.switchTransit(r.ctx, a.w, r.tls, r.split)}
	case reqAnnounce:
		r.reply <- result{err: n.setAnnounced(r.ctx, a.w, r.name)}
	case reqRole:
		// Without a process and without a restart pending, the node is
		// held: a role without HoldOnCrash relaunches it.
		nw, err := n.setRole(r.ctx, a.w, r.role, a.w == nil && a.retryC == nil)
		if nw != nil {
			a.use(nw)
			n.setStatus(func(s *NodeStatus) { s.Restarts++ })
		}
		r.reply <- result{err: err}
		if err == nil {
			n.emit(Event{Type: EventRoleSet, Message: r.role.String()})
		}
	}
	return false
}

// stop serves reqStop: the engine stops and the node is forgotten.
func (a *actor) stop(r request) bool {
	n := a.n
	a.stopRetry()
	if a.w == nil {
		_ = os.Remove(filepath.Join(n.dir, stateFileName))
		a.forget(r, 0)
		return true
	}
	w := a.w
	w.stop()
	err := n.s.terminate(r.ctx, w.id)
	if err == nil {
		_ = os.Remove(filepath.Join(n.dir, stateFileName))
		a.forget(r, w.id.PID)
		return true
	}
	a.use(n.watch(w.id)) // still there: keep watching it
	r.reply <- result{err: fmt.Errorf("stop node %s: %w", n.id, err)}
	return false
}

func (a *actor) forget(r request, pid int) {
	n := a.n
	a.use(nil)
	n.setStatus(func(s *NodeStatus) { s.State, s.PID = StateStopped, 0 })
	n.s.mu.Lock()
	delete(n.s.nodes, n.id)
	n.s.mu.Unlock()
	r.reply <- result{}
	n.emit(Event{Type: EventStopped, PID: pid})
}

// mergeParameters records parameter changes for the next launch of a node
// that has no process.
func (n *node) mergeParameters(changes map[string]string) error {
	n.mu.Lock()
	if n.spec.Parameters == nil {
		n.spec.Parameters = map[string]string{}
	}
	maps.Copy(n.spec.Parameters, changes)
	n.mu.Unlock()
	if err := n.writeConfig(); err != nil {
		return fmt.Errorf("apply parameters to %s: %w", n.id, err)
	}
	return nil
}

// restart stops the current process, if any, and launches a new one.
func (n *node) restart(ctx context.Context, w *watcher) (*watcher, error) {
	if w != nil {
		w.stop()
		if err := n.s.terminate(ctx, w.id); err != nil {
			return nil, err
		}
	}
	n.setStatus(func(s *NodeStatus) { s.State = StateStarting })
	return n.launch(ctx)
}

// apply merges parameter changes into the spec, rewrites the config, and
// applies them: CONFIG SET for Redis/Valkey immediate parameters, a
// restart for memcached (which then returns the new watcher).
func (n *node) apply(ctx context.Context, w *watcher, changes map[string]string) ([]string, *watcher, error) {
	n.mu.Lock()
	old := cloneSpec(n.spec)
	if n.spec.Parameters == nil {
		n.spec.Parameters = map[string]string{}
	}
	maps.Copy(n.spec.Parameters, changes)
	spec, admin := cloneSpec(n.spec), n.admin
	n.mu.Unlock()
	rollback := func() {
		n.mu.Lock()
		n.spec = old
		n.mu.Unlock()
		_ = n.writeConfig()
	}
	if err := n.writeConfig(); err != nil {
		rollback()
		return nil, nil, fmt.Errorf("apply parameters to %s: %w", n.id, err)
	}
	d, err := driverFor(spec.Engine.Engine)
	if err != nil {
		rollback()
		return nil, nil, fmt.Errorf("apply parameters to %s: %w", n.id, err)
	}
	pending, restart, err := d.applyLive(ctx, spec, admin, changes)
	switch {
	case err != nil && isUnreachable(err):
		// Not running (e.g. restarting after a crash): the new values are
		// in the config it restarts with.
		return nil, nil, fmt.Errorf("apply parameters to %s: %w", n.id, err)
	case err != nil:
		// Invalid, or the engine refused a value: keep spec and file as
		// they were.
		rollback()
		return nil, nil, fmt.Errorf("apply parameters to %s: %w", n.id, err)
	case restart:
		nw, err := n.restart(ctx, w)
		if err != nil {
			return nil, nil, fmt.Errorf("apply parameters to %s: restart: %w", n.id, err)
		}
		return nil, nw, nil
	}
	return pending, nil, nil
}
