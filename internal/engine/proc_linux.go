//go:build linux

package engine

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procID identifies one process for its whole life: a pid alone may be
// recycled, the pair (pid, kernel start time) may not.
type procID struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"` // /proc/<pid>/stat field 22, clock ticks since boot
}

// readStat returns the state letter and start time of a process.
func readStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: parse
	// after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+2:])
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return f[0][0], start, nil
}

// identify returns the procID of a running pid.
func identify(pid int) (procID, error) {
	_, st, err := readStat(pid)
	if err != nil {
		return procID{}, fmt.Errorf("identify pid %d: %w", pid, err)
	}
	return procID{PID: pid, StartTime: st}, nil
}

// alive reports whether the very process p still runs. A zombie is dead;
// if it is our child it is reaped here.
func alive(p procID) bool {
	if p.PID <= 0 {
		return false
	}
	state, st, err := readStat(p.PID)
	if err != nil || st != p.StartTime {
		return false
	}
	if state == 'Z' || state == 'X' {
		return !reap(p.PID)
	}
	return true
}

// reap collects an exited child without blocking. It reports whether the
// process is gone for good: reaped now, or not our child (its parent
// reaps it). A thread-group leader shows 'Z' while its other threads
// still exit; it cannot be reaped yet, and counts as alive until it can.
func reap(pid int) bool {
	var ws syscall.WaitStatus
	wpid, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	return errors.Is(err, syscall.ECHILD) || wpid == pid
}

// procCwd returns the working directory of a process.
func procCwd(pid int) (string, error) {
	return os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
}

// procExe returns the executable's base name of a process.
func procExe(pid int) (string, error) {
	p, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return "", err
	}
	return filepath.Base(strings.TrimSuffix(p, " (deleted)")), nil
}

// owned reports whether p is alive and is the engine of node directory
// dir: same start time (so not a recycled pid) and the node's data
// directory as working directory (the supervisor starts every engine
// there; a Cachalot before the data directory started it in dir itself).
func owned(p procID, dir string) bool {
	if !alive(p) {
		return false
	}
	cwd, err := procCwd(p.PID)
	return err == nil && (cwd == filepath.Join(dir, dataDirName) || cwd == dir)
}

// fileOwner returns the uid owning a file.
func fileOwner(fi os.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// openRegular opens a regular file for reading without following a
// symbolic link or blocking on a FIFO: the engine, which may have put
// either in its data directory, cannot make the supervisor read another
// file or hang.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

// signal sends sig to p if it is still that process.
func signal(p procID, sig syscall.Signal) error {
	if !alive(p) {
		return nil
	}
	if err := syscall.Kill(p.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %d to pid %d: %w", sig, p.PID, err)
	}
	return nil
}

// killGroup sends SIGKILL to p's process group (the engine and any fork of
// it, e.g. a BGSAVE child), if p still is the group leader we started.
func killGroup(p procID) error {
	if !alive(p) {
		return nil
	}
	if err := syscall.Kill(-p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return signal(p, syscall.SIGKILL)
	}
	return nil
}

// detach makes cmd start in its own session, so the engine outlives the
// daemon and is not hit by signals sent to the daemon's process group.
func detach(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setpgid = false // Setsid already makes a new group; both is EPERM
}

// engineProcsUnder lists the engine processes whose working directory is
// under root.
func engineProcsUnder(root string) ([]procID, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	prefix := filepath.Clean(root) + string(filepath.Separator)
	var out []procID
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := procCwd(pid)
		if err != nil || !strings.HasPrefix(cwd, prefix) {
			continue
		}
		exe, err := procExe(pid)
		if err != nil {
			continue
		}
		switch exe {
		// Debian links redis-server to redis-check-rdb (valkey likewise).
		case "redis-server", "redis-check-rdb", "valkey-server", "valkey-check-rdb", "memcached":
		default:
			continue
		}
		if id, err := identify(pid); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// rssBytes returns the resident set size of a process (VmRSS).
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// fdHardLimit returns the hard RLIMIT_NOFILE engines inherit.
func fdHardLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Max > 1<<30 {
		return 0
	}
	return int(r.Max)
}

// runningAsRoot reports whether the daemon runs with euid 0.
func runningAsRoot() bool { return os.Geteuid() == 0 }

// supervisionSupported is true where processes can be supervised.
const supervisionSupported = true
