//go:build linux

package engine

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exitNotifier is a process's pidfd registered with the runtime's network
// poller: waiting on it costs no CPU and no timer, and the exit is seen
// at once, where polling /proc every PollInterval cost each watched node
// ~5 reads a second (with 2,000 idle nodes, most of the daemon's idle CPU;
// bench/capacity). The fd names the very process, so a recycled pid
// cannot be mistaken for it.
type exitNotifier struct{ f *os.File }

// openExitNotifier returns a notifier for p, or nil if the kernel has no
// pidfd (before 5.10 for PIDFD_NONBLOCK) or p is already gone: the caller
// then polls.
func openExitNotifier(p procID) *exitNotifier {
	fd, err := unix.PidfdOpen(p.PID, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil
	}
	// The fd is p's only if the pid still was p's after it was opened
	// (p was started before, and a pid is held by one process at a time).
	if !alive(p) {
		unix.Close(fd)
		return nil
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	if f == nil {
		unix.Close(fd)
		return nil
	}
	return &exitNotifier{f: f}
}

// wait blocks until the process has exited (a zombie counts) or close is
// called; it reports whether the process exited. An error of the poller
// reports false: the caller polls.
func (e *exitNotifier) wait() bool {
	rc, err := e.f.SyscallConn()
	if err != nil {
		return false
	}
	exited := false
	err = rc.Read(func(fd uintptr) bool {
		// Ask the fd itself first: the poller forgets a readiness that
		// came before this wait began.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		if errors.Is(err, unix.EINTR) {
			return false
		}
		exited = err == nil && n > 0
		return exited || err != nil
	})
	return err == nil && exited
}

// close ends a wait under way and releases the fd; safe to call twice.
func (e *exitNotifier) close() { _ = e.f.Close() }
