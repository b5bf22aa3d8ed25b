package instancectl

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// confinedNet runs the program on the host exactly as given: the setpriv
// drop included, only the network namespace left out (identities do not
// depend on it).
type confinedNet struct{}

func (confinedNet) Loopback() bool             { return false }
func (confinedNet) Sync(context.Context) error { return nil }
func (confinedNet) InstanceCommand(ctx context.Context, _ string, argv ...string) (*exec.Cmd, error) {
	return exec.CommandContext(ctx, argv[0], argv[1:]...), nil
}

func (f *fakeEC2) consoleOf(id string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if out := f.console[id]; out != nil {
		return *out, true
	}
	return "", false
}

// waitFor polls cond until it holds; a minute without is a failure (the
// scripts involved take milliseconds).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// startConfined starts argv as an engine is started: dropped to id by
// setpriv. It is killed at cleanup.
func startConfined(t *testing.T, setpriv string, id identity.ID, argv ...string) int {
	t.Helper()
	cmd := exec.Command(setpriv, identity.Drop{Setpriv: setpriv, ID: &id}.Argv(argv)[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

// TestUserDataConfined: run as root, account A's user data runs as an
// identity of its own, with no capabilities and no_new_privs; it cannot
// signal an engine nor account B's user data, nor read B's files or
// process memory, while it can signal its own processes; what each
// writes is readable by its owner only.
func TestUserDataConfined(t *testing.T) {
	privtest.RequireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed: %v", err)
	}
	dir := t.TempDir()
	ids := identity.New(filepath.Join(dir, "user-data"), identity.UserData())
	engineID, err := identity.New(filepath.Join(dir, "engines"), identity.Engines()).Claim("cc-0001-001")
	if err != nil {
		t.Fatal(err)
	}
	enginePID := startConfined(t, setpriv, engineID, "sleep", "600")

	// A world-writable sticky directory, as /tmp is.
	shared, err := os.MkdirTemp("", "cachalot-userdata-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o1777); err != nil {
		t.Fatal(err)
	}

	f := &fakeEC2{
		topo: ec2.Topology{Interfaces: []ec2.TopoInterface{
			{Account: "222222222222", Region: "r", ID: "eni-b", InstanceID: "i-b", InstanceState: "running"},
		}},
		userData: map[string]string{"i-b": fmt.Sprintf("echo secret > %[1]s/b-file\necho $$ > %[1]s/b-pid.tmp && mv %[1]s/b-pid.tmp %[1]s/b-pid\nexec sleep 600\n", shared)},
		console:  map[string]*string{},
	}
	c := New(f, confinedNet{}, Config{Identities: ids, Setpriv: setpriv})
	ctx := context.Background()
	if err := c.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var bPID int
	waitFor(t, "account B's user data to start", func() bool {
		b, err := os.ReadFile(filepath.Join(shared, "b-pid"))
		bPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	t.Cleanup(func() {
		KillAll(context.Background(), ids) // by uid: never another process
		c.Wait()
	})

	f.mu.Lock()
	f.topo.Interfaces = append(f.topo.Interfaces, ec2.TopoInterface{Account: "111111111111", Region: "r", ID: "eni-a", InstanceID: "i-a", InstanceState: "running"})
	f.userData["i-a"] = fmt.Sprintf(`#!/bin/sh
echo uid=$(id -u) gid=$(id -g) groups=$(id -G)
grep -E '^(NoNewPrivs|CapEff|CapPrm|CapBnd|CapAmb):' /proc/self/status
sleep 600 & kill -0 $! 2>/dev/null && echo self:signalled || echo self:denied; kill $!
kill -0 %[1]d 2>/dev/null && echo engine:signalled || echo engine:denied
kill -0 %[2]d 2>/dev/null && echo b:signalled || echo b:denied
cat %[3]s/b-file 2>/dev/null && echo b-file:read || echo b-file:denied
cat /proc/%[2]d/environ >/dev/null 2>&1 && echo b-environ:read || echo b-environ:denied
echo mine > %[3]s/a-file
`, enginePID, bPID, shared)
	f.mu.Unlock()
	if err := c.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var console string
	waitFor(t, "account A's user data to finish", func() bool {
		var ok bool
		console, ok = f.consoleOf("i-a")
		return ok
	})

	a, okA, errA := ids.Lookup(accountKey("111111111111"))
	b, okB, errB := ids.Lookup(accountKey("222222222222"))
	if !okA || !okB || errA != nil || errB != nil || a == b || !identity.UserData().Contains(a.UID) || !identity.UserData().Contains(b.UID) {
		t.Fatalf("identities of A, B = %+v %v %v, %+v %v %v; want two distinct ones of the UserData range", a, okA, errA, b, okB, errB)
	}
	for _, want := range []string{
		fmt.Sprintf("uid=%d gid=%d groups=%d\n", a.UID, a.GID, a.GID),
		"NoNewPrivs:\t1\n", "CapEff:\t0000000000000000\n", "CapPrm:\t0000000000000000\n",
		"CapBnd:\t0000000000000000\n", "CapAmb:\t0000000000000000\n",
		"self:signalled\n", // the control: kill -0 works where it is allowed
		"engine:denied\n", "b:denied\n", "b-file:denied\n", "b-environ:denied\n",
	} {
		if !strings.Contains(console, want) {
			t.Errorf("account A's console lacks %q:\n%s", want, console)
		}
	}
	for file, owner := range map[string]identity.ID{"b-file": b, "a-file": a} {
		fi, err := os.Stat(filepath.Join(shared, file))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != owner.UID || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: owner %d, mode %v; want %d, 0600 (umask 077)", file, st.Uid, fi.Mode().Perm(), owner.UID)
		}
	}
	if b, err := os.ReadFile(filepath.Join(shared, "b-file")); err != nil || string(b) != "secret\n" {
		t.Errorf("b-file = %q, %v; want B's secret there (else the denial proves nothing)", b, err)
	}

	// Teardown kills what user data still runs (B's sleep), and nothing
	// of any other identity (the engine).
	if err := KillAll(ctx, ids); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if out, _ := f.consoleOf("i-b"); !strings.Contains(out, "signal: killed") {
		t.Errorf("console of B after KillAll = %q, want its script killed", out)
	}
	if err := syscall.Kill(enginePID, 0); err != nil {
		t.Errorf("the engine after KillAll of user data: %v, want it alive", err)
	}
}
