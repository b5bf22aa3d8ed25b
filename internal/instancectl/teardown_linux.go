package instancectl

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

// KillAll kills every process running as a user-data identity of ids: what
// scripts still run or left behind (teardown; the daemon runs as root).
// Each identity's processes are killed by a shell running as that
// identity, with kill(-1): the kernel signals every process of the uid
// in one pass over the process table, so none escapes by forking
// meanwhile, and nothing of any other uid can be signalled.
func KillAll(ctx context.Context, ids *identity.Allocator) error {
	claimed, err := ids.Claimed()
	if err != nil {
		return err
	}
	var errs []error
	for key, id := range claimed {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", "kill -KILL -1 2>/dev/null; exit 0")
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id.UID, Gid: id.GID}}
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("kill the processes of %s (uid %d): %w: %s", key, id.UID, err, out))
		}
	}
	return errors.Join(errs...)
}

// killGroupOnCancel runs cmd in a process group of its own and, when its
// context ends, kills the whole group: the script and what it started
// (nsenter, unshare and setpriv exec in place, so the group is the
// script's).
func killGroupOnCancel(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
}
