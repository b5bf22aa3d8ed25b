package instancectl

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

// fakeEC2 holds instances' user data and consoles in memory.
type fakeEC2 struct {
	mu       sync.Mutex
	topo     ec2.Topology
	userData map[string]string
	console  map[string]*string // nil: started, no output yet
	reads    int                // UserData calls
}

func (f *fakeEC2) Topology(context.Context, ec2.TopologySelector) (*ec2.Topology, error) {
	return &f.topo, nil
}

func (f *fakeEC2) UserData(_ context.Context, _, _, id string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return []byte(f.userData[id]), nil
}

func (f *fakeEC2) ConsoleStarted(_ context.Context, _, _, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.console[id]
	return ok, nil
}

func (f *fakeEC2) StartConsole(_ context.Context, _, _, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.console[id] = nil
	return nil
}

func (f *fakeEC2) WriteConsoleOutput(_ context.Context, _, _, id string, out []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := string(out)
	f.console[id] = &s
	return nil
}

// hostNet runs the program on the host, without the setpriv prefix (but
// with the umask wrapper), and records the interfaces entered.
type hostNet struct {
	loopback bool
	mu       sync.Mutex
	entered  []string
}

func (h *hostNet) Loopback() bool             { return h.loopback }
func (h *hostNet) Sync(context.Context) error { return nil }
func (h *hostNet) InstanceCommand(ctx context.Context, eni string, argv ...string) (*exec.Cmd, error) {
	h.mu.Lock()
	h.entered = append(h.entered, eni)
	h.mu.Unlock()
	if i := slices.Index(argv, "--"); filepath.Base(argv[0]) == "setpriv" && i > 0 {
		argv = argv[i+1:]
	}
	return exec.CommandContext(ctx, argv[0], argv[1:]...), nil
}

// Each running instance's user data runs once, in its primary interface's
// network, and its output becomes the console; stopped instances and
// instances without user data run nothing; a started console is never
// started again.
func TestUserDataRunsOnce(t *testing.T) {
	f := &fakeEC2{
		topo: ec2.Topology{Interfaces: []ec2.TopoInterface{
			{Account: "a", Region: "r", ID: "eni-1", InstanceID: "i-1", InstanceState: "running"},
			{Account: "a", Region: "r", ID: "eni-2", InstanceID: "i-2", InstanceState: "stopped"},
			{Account: "a", Region: "r", ID: "eni-3", InstanceID: "i-3", InstanceState: "running"},
			{Account: "a", Region: "r", ID: "eni-4"},
		}},
		userData: map[string]string{"i-1": "#!/bin/sh\necho hello from $INSTANCE_ID\n", "i-2": "echo no\n"},
		console:  map[string]*string{},
	}
	net := &hostNet{}
	c := New(f, net, Config{Identities: identity.New(t.TempDir(), identity.UserData())})
	ctx := context.Background()
	for range 2 {
		if err := c.Reconcile(ctx, nil); err != nil {
			t.Fatal(err)
		}
		c.Wait()
	}
	if out := f.console["i-1"]; out == nil || *out != "hello from i-1\n" {
		t.Errorf("console of i-1 = %v, want the script's output", out)
	}
	if _, ok := f.console["i-2"]; ok {
		t.Error("a stopped instance's console was started")
	}
	if out, ok := f.console["i-3"]; !ok || out != nil {
		t.Errorf("console of i-3 (no user data) = %v, %v; want started and empty", out, ok)
	}
	if !slices.Equal(net.entered, []string{"eni-1"}) {
		t.Errorf("scripts ran in %v, want eni-1 once", net.entered)
	}
	if f.reads != 2 {
		t.Errorf("user data read %d times, want once per started instance (2)", f.reads)
	}

	// A script that fails says so in the console.
	f.topo.Interfaces = append(f.topo.Interfaces, ec2.TopoInterface{Account: "a", Region: "r", ID: "eni-5", InstanceID: "i-5", InstanceState: "running"})
	f.userData["i-5"] = "echo oops; exit 3"
	if err := c.Reconcile(ctx, []string{"ec2/a/r/instance/i-5"}); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if out := f.console["i-5"]; out == nil || !strings.HasPrefix(*out, "oops\ncachalot: user data exited: exit status 3") {
		t.Errorf("console of a failing script = %v", out)
	}

	// The loopback mode has no instance networks: nothing runs.
	lbEC2, lbNet := &fakeEC2{topo: f.topo, userData: f.userData, console: map[string]*string{}}, &hostNet{loopback: true}
	lb := New(lbEC2, lbNet, Config{})
	if err := lb.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	lb.Wait()
	if len(lbEC2.console) != 0 || len(lbNet.entered) != 0 {
		t.Errorf("the loopback mode started consoles %v, ran in %v", lbEC2.console, lbNet.entered)
	}
}

// A stopped instance's user data stops with it, children included: the
// script's console records how it ended, and the process it started in the
// background is gone.
func TestUserDataStopsWithInstance(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	f := &fakeEC2{
		topo: ec2.Topology{Interfaces: []ec2.TopoInterface{
			{Account: "a", Region: "r", ID: "eni-1", InstanceID: "i-1", InstanceState: "running"},
		}},
		userData: map[string]string{"i-1": "sleep 600 & echo $! > " + pidFile + "; echo started; wait\n"},
		console:  map[string]*string{},
	}
	c := New(f, &hostNet{}, Config{Identities: identity.New(t.TempDir(), identity.UserData())})
	ctx := context.Background()
	if err := c.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var pid int
	for pid == 0 {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	f.topo.Interfaces[0].InstanceState = "stopped"
	f.mu.Unlock()
	if err := c.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	c.Wait() // returns only because the script was killed
	f.mu.Lock()
	out := f.console["i-1"]
	f.mu.Unlock()
	if out == nil || !strings.Contains(*out, "started\ncachalot: user data exited: signal: killed") {
		t.Errorf("console of a stopped instance's script = %v", out)
	}
	// The background child was in the script's process group: killed too
	// (kill 0 probes it; a zombie would still answer, but its parent, the
	// shell, is gone, so init reaps it).
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the script's child %d survived its instance's stop", pid)
}
