//go:build linux

package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// requireRoot skips unless the test runs as root, saying so.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: needs root (engines switch to their own identity only when the daemon is root)")
	}
}

// procStatus returns the fields of /proc/<pid>/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// Each engine runs as its own non-root identity with no capability and
// no_new_privs; two nodes never share one, and each one's data directory
// is its own.
func TestEnginesConfined(t *testing.T) {
	requireRoot(t)
	rin := requireEngine(t, catalog.Redis)
	min := requireEngine(t, catalog.Memcached)
	s, _ := newSupervisor(t, nil)
	specs := []NodeSpec{redisSpec(t, rin, "rs-confined-1"), redisSpec(t, rin, "rs-confined-2"), memcachedSpec(t, min, "mc-confined")}
	uids := map[string]string{}
	for _, spec := range specs {
		st, err := s.Start(ctxT(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		f := procStatus(t, st.PID)
		uid := strings.Fields(f["Uid"])[0]
		n, _ := strconv.ParseUint(uid, 10, 32)
		for field, want := range map[string]string{
			"Uid": strings.Repeat(uid+" ", 3) + uid, "Gid": strings.Repeat(uid+" ", 3) + uid, "Groups": "",
			"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
			"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1",
		} {
			if f[field] != want {
				t.Errorf("%s pid %d: %s = %q, want %q", spec.NodeID, st.PID, field, f[field], want)
			}
		}
		if !identity.Engines().Contains(uint32(n)) {
			t.Errorf("%s runs as uid %s, want one of the engine range %+v", spec.NodeID, uid, identity.Engines())
		}
		if other, dup := uids[uid]; dup {
			t.Errorf("%s and %s both run as uid %s", spec.NodeID, other, uid)
		}
		uids[uid] = spec.NodeID

		dir := s.NodeDir(spec.NodeID)
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 || owner(fi) != 0 {
			t.Errorf("node directory %s: %v, owner %d, %v; want root's, 0700", dir, fi.Mode(), owner(fi), err)
		}
		data := filepath.Join(dir, dataDirName)
		if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 || strconv.Itoa(int(owner(fi))) != uid {
			t.Errorf("data directory %s: %v, owner %d, %v; want uid %s's, 0700", data, fi.Mode(), owner(fi), err, uid)
		}
		if cwd, _ := procCwd(st.PID); cwd != data {
			t.Errorf("%s works in %s, want %s", spec.NodeID, cwd, data)
		}
		if sec, err := os.Stat(filepath.Join(dir, secretsFileName)); spec.Engine.Engine == catalog.Redis && (err != nil || sec.Mode().Perm() != 0o600) {
			t.Errorf("secrets file: %v, %v; want mode 0600", sec.Mode(), err)
		}
	}
	// One node's identity cannot signal another's engine.
	a, _ := s.Status("rs-confined-1")
	b, _ := s.Status("rs-confined-2")
	cmd := exec.Command("kill", "-0", strconv.Itoa(b.PID))
	ua := strings.Fields(procStatus(t, a.PID)["Uid"])[0]
	n, _ := strconv.ParseUint(ua, 10, 32)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(n), Gid: uint32(n)}}
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("uid %s signalled rs-confined-2 (pid %d): %s", ua, b.PID, out)
	}
}

func owner(fi os.FileInfo) uint32 {
	if fi == nil {
		return 1<<32 - 1
	}
	uid, _ := fileOwner(fi)
	return uid
}

// A client gets the engine's unknown-command error for each command
// ElastiCache restricts, as on ElastiCache, and NOPERM for PSYNC and for
// a renamed name it learnt; data commands work, and the supervisor still
// applies live parameters and health-checks the node.
func TestRestrictedCommands(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s, _ := newSupervisor(t, nil)
	spec := redisSpec(t, in, "rs-restricted")
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	c, err := redis.Dial(ctx, spec.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"CONFIG", "SET", "protected-mode", "yes"}, "ERR unknown command 'CONFIG', with args beginning with: 'SET' 'protected-mode' 'yes' "},
		{[]string{"CONFIG", "SET", "maxmemory", "0"}, "ERR unknown command 'CONFIG', with args beginning with: 'SET' 'maxmemory' '0' "},
		{[]string{"REPLICAOF", "192.0.2.1", "6379"}, "ERR unknown command 'REPLICAOF', with args beginning with: '192.0.2.1' '6379' "},
		{[]string{"SLAVEOF", "192.0.2.1", "6379"}, "ERR unknown command 'SLAVEOF', with args beginning with: '192.0.2.1' '6379' "},
		{[]string{"BGSAVE"}, "ERR unknown command 'BGSAVE', with args beginning with: "},
		{[]string{"BGREWRITEAOF"}, "ERR unknown command 'BGREWRITEAOF', with args beginning with: "},
		{[]string{"SAVE"}, "ERR unknown command 'SAVE', with args beginning with: "},
		{[]string{"DEBUG", "SLEEP", "0"}, "ERR unknown command 'DEBUG', with args beginning with: 'SLEEP' '0' "},
		{[]string{"MIGRATE", "192.0.2.1", "6379", "k", "0", "1000"}, "ERR unknown command 'MIGRATE', with args beginning with: '192.0.2.1' '6379' 'k' '0' '1000' "},
		{[]string{"SHUTDOWN", "NOSAVE"}, "ERR unknown command 'SHUTDOWN', with args beginning with: 'NOSAVE' "},
		{[]string{"SYNC"}, "ERR unknown command 'SYNC', with args beginning with: "},
		{[]string{"MODULE", "LIST"}, "ERR unknown command 'MODULE', with args beginning with: 'LIST' "},
		{[]string{"ACL", "SETUSER", "default", "+config"}, "ERR unknown command 'ACL', with args beginning with: 'SETUSER' 'default' '+config' "},
		{[]string{"PSYNC", "?", "-1"}, "NOPERM this user has no permissions to run the 'psync' command"},
		{[]string{nodeAdmin(t, s, spec.NodeID).Name("CONFIG"), "GET", "maxmemory"}, "NOPERM this user has no permissions to run the 'config|get' command"},
	} {
		_, err := c.Do(ctx, tc.args...)
		var re redis.Error
		if !errors.As(err, &re) || string(re) != tc.want {
			t.Errorf("client %v = %v, want %q", tc.args[0], err, tc.want)
		}
	}
	if got := redisDo(t, spec.Addr(), "SET", "k", "v"); got != "OK" {
		t.Errorf("SET = %q, want OK", got)
	}
	if got := redisDo(t, spec.Addr(), "GET", "k"); got != "v" {
		t.Errorf("GET = %q, want v", got)
	}
	// The supervisor is not restricted.
	if _, err := s.ApplyParameters(ctxT(t), spec.NodeID, map[string]string{"maxmemory-policy": "allkeys-lru"}); err != nil {
		t.Fatalf("ApplyParameters as admin: %v", err)
	}
	if got := configGet(t, s, spec, "maxmemory-policy"); got != "allkeys-lru" {
		t.Errorf("maxmemory-policy = %s, want allkeys-lru", got)
	}
	if err := ping(ctxT(t), spec, nodeAdmin(t, s, spec.NodeID)); err != nil {
		t.Errorf("admin PING: %v", err)
	}
	if now, _ := s.Status(spec.NodeID); now.PID != st.PID || now.State != StateRunning {
		t.Errorf("Status() = %+v, want pid %d running: no client command may stop it", now, st.PID)
	}
}

// A node started by a Cachalot before confinement (as root, in the node
// directory, no restrictions, a state file without them) is re-adopted
// and managed as it is; its next start confines it and moves its files
// into the data directory.
func TestLegacyNodeAdoptedThenConfined(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, dataDir := newSupervisor(t, rec)
	spec := redisSpec(t, in, "rs-legacy")
	dir := filepath.Join(dataDir, spec.NodeID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("bind %s\nport %d\ndir %s\nlogfile %s\nsave \"\"\nprotected-mode no\n",
		spec.BindIP, spec.port(), dir, filepath.Join(dir, "redis.log"))
	if err := os.WriteFile(filepath.Join(dir, "redis.conf"), []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(in.Path, filepath.Join(dir, "redis.conf"))
	cmd.Dir = dir
	detach(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	old, err := identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	if err := writeState(dir, nodeState{procID: old, Engine: catalog.Redis, Binary: in.Path, BindIP: spec.BindIP, Port: spec.port()}); err != nil {
		t.Fatal(err)
	}
	waitPing(t, spec.Addr())
	redisDo(t, spec.Addr(), "SET", "kept", "yes")

	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Adopted || st.PID != old.PID {
		t.Fatalf("Start() = %+v, want the legacy pid %d adopted", st, old.PID)
	}
	if _, err := s.ApplyParameters(ctxT(t), spec.NodeID, map[string]string{"timeout": "42"}); err != nil {
		t.Fatalf("ApplyParameters on the legacy engine: %v", err)
	}
	if got := legacyConfigGet(t, spec.Addr(), "timeout"); got != "42" {
		t.Errorf("legacy CONFIG GET timeout = %s, want 42", got)
	}
	redisDo(t, spec.Addr(), "SAVE") // unrestricted until it restarts: its data survives the move

	if err := s.Reboot(ctxT(t), spec.NodeID); err != nil {
		t.Fatal(err)
	}
	now, _ := s.Status(spec.NodeID)
	if now.PID == old.PID {
		t.Fatalf("Reboot kept pid %d", old.PID)
	}
	if got := configGet(t, s, spec, "timeout"); got != "42" {
		t.Errorf("CONFIG GET timeout after reboot = %s, want 42", got)
	}
	if got := redisDo(t, spec.Addr(), "GET", "kept"); got != "yes" {
		t.Errorf("GET kept after the move = %q, want yes (the legacy RDB, loaded from the data directory)", got)
	}
	if _, err := os.Stat(filepath.Join(dir, dataDirName, "dump.rdb")); err != nil {
		t.Errorf("legacy dump.rdb not moved into the data directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("legacy dump.rdb left in the node directory: %v", err)
	}
	ctx := ctxT(t)
	c, err := redis.Dial(ctx, spec.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do(ctx, "CONFIG", "GET", "timeout"); err == nil {
		t.Error("CONFIG from a client after the restart: allowed, want restricted")
	}
	if os.Geteuid() == 0 {
		if uid := strings.Fields(procStatus(t, now.PID)["Uid"])[0]; uid == "0" {
			t.Error("restarted legacy node runs as root")
		}
	}
}

func waitPing(t *testing.T, addr string) {
	t.Helper()
	for i := 0; ; i++ {
		if err := (redis.Admin{}).Ping(ctxT(t), nil, addr); err == nil {
			return
		} else if i == 500 {
			t.Fatalf("engine at %s never answered: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// legacyConfigGet runs CONFIG GET on an engine without restrictions.
func legacyConfigGet(t *testing.T, addr, name string) string {
	t.Helper()
	ctx := ctxT(t)
	c, err := redis.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.Do(ctx, "CONFIG", "GET", name)
	if a, ok := v.([]any); err != nil || !ok || len(a) != 2 {
		t.Fatalf("CONFIG GET %s = %#v, %v", name, v, err)
	}
	return v.([]any)[1].(string)
}

// memcached's cache_memlimit cannot be turned off; the kernel holds the
// node type's cap instead: past memcached.DataLimit, allocations fail and
// memcached evicts, however high a client set the limit.
func TestMemcachedMemoryCap(t *testing.T) {
	in := requireEngine(t, catalog.Memcached)
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skipf("SKIP: no prlimit: %v", err)
	}
	s, _ := newSupervisor(t, nil)
	spec := memcachedSpec(t, in, "mc-cap")
	spec.MaxMemory = 16 << 20
	st, err := s.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	limit := memcached.DataLimit(16)
	b, err := os.ReadFile("/proc/" + strconv.Itoa(st.PID) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Max data size %d %d bytes", limit, limit); !strings.Contains(strings.Join(strings.Fields(string(b)), " "), want) {
		t.Errorf("limits of memcached:\n%s\nwant %q", b, want)
	}

	c, err := net.DialTimeout("tcp", spec.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "cache_memlimit 4096\r\n")
	if l, _ := r.ReadString('\n'); l != "OK\r\n" {
		t.Fatalf("cache_memlimit 4096 = %q", l)
	}
	// Write well past the kernel limit; replies are read as we go.
	value := strings.Repeat("x", 1000000)
	total := int(limit/1000000) + 64
	done := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(c)
		for i := range total {
			fmt.Fprintf(w, "set k%d 0 0 %d noreply\r\n%s\r\n", i, len(value), value)
		}
		fmt.Fprintf(w, "version\r\n")
		done <- w.Flush()
	}()
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading replies: %v", err)
		}
		if strings.HasPrefix(l, "VERSION ") {
			break
		}
	}
	if err := <-done; err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	data := procStatus(t, st.PID)["VmData"]
	kb, _ := strconv.ParseInt(strings.TrimSuffix(data, " kB"), 10, 64)
	if kb*1024 > limit {
		t.Errorf("VmData = %s, above the limit %d", data, limit)
	}
	if now, _ := s.Status(spec.NodeID); now.PID != st.PID {
		t.Errorf("memcached restarted (pid %d -> %d): want it evicting, not crashing", st.PID, now.PID)
	}
	// The command did raise memcached's own limit: only the kernel held.
	if got := memcachedStats(t, spec.Addr())["maxbytes"]; got != strconv.Itoa(4096<<20) {
		t.Errorf("maxbytes = %s, want %d (cache_memlimit 4096)", got, 4096<<20)
	}
	if err := memcached.Ping(context.Background(), nil, spec.Addr(), nil); err != nil {
		t.Errorf("memcached after the fill: %v", err)
	}
}
