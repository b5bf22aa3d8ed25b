package apptest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/app"
)

// Daemon is the real binary run as `cachalot serve` on a data dir of the
// test's, for tests that kill the daemon and start it again. t.Cleanup
// kills it, runs `cachalot teardown` on the data dir and, if the test
// failed, logs serve's output.
type Daemon struct {
	Bin string // the built cachalot binary
	Dir string // the data dir
	t   testing.TB
	log string   // serve's standard output and error
	out *os.File // log, appended to by every start
	cmd *exec.Cmd
}

// BuildDaemon builds ./cmd/cachalot of this module into a temporary dir
// and prepares a data dir beside it; nothing runs until Start.
func BuildDaemon(t testing.TB) *Daemon {
	t.Helper()
	tmp := t.TempDir()
	d := &Daemon{Bin: filepath.Join(tmp, "cachalot"), Dir: filepath.Join(tmp, "data"), t: t, log: filepath.Join(tmp, "serve.log")}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("go env GOMOD = %q, %v", gomod, err)
	}
	build := exec.Command("go", "build", "-o", d.Bin, "./cmd/cachalot")
	build.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if d.out, err = os.Create(d.log); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop(syscall.SIGKILL)
		d.out.Close()
		tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec.CommandContext(tctx, d.Bin, "teardown", "--data-dir", d.Dir).Run()
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("cachalot serve output:\n%s", b)
		}
	})
	return d
}

// Start starts `cachalot serve` (with flags added) on a free loopback
// port and waits (30 s at most) for its endpoint file; the Env it returns
// has the URL and the root credentials (no App: the daemon is another
// process).
func (d *Daemon) Start(flags ...string) *Env {
	t := d.t
	t.Helper()
	os.Remove(filepath.Join(d.Dir, app.EndpointFile))
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", d.Dir, "--log-level", "warn"}, flags...)
	d.cmd = exec.Command(d.Bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // SIGKILL reaches the daemon alone
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start cachalot serve: %v", err)
	}
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(d.Dir, app.EndpointFile))
		url = strings.TrimSpace(string(b))
	}
	if url == "" {
		t.Fatalf("cachalot serve wrote no endpoint file within 30s")
	}
	creds, err := app.ReadCredentials(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{URL: url, DataDir: d.Dir, Root: creds}
}

// Stop sends sig to the running daemon, if any, and waits for it to exit
// (20 s at most, then SIGKILL).
func (d *Daemon) Stop(sig syscall.Signal) {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
	d.cmd = nil
}

// PID is the running daemon's process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }
