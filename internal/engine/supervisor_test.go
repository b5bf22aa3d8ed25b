//go:build linux

package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// requireEngine returns the installed engine or skips, saying why; it
// logs which engine the test runs against so a silent skip shows.
func requireEngine(t *testing.T, engine string) catalog.Installed {
	t.Helper()
	c, err := Discover(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.Find(engine, "")
	if err != nil {
		t.Skipf("SKIP: %s binary absent: %v", engine, err)
	}
	t.Logf("engine: %s %s at %s", in.Engine, in.Version, in.Path)
	return in
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// recorder collects events and lets a test wait for one.
type recorder struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 100)} }

func (r *recorder) record(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.ch <- e:
	default:
	}
}

func (r *recorder) wait(t *testing.T, typ EventType, d time.Duration) Event {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case e := <-r.ch:
			if e.Type == typ {
				return e
			}
		case <-timer.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no %s event within %s; events: %+v", typ, d, r.events)
			return Event{}
		}
	}
}

func testConfig(t *testing.T, dataDir string, rec *recorder) Config {
	cfg := Config{
		DataDir:      dataDir,
		Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ReadyTimeout: 10 * time.Second,
		StopTimeout:  5 * time.Second,
		PollInterval: 50 * time.Millisecond,
		MinBackoff:   50 * time.Millisecond,
		MaxBackoff:   time.Second,
	}
	if rec != nil {
		cfg.OnEvent = rec.record
	}
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newSupervisor returns a supervisor over a fresh data dir whose every
// engine process is killed when the test ends, even on failure.
func newSupervisor(t *testing.T, rec *recorder) (*Supervisor, string) {
	t.Helper()
	dataDir := t.TempDir()
	s := New(testConfig(t, dataDir, rec))
	t.Cleanup(func() {
		// Teardown by data dir also catches processes of supervisors
		// the test closed.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.Close() // first, or it restarts what Teardown kills
		if err := New(testConfig(t, dataDir, nil)).Teardown(ctx); err != nil {
			t.Errorf("teardown: %v", err)
		}
		if left, _ := engineProcsUnder(dataDir); len(left) > 0 {
			t.Errorf("processes left after teardown: %v", left)
		}
	})
	return s, dataDir
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func redisSpec(t *testing.T, in catalog.Installed, id string) NodeSpec {
	mem, err := catalog.NodeTypeMemory("cache.t3.micro")
	if err != nil {
		t.Fatal(err)
	}
	return NodeSpec{NodeID: id, Engine: in, BindIP: "127.0.0.1", Port: freePort(t), MaxMemory: mem}
}

func redisDo(t *testing.T, addr string, args ...string) string {
	t.Helper()
	ctx := ctxT(t)
	c, err := redis.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.String(ctx, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// nodeAdmin returns how the supervisor reaches a node: its secrets.
func nodeAdmin(t *testing.T, s *Supervisor, nodeID string) redis.Admin {
	t.Helper()
	sec, err := readSecrets(s.NodeDir(nodeID))
	if err != nil {
		t.Fatal(err)
	}
	return sec.redisAdmin()
}

// configGet runs CONFIG GET as the node's admin: clients may not.
func configGet(t *testing.T, s *Supervisor, spec NodeSpec, name string) string {
	t.Helper()
	ctx := ctxT(t)
	admin, err := withTLS(nodeAdmin(t, s, spec.NodeID), spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := admin.Dial(ctx, nil, spec.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := admin.Do(ctx, c, "CONFIG", "GET", name)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		t.Fatalf("CONFIG GET %s = %#v", name, v)
	}
	return a[1].(string)
}

func TestRedisStartSetGet(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	spec := redisSpec(t, in, "rs-0001")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventStarted, 5*time.Second)
	if st.State != StateRunning || st.PID == 0 || st.Adopted {
		t.Errorf("Start() status = %+v, want running, not adopted", st)
	}
	if got := redisDo(t, spec.Addr(), "SET", "k", "v"); got != "OK" {
		t.Errorf("SET = %q, want OK", got)
	}
	if got := redisDo(t, spec.Addr(), "GET", "k"); got != "v" {
		t.Errorf("GET = %q, want v", got)
	}
	// maxmemory from the node type, less reserved-memory-percent (25).
	if got, want := configGet(t, s, spec, "maxmemory"), "402653184"; got != want {
		t.Errorf("CONFIG GET maxmemory = %s, want %s (cache.t3.micro 536870912 less 25%%)", got, want)
	}
	if got := configGet(t, s, spec, "maxmemory-policy"); got != "volatile-lru" {
		t.Errorf("CONFIG GET maxmemory-policy = %s, want volatile-lru", got)
	}
	if got := configGet(t, s, spec, "save"); got != "" {
		t.Errorf("CONFIG GET save = %q, want empty", got)
	}
	// Start again is idempotent.
	st2, err := s.Start(ctxT(t), spec)
	if err != nil || st2.PID != st.PID {
		t.Errorf("second Start() = %+v, %v; want same pid %d", st2, err, st.PID)
	}
	moved := spec
	moved.Port = freePort(t)
	if _, err := s.Start(ctxT(t), moved); !errors.Is(err, ErrSpecConflict) {
		t.Errorf("Start(other port) = %v, want ErrSpecConflict", err)
	}
}

func TestRedisCrashRestart(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	spec := redisSpec(t, in, "rs-crash")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventCrashed, 5*time.Second)
	e := rec.wait(t, EventRestarted, 10*time.Second)
	if e.PID == st.PID || e.NodeID != "rs-crash" || e.Message != "Cache node restarted" {
		t.Errorf("restarted event = %+v, want a new pid for rs-crash", e)
	}
	if got := redisDo(t, spec.Addr(), "PING"); got != "PONG" {
		t.Errorf("PING after restart = %q", got)
	}
	now, _ := s.Status("rs-crash")
	if now.Restarts != 1 || now.PID != e.PID || now.State != StateRunning {
		t.Errorf("Status() = %+v, want 1 restart, pid %d, running", now, e.PID)
	}
}

func TestRedisReadopt(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s1, dataDir := newSupervisor(t, nil)
	spec := redisSpec(t, in, "rs-adopt")
	st, err := s1.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	redisDo(t, spec.Addr(), "SET", "survives", "restart")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if !alive(procID{PID: st.PID, StartTime: mustStart(t, st.PID)}) {
		t.Fatal("Close() stopped the engine; want it left running")
	}

	// The daemon "restarts": a new supervisor over the same data dir.
	rec := newRecorder()
	s2 := New(testConfig(t, dataDir, rec))
	t.Cleanup(func() { s2.Close() })
	st2, err := s2.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventAdopted, 5*time.Second)
	if st2.PID != st.PID || !st2.Adopted {
		t.Errorf("re-Start() = %+v, want adopted pid %d", st2, st.PID)
	}
	if got := redisDo(t, spec.Addr(), "GET", "survives"); got != "restart" {
		t.Errorf("GET after re-adoption = %q, want restart", got)
	}
	// The adopted process is supervised: a crash restarts it.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventRestarted, 10*time.Second)
}

func mustStart(t *testing.T, pid int) uint64 {
	t.Helper()
	id, err := identify(pid)
	if err != nil {
		t.Fatal(err)
	}
	return id.StartTime
}

// A state file naming a live process that is not the node's engine (pid
// recycled: other start time, or other directory) is never adopted nor
// killed.
func TestRecycledPIDNotAdopted(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	for _, tc := range []struct {
		name  string
		state func(self procID) procID
	}{
		{"other-start-time", func(self procID) procID { return procID{PID: self.PID, StartTime: self.StartTime + 1} }},
		{"other-directory", func(self procID) procID { return self }}, // our cwd is not the node dir
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dataDir := newSupervisor(t, nil)
			spec := redisSpec(t, in, "rs-recycled")
			self, err := identify(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(dataDir, spec.NodeID)
			if err := os.MkdirAll(dir, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := writeState(dir, nodeState{procID: tc.state(self), Engine: catalog.Redis, Binary: in.Path,
				BindIP: spec.BindIP, Port: spec.port()}); err != nil {
				t.Fatal(err)
			}
			st, err := s.Start(ctxT(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			if st.Adopted || st.PID == os.Getpid() {
				t.Errorf("Start() = %+v, want a fresh engine, not the recorded pid", st)
			}
		})
	}
}

func TestRedisApplyParameters(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	spec := redisSpec(t, in, "rs-params")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := s.ApplyParameters(ctxT(t), spec.NodeID, map[string]string{
		"maxmemory-policy":        "allkeys-lfu",
		"notify-keyspace-events":  "KEA",
		"timeout":                 "120",
		"reserved-memory-percent": "50",
		"client-output-buffer-limit-normal-hard-limit": "1048576",
		"databases": "32",
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"databases"}, pending); diff != "" {
		t.Errorf("pending mismatch (-want +got):\n%s", diff)
	}
	rec.wait(t, EventParametersApplied, 5*time.Second)
	for name, want := range map[string]string{
		"maxmemory-policy":           "allkeys-lfu",
		"notify-keyspace-events":     "AKE",
		"timeout":                    "120",
		"maxmemory":                  "268435456",
		"client-output-buffer-limit": "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
		"databases":                  "16", // static: not yet
	} {
		if got := configGet(t, s, spec, name); got != want {
			t.Errorf("CONFIG GET %s = %q, want %q", name, got, want)
		}
	}
	if now, _ := s.Status(spec.NodeID); now.PID != st.PID {
		t.Errorf("pid changed %d -> %d: immediate parameters must not restart", st.PID, now.PID)
	}
	if _, err := s.ApplyParameters(ctxT(t), spec.NodeID, map[string]string{"lua-time-limit": "1"}); !errors.Is(err, catalog.ErrParameterNotModifiable) {
		t.Errorf("ApplyParameters(lua-time-limit) = %v, want catalog.ErrParameterNotModifiable", err)
	}
	if _, err := s.ApplyParameters(ctxT(t), spec.NodeID, map[string]string{"maxmemory-policy": "lru"}); !errors.Is(err, catalog.ErrInvalidParameterValue) {
		t.Errorf("ApplyParameters(bad policy) = %v, want catalog.ErrInvalidParameterValue", err)
	}

	// Reboot applies the pending static parameter.
	if err := s.Reboot(ctxT(t), spec.NodeID); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventRebooted, 5*time.Second)
	if got := configGet(t, s, spec, "databases"); got != "32" {
		t.Errorf("CONFIG GET databases after reboot = %s, want 32", got)
	}
	if now, _ := s.Status(spec.NodeID); now.PID == st.PID {
		t.Errorf("Reboot kept pid %d", st.PID)
	}
}

func TestRedisStop(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, dataDir := newSupervisor(t, rec)
	spec := redisSpec(t, in, "rs-stop")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	id := procID{PID: st.PID, StartTime: mustStart(t, st.PID)}
	if err := s.Stop(ctxT(t), spec.NodeID); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventStopped, 5*time.Second)
	if alive(id) {
		t.Errorf("pid %d still alive after Stop", st.PID)
	}
	if left, _ := engineProcsUnder(dataDir); len(left) != 0 {
		t.Errorf("engine processes left: %v", left)
	}
	if _, ok := s.Status(spec.NodeID); ok {
		t.Error("Status() after Stop: still supervised")
	}
	if err := s.Stop(ctxT(t), spec.NodeID); err != nil {
		t.Errorf("second Stop() = %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, spec.NodeID, stateFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after Stop: %v, want removed", err)
	}
}

// Stop works for a node left running by an earlier supervisor, and
// Teardown kills every engine of the installation.
func TestStopOrphanAndTeardown(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s1, dataDir := newSupervisor(t, nil)
	a, b := redisSpec(t, in, "rs-a"), redisSpec(t, in, "rs-b")
	for _, sp := range []NodeSpec{a, b} {
		if _, err := s1.Start(ctxT(t), sp); err != nil {
			t.Fatal(err)
		}
	}
	s1.Close()
	s2 := New(testConfig(t, dataDir, nil))
	if err := s2.Stop(ctxT(t), "rs-a"); err != nil {
		t.Fatal(err)
	}
	left, _ := engineProcsUnder(dataDir)
	if len(left) != 1 {
		t.Errorf("after Stop(rs-a) of an orphan: %d engines, want 1", len(left))
	}
	if err := s2.Teardown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if left, _ := engineProcsUnder(dataDir); len(left) != 0 {
		t.Errorf("after Teardown: %v left", left)
	}
	if _, err := s2.Start(ctxT(t), a); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Teardown = %v, want ErrClosed", err)
	}
}

// TestUnrecordedEngine: a daemon killed between launching an engine and
// recording it in the state file leaves an engine no state file names.
// Stop of that node stops it, and Start replaces it (instead of failing on
// its address for ever).
func TestUnrecordedEngine(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	for _, then := range []string{"stop", "start"} {
		t.Run(then, func(t *testing.T) {
			s1, dataDir := newSupervisor(t, nil)
			spec := redisSpec(t, in, "rs-u")
			if _, err := s1.Start(ctxT(t), spec); err != nil {
				t.Fatal(err)
			}
			s1.Close()
			dir := filepath.Join(dataDir, spec.NodeID)
			if err := os.Remove(filepath.Join(dir, stateFileName)); err != nil {
				t.Fatal(err)
			}
			stray, _ := engineProcsUnder(dir)
			if len(stray) != 1 {
				t.Fatalf("engines in %s: %v, want the one started", dir, stray)
			}
			s2 := New(testConfig(t, dataDir, nil))
			defer s2.Close()
			switch then {
			case "stop":
				if err := s2.Stop(ctxT(t), spec.NodeID); err != nil {
					t.Fatalf("Stop = %v", err)
				}
				if left, _ := engineProcsUnder(dir); len(left) != 0 {
					t.Errorf("after Stop: engines %v left", left)
				}
			case "start":
				st, err := s2.Start(ctxT(t), spec)
				if err != nil {
					t.Fatalf("Start = %v", err)
				}
				left, _ := engineProcsUnder(dir)
				if len(left) != 1 || left[0].PID != st.PID || st.PID == stray[0].PID {
					t.Errorf("after Start: engines %v, status pid %d; want one, new (the stray was %d)", left, st.PID, stray[0].PID)
				}
				if got := redisDo(t, spec.Addr(), "PING"); got != "PONG" {
					t.Errorf("PING = %q", got)
				}
			}
		})
	}
}

func TestStartFailsClearly(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s, dataDir := newSupervisor(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	spec := NodeSpec{NodeID: "rs-busy", Engine: in, BindIP: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}
	_, err = s.Start(ctxT(t), spec)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("Start(busy port) = %v, want ErrNotReady with the engine's reason", err)
	}
	if left, _ := engineProcsUnder(dataDir); len(left) != 0 {
		t.Errorf("engines left after failed start: %v", left)
	}
	if _, err := s.Start(ctxT(t), NodeSpec{NodeID: "x", BindIP: "127.0.0.1"}); !errors.Is(err, catalog.ErrEngineNotInstalled) {
		t.Errorf("Start(no engine) = %v, want catalog.ErrEngineNotInstalled", err)
	}
}

func memcachedSpec(t *testing.T, in catalog.Installed, id string) NodeSpec {
	mem, err := catalog.NodeTypeMemory("cache.t3.micro")
	if err != nil {
		t.Fatal(err)
	}
	return NodeSpec{NodeID: id, Engine: in, BindIP: "127.0.0.1", Port: freePort(t), MaxMemory: mem}
}

func memcachedStats(t *testing.T, addr string) map[string]string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "stats settings\r\n")
	out := map[string]string{}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "END" {
			break
		}
		if len(f) == 3 {
			out[f[1]] = f[2]
		}
	}
	return out
}

func TestMemcachedLifecycle(t *testing.T) {
	in := requireEngine(t, catalog.Memcached)
	rec := newRecorder()
	s, dataDir := newSupervisor(t, rec)
	spec := memcachedSpec(t, in, "mc-0001")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	c, err := memcached.Dial(ctx, spec.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "k"); err != nil || !ok || string(v) != "v" {
		t.Errorf("Get(k) = %q, %v, %v; want v", v, ok, err)
	}
	c.Close()
	if got := memcachedStats(t, spec.Addr())["maxbytes"]; got != "536870912" {
		t.Errorf("maxbytes = %s, want 536870912 (cache.t3.micro)", got)
	}

	// Crash → restart.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := rec.wait(t, EventRestarted, 10*time.Second)
	if e.PID == st.PID {
		t.Errorf("restarted with the dead pid %d", st.PID)
	}

	// Parameters restart memcached with the new argv.
	pending, err := s.ApplyParameters(ctxT(t), spec.NodeID, map[string]string{"max_item_size": "2097152"})
	if err != nil || len(pending) != 0 {
		t.Fatalf("ApplyParameters = %v, %v; want applied, none pending", pending, err)
	}
	if got := memcachedStats(t, spec.Addr())["item_size_max"]; got != "2097152" {
		t.Errorf("item_size_max = %s, want 2097152", got)
	}

	// Re-adoption by a new supervisor.
	before, _ := s.Status(spec.NodeID)
	s.Close()
	s2 := New(testConfig(t, dataDir, nil))
	t.Cleanup(func() { s2.Close() })
	st2, err := s2.Start(ctxT(t), spec)
	if err != nil || !st2.Adopted || st2.PID != before.PID {
		t.Errorf("re-Start() = %+v, %v; want adopted pid %d", st2, err, before.PID)
	}
	if err := s2.Stop(ctxT(t), spec.NodeID); err != nil {
		t.Fatal(err)
	}
	if left, _ := engineProcsUnder(dataDir); len(left) != 0 {
		t.Errorf("engines left after Stop: %v", left)
	}
}

// A launcher that wraps the engine in an exec-ing helper (as `nsenter
// --net=... --` does for a node namespace) keeps the engine's pid; the
// supervisor supervises and re-adopts it the same.
func TestCustomLauncher(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	env, err := exec.LookPath("env")
	if err != nil {
		t.Skipf("SKIP: no env binary: %v", err)
	}
	dataDir := t.TempDir()
	var mu sync.Mutex
	var calls [][]string
	cfg := testConfig(t, dataDir, nil)
	cfg.Launcher = func(_ context.Context, argv []string) *exec.Cmd {
		mu.Lock()
		calls = append(calls, argv)
		mu.Unlock()
		return exec.Command(env, append([]string{"CACHALOT_TEST=1"}, argv...)...)
	}
	s := New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Teardown(ctx); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	spec := redisSpec(t, in, "rs-launcher")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(in.Path) // Debian: redis-server -> redis-check-rdb
	if err != nil {
		t.Fatal(err)
	}
	if exe, _ := procExe(st.PID); exe != filepath.Base(real) {
		t.Errorf("supervised pid %d runs %q, want %s (the engine, not the wrapper)", st.PID, exe, filepath.Base(real))
	}
	mu.Lock()
	defer mu.Unlock()
	// The launcher gets the confined command line (sandbox.go): the
	// engine, reading its configuration on stdin, last.
	if len(calls) != 1 {
		t.Fatalf("launcher called %d times, want once: %v", len(calls), calls)
	}
	if got, want := calls[0][len(calls[0])-2:], []string{in.Path, "-"}; !slices.Equal(got, want) {
		t.Errorf("launcher argv %v ends in %v, want %v", calls[0], got, want)
	}
}

// A restart that fails (the port taken meanwhile) is reported and retried
// with backoff until it succeeds.
func TestRestartFailsThenRecovers(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	dataDir := t.TempDir()
	cfg := testConfig(t, dataDir, rec)
	cfg.MinBackoff = 300 * time.Millisecond
	cfg.ReadyTimeout = 3 * time.Second
	s := New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Teardown(ctx); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	spec := redisSpec(t, in, "rs-flaky")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventCrashed, 5*time.Second)
	l, err := net.Listen("tcp", spec.Addr()) // squat the port before the restart
	if err != nil {
		t.Fatal(err)
	}
	e := rec.wait(t, EventRestartFailed, 10*time.Second)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "Address already in use") {
		t.Errorf("restart-failed event = %+v, want the engine's bind error", e)
	}
	if now, _ := s.Status(spec.NodeID); now.State != StateRestarting {
		t.Errorf("Status().State = %s, want %s", now.State, StateRestarting)
	}
	l.Close()
	rec.wait(t, EventRestarted, 15*time.Second)
	if got := redisDo(t, spec.Addr(), "PING"); got != "PONG" {
		t.Errorf("PING after recovery = %q", got)
	}
}
