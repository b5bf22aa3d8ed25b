package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// Snapshots of a node's dataset. SnapshotTo has the engine write its RDB
// file (BGSAVE through the admin connection: the engine forks, writes a
// temporary file and renames it, so the file is whole) and copies it out
// of the engine's data directory, without following links, into a file
// of the caller's, atomically: a temporary file beside it, synced, renamed
// and the directory synced, so a crash at any point leaves either no file
// or the whole one. NodeSpec.Seed is the other way: a new node's engine
// loads a snapshot at its first start.

// ErrNoSpace says the file system of a snapshot has less room than the
// dataset may need.
var ErrNoSpace = errors.New("not enough free disk space for the snapshot")

// ErrNoSnapshots says the engine has no snapshots (memcached).
var ErrNoSnapshots = errors.New("this engine has no snapshots")

// spaceMargin is the room kept free beyond the dataset's size.
const spaceMargin = 16 << 20

// SnapshotTo writes a snapshot of the node's dataset to dst and returns
// its size. The node must run. The free space of dst's file system is
// checked first against the engine's memory in use (an upper bound of the
// RDB's size); snapshots are taken one at a time.
func (s *Supervisor) SnapshotTo(ctx context.Context, nodeID, dst string) (int64, error) {
	n, err := s.node(nodeID)
	if err != nil {
		return 0, err
	}
	n.mu.Lock()
	spec, admin, dir := n.spec, n.admin, n.dir
	n.mu.Unlock()
	if spec.Engine.Engine == catalog.Memcached {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, ErrNoSnapshots)
	}
	s.snaps.Lock()
	defer s.snaps.Unlock()
	c, err := admin.Dial(ctx, spec.Dial, spec.Addr())
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	defer c.Close()
	p, err := admin.Persistence(ctx, c)
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	if free, ok := freeBytes(filepath.Dir(dst)); ok && free < uint64(p.UsedMemory)+spaceMargin {
		return 0, fmt.Errorf("snapshot of %s: %w: %d bytes free in %s, the dataset uses %d", nodeID, ErrNoSpace, free, filepath.Dir(dst), p.UsedMemory)
	}
	if err := admin.BackgroundSave(ctx, c, 10*time.Millisecond); err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	src, err := openRegular(filepath.Join(dir, dataDirName, redis.DumpFile))
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	defer src.Close()
	size, err := copyAtomic(src, dst)
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	return size, nil
}

// CopyFileAtomic copies the file src to dst as SnapshotTo writes dst
// (CopySnapshot, export), and returns its size.
func CopyFileAtomic(src, dst string) (int64, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return copyAtomic(f, dst)
}

// copyAtomic writes r to dst through a synced temporary file renamed over
// it, then syncs dst's directory.
func copyAtomic(r io.Reader, dst string) (int64, error) {
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("write %s: %w", dst, err)
	}
	return n, syncDir(filepath.Dir(dst))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// seedDump copies a snapshot into a data directory made anew, as the
// engine's dump file.
func seedDump(seed, dst string) error {
	if _, err := CopyFileAtomic(seed, dst); err != nil {
		return fmt.Errorf("seed from snapshot: %w", err)
	}
	return nil
}
