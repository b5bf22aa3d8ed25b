package netplane

// Named namespaces and their directory, shared with iproute2.
//
// A named namespace is a file in netnsDir with the namespace bind-mounted
// on it. Before its first namespace, "ip netns add" makes netnsDir a shared
// mount point: it tries mount --make-shared, and when that fails because
// netnsDir is a plain directory it bind-mounts the directory onto itself,
// recursively, and tries again. Whoever creates a namespace in a plain
// netnsDir first sets a trap: the next "ip netns add" lays the bind mount
// over the directory, copying the namespace mounts already there, and the
// originals, now hidden beneath it, keep their files busy, so that
// unmounting the visible copy and removing the file fails with EBUSY and
// the namespace leaks. So createNamespace prepares netnsDir exactly as
// iproute2 does, and deleteNamespace also reaches mounts hidden beneath
// such a bind mount, left by older versions or by a race with iproute2.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// maxStacked bounds the unmounts of one path: mounts stacked on one file
// are a mistake we undo, not a structure that grows.
const maxStacked = 16

// prepareNetnsDir makes netnsDir a shared mount point as iproute2's
// netns_add does (ip/ipnetns.c): mkdir, mount --make-shared --recursive,
// and if that fails with EINVAL (not a mount point) bind-mount the
// directory onto itself (MS_BIND|MS_REC) and make it shared. Either state
// is tolerated: set up already (by iproute2 or by us), it costs one mount
// call. Like iproute2 it runs before every new namespace, so that a
// directory unmounted behind our back is set up again before use.
func prepareNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", netnsDir, err)
	}
	// Serialise the setup with every other plane, in this process or
	// another: two that both found a plain directory would stack two bind
	// mounts, the second hiding the namespaces created under the first.
	// flock conflicts between open files, and the directory is one inode
	// whichever mount it is opened through.
	fd, err := unix.Open(netnsDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", netnsDir, err)
	}
	defer unix.Close(fd)
	if err := flock(fd); err != nil {
		return fmt.Errorf("lock %s: %w", netnsDir, err)
	}
	bound := false
	for {
		err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("make %s shared: %w", netnsDir, err)
		}
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s onto itself: %w", netnsDir, err)
		}
		bound = true
	}
}

// flock takes an exclusive lock on fd, released when fd is closed.
func flock(fd int) error {
	for {
		err := unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// createNamespace creates a network namespace and bind-mounts it at path,
// like ip netns add, from a thread that is then discarded.
func createNamespace(path string) error {
	if err := prepareNetnsDir(); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// deleteNamespace unmounts every namespace mounted on netnsDir/name, the
// visible ones and those hidden beneath a bind mount of netnsDir over
// itself, and removes the file. A missing file is not an error.
func deleteNamespace(name string) error {
	path := filepath.Join(netnsDir, name)
	if err := unmountAll(path); err != nil {
		return err
	}
	err := unix.Unlink(path)
	if errors.Is(err, unix.EBUSY) {
		// Still a mount point, in a mount we cannot see from here.
		if herr := unmountHidden(name); herr != nil {
			return fmt.Errorf("remove %s: %w; hidden mounts: %w", path, err, herr)
		}
		err = unix.Unlink(path)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// unmountAll lazily unmounts whatever is mounted on path, stacked mounts
// included, until path is no mount point.
func unmountAll(path string) error {
	for range maxStacked {
		err := unix.Unmount(path, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		switch {
		case err == nil:
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // not (or no longer) a mount point
		default:
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after %d unmounts", path, maxStacked)
}

// unmountHidden unmounts what is mounted on name in netnsDir's directory as
// the mount holding netnsDir's parent sees it, beneath any bind mount of
// netnsDir over itself. No path reaches there, so it opens that directory
// by file handle through the parent's mount (open_by_handle_at decodes the
// handle within the mount of the descriptor it is given) and unmounts
// through the descriptor's /proc/self/fd link, which resolves to the
// directory in that mount without crossing the bind mount on top of it.
func unmountHidden(name string) error {
	parent := filepath.Dir(netnsDir)
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", parent, err)
	}
	defer unix.Close(pfd)
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, netnsDir, 0)
	if err != nil {
		return fmt.Errorf("file handle of %s: %w", netnsDir, err)
	}
	dfd, err := unix.OpenByHandleAt(pfd, h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open %s beneath its mounts: %w", netnsDir, err)
	}
	defer unix.Close(dfd)
	// The handle names the directory only if the mount over netnsDir is a
	// bind mount of that directory (what iproute2 makes); anything else,
	// such as a tmpfs mounted there, hides nothing of ours.
	var got, want unix.Stat_t
	if err := unix.Fstat(dfd, &got); err != nil {
		return fmt.Errorf("stat %s beneath its mounts: %w", netnsDir, err)
	}
	if err := unix.Stat(netnsDir, &want); err != nil {
		return fmt.Errorf("stat %s: %w", netnsDir, err)
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		return fmt.Errorf("%s is not a bind mount of itself", netnsDir)
	}
	return unmountAll(fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name))
}
