package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// Snapshots of a node's dataset. SnapshotTo has the engine stream its RDB
// through the admin connection (SYNC for the RDB only, as `redis-cli
// --rdb`: the engine's fork writes to the socket, not its disk) into a
// file of the caller's, atomically: a temporary name beside it, synced,
// renamed and the directory synced, so a crash at any point leaves either
// no file or the whole one. An engine without that has BGSAVE write its
// dump file, which is then moved out of its data directory, without
// following links (hard-linked, or copied), the same way. NodeSpec.Seed is the other way: a new node's engine
// loads a snapshot at its first start.

// ErrNoSpace says the file system of a snapshot has less room than the
// dataset may need.
var ErrNoSpace = errors.New("not enough free disk space for the snapshot")

// ErrNoSnapshots says the engine has no snapshots.
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
	s.snaps.Lock()
	defer s.snaps.Unlock()
	if spec.Engine.Engine == catalog.Memcached {
		return s.memcachedSnapshotTo(ctx, nodeID, spec, dst)
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
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
	dump := filepath.Join(dir, dataDirName, redis.DumpFile)
	size, err := writeAtomic(dst, func(w io.Writer) (int64, error) { return admin.StreamRDB(ctx, c, w) })
	if err == nil {
		// A disk-based synchronisation (repl-diskless-sync no) leaves the
		// dump in the data directory; see takeDump.
		if err := os.Remove(dump); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
		}
		return size, nil
	}
	if ctx.Err() != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	// An engine without rdb-only synchronisation: BGSAVE, and its dump.
	s.log.Info("snapshot by BGSAVE", "node", nodeID, "stream", err)
	if c, err = admin.Dial(ctx, spec.Dial, spec.adminAddr()); err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	defer c.Close()
	if err := admin.BackgroundSave(ctx, c, 10*time.Millisecond); err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	if size, err = takeDump(dump, dst); err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	return size, nil
}

// takeDump moves the engine's dump file to dst: linked (the engine wrote
// and synced it; nothing is copied) when both are on one file system,
// copied otherwise. The dump leaves the data directory either way: an
// engine restarted after a crash must not load an old snapshot (it
// starts empty, as without persistence).
func takeDump(dump, dst string) (int64, error) {
	size, err := linkAtomic(dump, dst)
	if err != nil {
		src, oerr := openRegular(dump)
		if oerr != nil {
			return 0, oerr
		}
		size, err = copyAtomic(src, dst)
		src.Close()
		if err != nil {
			return 0, err
		}
	}
	// Unlinking a name never follows a link the engine may have put there.
	if err := os.Remove(dump); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	return size, nil
}

// linkAtomic hard-links the regular file src as dst (through a temporary
// name, checked to be the file src was, given to the daemon and synced).
func linkAtomic(src, dst string) (int64, error) {
	fi, err := os.Lstat(src)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", src)
	}
	tmp := dst + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		return 0, err
	}
	if got, err := os.Lstat(tmp); err != nil || !os.SameFile(fi, got) {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("%s changed while linked", src)
	}
	err = os.Lchown(tmp, os.Geteuid(), os.Getegid())
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	return fi.Size(), syncDir(filepath.Dir(dst))
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

// copyAtomic writes r to dst as writeAtomic does.
func copyAtomic(r io.Reader, dst string) (int64, error) {
	return writeAtomic(dst, func(w io.Writer) (int64, error) { return io.Copy(w, r) })
}

// writeAtomic writes dst with write through a synced temporary file
// renamed over it, then syncs dst's directory.
func writeAtomic(dst string, write func(io.Writer) (int64, error)) (int64, error) {
	tmp := dst + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := write(f)
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

// memcachedSnapshotTo writes a dump of a memcached node's items to dst
// (memcached.Conn.Dump; the engine has no persistence of its own), read
// over the node's TLS when it has it, as the stats are.
func (s *Supervisor) memcachedSnapshotTo(ctx context.Context, nodeID string, spec NodeSpec, dst string) (int64, error) {
	admin, err := withTLS(redis.Admin{}, spec)
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	c, err := memcached.DialTLS(ctx, spec.Dial, spec.Addr(), admin.TLS)
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	defer c.Close()
	m, err := c.Stats(ctx)
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	used := atoi(m["bytes"])
	if free, ok := freeBytes(filepath.Dir(dst)); ok && free < uint64(used)+spaceMargin {
		return 0, fmt.Errorf("snapshot of %s: %w: %d bytes free in %s, the dataset uses %d", nodeID, ErrNoSpace, free, filepath.Dir(dst), used)
	}
	var st memcached.DumpStats
	t0 := time.Now()
	size, err := writeAtomic(dst, func(w io.Writer) (int64, error) {
		st, err = c.Dump(ctx, w, time.Now())
		return st.Bytes, err
	})
	if err != nil {
		return 0, fmt.Errorf("snapshot of %s: %w", nodeID, err)
	}
	s.log.Info("memcached dump written", "node", nodeID, "items", st.Items, "bytes", size, "took", time.Since(t0))
	return size, nil
}

// seedFileName is the name of a seed (NodeSpec.Seed) in the data
// directory of an engine: Redis's and Valkey's dump file, which they load
// themselves; memcached's is loaded by the supervisor (loadMemcachedSeed).
func seedFileName(engine string) string {
	if engine == catalog.Memcached {
		return memcachedSeedFile
	}
	return redis.DumpFile
}

// memcachedSeedFile is the name of a memcached dump seeding a new node.
const memcachedSeedFile = "seed.mcdump"

// loadMemcachedSeed writes the dump seeding a new memcached node into its
// running engine: verified whole first, then loaded; items expired since
// the dump was taken are left out.
func (n *node) loadMemcachedSeed(ctx context.Context, data string) error {
	n.mu.Lock()
	spec := n.spec
	n.mu.Unlock()
	path := filepath.Join(data, memcachedSeedFile)
	f, err := openRegular(path)
	if err != nil {
		return fmt.Errorf("seed from snapshot: %w", err)
	}
	defer f.Close()
	if _, err := memcached.VerifyDump(f); err != nil {
		return fmt.Errorf("seed from snapshot: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seed from snapshot: %w", err)
	}
	admin, err := withTLS(redis.Admin{}, spec)
	if err != nil {
		return err
	}
	c, err := memcached.DialTLS(ctx, spec.Dial, spec.Addr(), admin.TLS)
	if err != nil {
		return fmt.Errorf("seed from snapshot: %w", err)
	}
	defer c.Close()
	t0 := time.Now()
	st, err := c.Load(ctx, bufio.NewReaderSize(f, 1<<20), time.Now())
	if err != nil {
		return fmt.Errorf("seed from snapshot: %w", err)
	}
	lvl := slog.LevelInfo
	if st.Refused > 0 {
		lvl = slog.LevelWarn
	}
	n.s.log.Log(ctx, lvl, "memcached seed loaded", "node", n.id, "items", st.Items, "expired", st.Expired, "refused", st.Refused, "took", time.Since(t0))
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
