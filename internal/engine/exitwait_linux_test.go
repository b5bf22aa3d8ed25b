//go:build linux

package engine

import (
	"os/exec"
	"testing"
	"time"
)

func startSleep(t *testing.T) (*exec.Cmd, procID) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	id, err := identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, id
}

func waitAsync(e *exitNotifier) <-chan bool {
	ch := make(chan bool, 1)
	go func() { ch <- e.wait() }()
	return ch
}

func TestExitNotifierSeesExit(t *testing.T) {
	cmd, id := startSleep(t)
	e := openExitNotifier(id)
	if e == nil {
		t.Fatal("openExitNotifier = nil for a running process, want a pidfd (kernel 5.10+)")
	}
	defer e.close()
	done := waitAsync(e)
	select {
	case got := <-done:
		t.Fatalf("wait() = %v before the process exited", got)
	case <-time.After(50 * time.Millisecond):
	}
	_ = cmd.Process.Kill()
	select {
	case got := <-done:
		if !got {
			t.Fatal("wait() = false after the process was killed, want true")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait() did not return after the process was killed")
	}
	if !reap(id.PID) || alive(id) {
		t.Fatal("process still alive after wait() reported its exit")
	}
}

func TestExitNotifierExitBeforeWait(t *testing.T) {
	cmd, id := startSleep(t)
	e := openExitNotifier(id)
	if e == nil {
		t.Fatal("openExitNotifier = nil for a running process")
	}
	defer e.close()
	_ = cmd.Process.Kill()
	time.Sleep(50 * time.Millisecond) // the exit's readiness precedes the wait
	select {
	case got := <-waitAsync(e):
		if !got {
			t.Fatal("wait() = false for a process that exited before it, want true")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait() missed an exit that came before it began")
	}
}

func TestExitNotifierClose(t *testing.T) {
	_, id := startSleep(t)
	e := openExitNotifier(id)
	if e == nil {
		t.Fatal("openExitNotifier = nil for a running process")
	}
	done := waitAsync(e)
	e.close()
	e.close() // twice is safe
	select {
	case got := <-done:
		if got {
			t.Fatal("wait() = true after close of a running process's notifier, want false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("close did not end the wait")
	}
}

func TestExitNotifierGoneProcess(t *testing.T) {
	cmd, id := startSleep(t)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if e := openExitNotifier(id); e != nil {
		e.close()
		t.Fatal("openExitNotifier of a reaped process != nil, want nil (the caller polls)")
	}
}
