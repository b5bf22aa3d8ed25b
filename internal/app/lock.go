package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LockFile in the data directory is held (flock, exclusive) by a running
// serve from Start to Close, and by Teardown while it runs. The kernel
// drops the lock when its holder exits, even by kill -9, so a stale file
// never blocks anyone; the file itself is left in place and only says
// which pid last held it.
const LockFile = "serve.lock"

// ErrServing is returned when the data dir's lock is held: a serve (or a
// teardown) of that data dir is running.
var ErrServing = errors.New("a cachalot serve is running with this data dir")

// dataDirLock is the held lock of a data dir; nil holds nothing.
type dataDirLock struct{ f *os.File }

// lockDataDir takes dir's lock without waiting and records the pid in it.
// A lock held elsewhere is ErrServing, with the holder's pid when known.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, LockFile)
	// O_CLOEXEC (os.OpenFile's default) matters: engines started by the
	// holder must not inherit the descriptor and keep the lock alive.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := flockExclusive(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			b, _ := os.ReadFile(path)
			if pid := strings.TrimSpace(string(b)); pid != "" {
				return nil, fmt.Errorf("%w (%s, pid %s)", ErrServing, dir, pid)
			}
			return nil, fmt.Errorf("%w (%s)", ErrServing, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	}
	return &dataDirLock{f: f}, nil
}

// release drops the lock; safe on nil.
func (l *dataDirLock) release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
}
