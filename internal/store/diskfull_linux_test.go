package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// diskFullChildEnv marks the copy of the test binary that TestDiskFull runs
// in a private mount namespace; its value is the parent's mount namespace,
// which the child checks it does not share before it mounts anything.
const diskFullChildEnv = "STORE_DISK_FULL_PARENT"

// TestDiskFull fills a 1 MiB tmpfs with concurrent Updates until commits
// fail: every failure is ENOSPC, every acknowledged write is there (and
// only those, for readers and watchers), and once space is freed the same
// store writes again and reopens whole. The tmpfs is mounted in a copy of
// the test binary running in its own mount namespace, so nothing of the
// host's is touched.
func TestDiskFull(t *testing.T) {
	if os.Getenv(diskFullChildEnv) != "" {
		diskFullChild(t)
		return
	}
	// The marker is internal/privtest's, spelled out: store imports
	// nothing of Cachalot's, not even in tests.
	const marker = "[privileged]"
	if os.Geteuid() != 0 {
		t.Skipf("%s skipped: needs root to mount a tmpfs", marker)
	}
	t.Logf("%s running as root", marker)
	parent, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFull$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), diskFullChildEnv+"="+parent)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	// Quote the child's lines so that its test markers are not taken for ours.
	quoted := "child| " + strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "\nchild| ")
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDiskFull ") {
		t.Fatalf("child in a private mount namespace: %v\n%s", err, quoted)
	}
}

func diskFullChild(t *testing.T) {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || self == os.Getenv(diskFullChildEnv) {
		t.Fatalf("child mount namespace %q (%v) is the parent's: refusing to mount", self, err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make / private: %v", err)
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 256<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.db")
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes := s.Watch(ctx)

	acked, failed := fill(t, s)
	if len(acked) == 0 || len(failed) == 0 {
		t.Fatalf("%d writes acknowledged, %d failed: the disk never filled or never took a write", len(acked), len(failed))
	}
	t.Logf("%d writes acknowledged before the disk filled, %d failed", len(acked), len(failed))
	for k, err := range failed {
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Update %s = %v, want ENOSPC", k, err)
		}
	}
	got, rev := dump(t, s)
	if diff := cmp.Diff(acked, got); diff != "" {
		t.Errorf("on a full disk (-acknowledged +stored):\n%s", diff)
	}
	if rev != uint64(len(acked)) {
		t.Errorf("revision = %d, want %d (one per acknowledged Update)", rev, len(acked))
	}
	notified := map[string]string{}
	for len(changes) > 0 {
		c := <-changes
		for _, k := range c.Keys {
			notified[k] = acked[k]
		}
	}
	if diff := cmp.Diff(acked, notified); diff != "" {
		t.Errorf("watcher notified (-acknowledged +notified):\n%s", diff)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	put(t, s, "after", "space freed")
	acked["after"] = "space freed"
	s.Close()
	s2, err := OpenBolt(path)
	if err != nil {
		t.Fatalf("reopen after a full disk: %v", err)
	}
	defer s2.Close()
	if got, _ := dump(t, s2); !cmp.Equal(acked, got) {
		t.Errorf("after reopen: %d keys, want the %d acknowledged", len(got), len(acked))
	}
}

// fill runs 8 writers of 16 KiB values until each has seen a failure, and
// returns what was acknowledged and the error of each failed key.
func fill(t *testing.T, s *Bolt) (acked map[string]string, failed map[string]error) {
	t.Helper()
	acked, failed = map[string]string{}, map[string]error{}
	var mu sync.Mutex // guards acked and failed
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("w%d/%03d", w, i)
				v := strings.Repeat(k, 16<<10/len(k))
				err := s.Update(context.Background(), func(tx Tx) error { return tx.Put(k, []byte(v)) })
				mu.Lock()
				if err != nil {
					failed[k] = err
				} else {
					acked[k] = v
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return acked, failed
}
