package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
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

	mu     sync.Mutex // guards spec and status; written by the actor, read by anyone
	spec   NodeSpec
	status NodeStatus
}

type reqKind int

const (
	reqStop reqKind = iota
	reqReboot
	reqApply
)

type request struct {
	kind   reqKind
	params map[string]string
	ctx    context.Context
	reply  chan result
}

type result struct {
	pending []string
	err     error
}

// watcher polls one process and closes exited when it is gone.
type watcher struct {
	id       procID
	started  time.Time
	exited   chan struct{}
	quit     chan struct{}
	stopOnce sync.Once
}

func (w *watcher) stop() { w.stopOnce.Do(func() { close(w.quit) }) }

func (n *node) watch(id procID) *watcher {
	w := &watcher{id: id, started: time.Now(), exited: make(chan struct{}), quit: make(chan struct{})}
	n.s.wg.Add(1)
	go func() {
		defer n.s.wg.Done()
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
		if st.Binary == n.spec.Engine.Path && st.BindIP == n.spec.BindIP && st.Port == n.spec.port() {
			w := n.watch(st.procID)
			if err := n.waitReady(ctx, w); err != nil {
				w.stop()
				return nil, false, fmt.Errorf("adopt pid %d: %w", st.PID, err)
			}
			// The config file follows the spec; values differing from
			// the adopted process's apply at its next start.
			if err := n.writeConfig(); err != nil {
				w.stop()
				return nil, false, err
			}
			n.setStatus(func(s *NodeStatus) {
				s.State, s.PID, s.Adopted, s.Since = StateRunning, st.PID, true, time.Now()
			})
			return w, true, nil
		}
		// Same node, different binary or address: replace the process.
		if err := n.s.terminate(ctx, st.procID); err != nil {
			return nil, false, fmt.Errorf("replace pid %d: %w", st.PID, err)
		}
	}
	w, err := n.launch(ctx)
	return w, false, err
}

// writeConfig renders the engine configuration into the node directory
// and returns the argv to start it with.
func (n *node) writeConfig() error {
	_, err := n.argv()
	return err
}

func (n *node) argv() ([]string, error) {
	n.mu.Lock()
	spec := cloneSpec(n.spec)
	n.mu.Unlock()
	in := spec.Engine
	switch in.Engine {
	case Memcached:
		user := ""
		if runningAsRoot() {
			user = n.s.cfg.MemcachedUser
		}
		return MemcachedArgs(in.Path, in.Family, MemcachedConfig{
			BindIP: spec.BindIP, Port: spec.port(), MemoryMB: spec.MaxMemory >> 20,
			User: user, FDLimit: fdHardLimit(), Parameters: spec.Parameters,
		})
	case Redis, Valkey:
		conf, err := RenderRedisConf(in.Family, RedisConfig{
			NodeID: n.id, BindIP: spec.BindIP, Port: spec.port(), MaxMemory: spec.MaxMemory,
			Dir: n.dir, Save: spec.Save, Parameters: spec.Parameters, FDLimit: fdHardLimit(),
		})
		if err != nil {
			return nil, err
		}
		path := filepath.Join(n.dir, in.Engine+".conf")
		if err := writeFileAtomic(path, conf); err != nil {
			return nil, err
		}
		return []string{in.Path, path}, nil
	}
	return nil, fmt.Errorf("unknown engine %q", in.Engine)
}

// launch starts the engine and waits until it answers.
func (n *node) launch(ctx context.Context) (*watcher, error) {
	argv, err := n.argv()
	if err != nil {
		return nil, err
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
	n.mu.Unlock()
	cmd := launch(ctx, argv)
	if cmd.Dir == "" {
		cmd.Dir = n.dir
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, out
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
	st := nodeState{procID: id, Engine: spec.Engine.Engine, Binary: spec.Engine.Path, BindIP: spec.BindIP, Port: spec.port()}
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
	n.setStatus(func(s *NodeStatus) {
		s.State, s.PID, s.Adopted, s.Since, s.LastError = StateRunning, id.PID, false, time.Now(), ""
	})
	return w, nil
}

// waitReady polls the engine (PING, or memcached's version) until it
// answers, it exits, ReadyTimeout passes or ctx ends.
func (n *node) waitReady(ctx context.Context, w *watcher) error {
	ctx, cancel := context.WithTimeout(ctx, n.s.cfg.ReadyTimeout)
	defer cancel()
	n.mu.Lock()
	spec := n.spec
	n.mu.Unlock()
	var last error
	t0 := time.Now()
	for attempt := 1; ; attempt++ {
		select {
		case <-w.exited:
			return fmt.Errorf("%w: %s exited during start: %s", ErrNotReady, spec.Engine.Engine, n.logTail())
		default:
		}
		if last = ping(ctx, spec); last == nil {
			n.s.log.Debug("engine ready", "node", n.id, "pid", w.id.PID, "attempts", attempt, "after", time.Since(t0))
			return nil
		}
		if attempt%20 == 0 {
			n.s.log.Debug("engine not ready yet", "node", n.id, "pid", w.id.PID, "attempts", attempt, "after", time.Since(t0), "err", last)
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
	if r := tail(filepath.Join(n.dir, "redis.log"), 512); r != "" {
		t += "\n" + r
	}
	return t
}

// ping checks an engine answers.
func ping(ctx context.Context, spec NodeSpec) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if spec.Engine.Engine == Memcached {
		c, err := DialMemcachedWith(ctx, spec.Dial, spec.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Version(ctx)
		return err
	}
	c, err := DialRESPWith(ctx, spec.Dial, spec.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.String(ctx, "PING")
	if err != nil {
		return err // e.g. LOADING while the dataset loads
	}
	if s != "PONG" {
		return fmt.Errorf("PING: %q", s)
	}
	return nil
}

// run is the node's actor. It owns w, the watcher of the current process.
func (n *node) run(w *watcher) {
	defer n.s.wg.Done()
	defer close(n.done)
	var (
		retry    *time.Timer
		retryC   <-chan time.Time
		crashes  int
		exitedC  = w.exited
		stopRetr = func() {
			if retry != nil {
				retry.Stop()
			}
			retry, retryC = nil, nil
		}
	)
	defer stopRetr()
	defer func() {
		if w != nil {
			w.stop()
		}
	}()
	schedule := func() {
		retry = time.NewTimer(backoff(n.s.cfg.MinBackoff, n.s.cfg.MaxBackoff, crashes))
		retryC = retry.C
		crashes++
	}
	for {
		select {
		case <-n.s.ctx.Done():
			return // Close: leave the process running
		case <-exitedC:
			exitedC = nil
			up := time.Since(w.started)
			w.stop()
			if up > time.Minute {
				crashes = 0
			}
			err := fmt.Errorf("engine exited after %s: %s", up.Round(time.Millisecond), n.logTail())
			n.setStatus(func(s *NodeStatus) { s.State, s.LastError = StateRestarting, err.Error() })
			n.emit(Event{Type: EventCrashed, PID: w.id.PID, Err: err})
			schedule()
		case <-retryC:
			retry, retryC = nil, nil
			nw, err := n.launch(n.s.ctx)
			if err != nil {
				if errors.Is(err, ErrClosed) || n.s.ctx.Err() != nil {
					return
				}
				n.setStatus(func(s *NodeStatus) { s.LastError = err.Error() })
				n.emit(Event{Type: EventRestartFailed, Err: err})
				schedule()
				continue
			}
			w, exitedC = nw, nw.exited
			n.setStatus(func(s *NodeStatus) { s.Restarts++ })
			n.emit(Event{Type: EventRestarted, PID: nw.id.PID, Message: "Cache node restarted"})
		case r := <-n.reqs:
			switch r.kind {
			case reqStop:
				stopRetr()
				w.stop()
				err := n.s.terminate(r.ctx, w.id)
				if err == nil {
					_ = os.Remove(filepath.Join(n.dir, stateFileName))
					n.setStatus(func(s *NodeStatus) { s.State, s.PID = StateStopped, 0 })
					n.s.mu.Lock()
					delete(n.s.nodes, n.id)
					n.s.mu.Unlock()
					r.reply <- result{}
					n.emit(Event{Type: EventStopped, PID: w.id.PID})
					return
				}
				w = n.watch(w.id) // still there: keep watching it
				exitedC = w.exited
				r.reply <- result{err: fmt.Errorf("stop node %s: %w", n.id, err)}
			case reqReboot:
				stopRetr()
				nw, err := n.restart(r.ctx, w)
				if err != nil {
					r.reply <- result{err: fmt.Errorf("reboot node %s: %w", n.id, err)}
					exitedC = nil
					schedule() // keep trying like after a crash
					continue
				}
				w, exitedC = nw, nw.exited
				r.reply <- result{}
				n.emit(Event{Type: EventRebooted, PID: nw.id.PID, Message: "Cache node rebooted"})
			case reqApply:
				pending, nw, err := n.apply(r.ctx, w, r.params)
				if nw != nil {
					stopRetr()
					w, exitedC = nw, nw.exited
				}
				if err != nil && exitedC != nil && !alive(w.id) {
					// A failed memcached restart left no process: retry.
					w.stop()
					exitedC = nil
					schedule()
				}
				r.reply <- result{pending: pending, err: err}
				if err == nil {
					n.emit(Event{Type: EventParametersApplied, PID: w.id.PID,
						Message: fmt.Sprintf("%d parameter(s); pending reboot: %v", len(r.params), pending)})
				}
			}
		}
	}
}

// backoff is the delay before restart attempt n+1 (n from 0): minimum
// doubled per consecutive failure, capped at maximum.
func backoff(minimum, maximum time.Duration, n int) time.Duration {
	return min(minimum<<min(n, 30), maximum)
}

// restart stops the current process and launches a new one.
func (n *node) restart(ctx context.Context, w *watcher) (*watcher, error) {
	w.stop()
	if err := n.s.terminate(ctx, w.id); err != nil {
		return nil, err
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
	spec := cloneSpec(n.spec)
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
	if spec.Engine.Engine == Memcached {
		nw, err := n.restart(ctx, w)
		if err != nil {
			return nil, nil, fmt.Errorf("apply parameters to %s: restart: %w", n.id, err)
		}
		return nil, nw, nil
	}
	cmds, pending, err := redisLiveChanges(spec, changes)
	if err != nil {
		rollback()
		return nil, nil, fmt.Errorf("apply parameters to %s: %w", n.id, err)
	}
	if len(cmds) == 0 {
		return pending, nil, nil
	}
	c, err := DialRESPWith(ctx, spec.Dial, spec.Addr())
	if err != nil {
		// Not running (e.g. restarting after a crash): the new values are
		// in the config it restarts with.
		return nil, nil, fmt.Errorf("apply parameters to %s: %w", n.id, err)
	}
	defer c.Close()
	for i, args := range cmds {
		if _, err := c.Do(ctx, args...); err != nil {
			// The engine refused a value: keep spec and file as they were;
			// the commands before it (cmds[:i]) did take effect.
			rollback()
			return nil, nil, fmt.Errorf("apply parameters to %s: %v refused after %d applied: %w", n.id, args[2:], i, err)
		}
	}
	return pending, nil, nil
}

// redisLiveChanges returns the CONFIG SET commands that apply the
// immediate changes to a running Redis/Valkey, and the names of the
// changes that wait for a reboot.
func redisLiveChanges(spec NodeSpec, changes map[string]string) (cmds [][]string, pending []string, err error) {
	merged, err := mergeDefaults(spec.Engine.Family, spec.Parameters)
	if err != nil {
		return nil, nil, err
	}
	classes := map[string]bool{}
	memory := false
	for _, name := range slices.Sorted(maps.Keys(changes)) {
		p, err := LookupParameter(spec.Engine.Family, name)
		if err != nil {
			return nil, nil, err
		}
		if p.ChangeType != Immediate {
			pending = append(pending, name)
			continue
		}
		switch {
		case name == "reserved-memory" || name == "reserved-memory-percent":
			memory = true
		case name == "client-output-buffer-limit-normal-hard-limit", name == "client-output-buffer-limit-normal-soft-limit",
			name == "client-output-buffer-limit-normal-soft-seconds":
			classes["normal"] = true
		case name == "client-output-buffer-limit-pubsub-hard-limit", name == "client-output-buffer-limit-pubsub-soft-limit",
			name == "client-output-buffer-limit-pubsub-soft-seconds":
			classes["pubsub"] = true
		default:
			if d := redisDirective(name); d != "" {
				cmds = append(cmds, []string{"CONFIG", "SET", d, merged[name]})
			}
		}
	}
	if memory && spec.MaxMemory > 0 {
		cmds = append(cmds, []string{"CONFIG", "SET", "maxmemory", strconv.FormatInt(EffectiveMaxMemory(spec.MaxMemory, merged), 10)})
	}
	for _, class := range slices.Sorted(maps.Keys(classes)) {
		pre := "client-output-buffer-limit-" + class + "-"
		cmds = append(cmds, []string{"CONFIG", "SET", "client-output-buffer-limit",
			class + " " + merged[pre+"hard-limit"] + " " + merged[pre+"soft-limit"] + " " + merged[pre+"soft-seconds"]})
	}
	return cmds, pending, nil
}
