package netplane

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// freshChildEnv marks the copy of the test binary that TestFreshNetnsDir
// runs in a private mount namespace; its value is the parent's mount
// namespace, which the child checks it does not share before it mounts
// anything.
const freshChildEnv = "NETPLANE_FRESH_NETNS_PARENT"

// freshCases are the histories of a machine's /run/netns that
// TestFreshNetnsDir replays, each from an empty, unmounted /run/netns.
var freshCases = []struct {
	name string
	run  func(t *testing.T, p *Plane)
}{
	// A machine that never ran Cachalot nor "ip netns add": our namespaces
	// come first, iproute2's after (TestKernelInternetConverges did this and
	// leaked every namespace of its plane).
	{"ours-first", func(t *testing.T, p *Plane) {
		ino := freshNamespace(t, p, p.prefix+"-a")
		freshNamespace(t, p, p.prefix+"-b")
		checkNetnsDir(t)
		run(t, "ip", "netns", "add", p.prefix+"-ipr")
		checkNetnsDir(t)
		if got := freshNamespace(t, p, p.prefix+"-a"); got != ino {
			t.Errorf("namespace %s-a after ip netns add: inode %d, want the same namespace (%d)", p.prefix, got, ino)
		}
		if err := deleteNamespace(p.prefix + "-b"); err != nil {
			t.Errorf("deleteNamespace(%s-b) after ip netns add: %v", p.prefix, err)
		}
		run(t, "ip", "netns", "del", p.prefix+"-ipr")
	}},
	// iproute2 first, as on most machines: we find its shared mount.
	{"iproute2-first", func(t *testing.T, p *Plane) {
		run(t, "ip", "netns", "add", p.prefix+"-ipr")
		checkNetnsDir(t)
		freshNamespace(t, p, p.prefix+"-a")
		checkNetnsDir(t)
	}},
	// An older Cachalot created namespaces in the plain directory, then
	// "ip netns add" hid them under its bind mount; one was half deleted
	// (its visible copy unmounted, the file left busy). Apply recreates
	// that one and Teardown (the test plane's cleanup) removes them all.
	{"hidden-by-iproute2", func(t *testing.T, p *Plane) {
		legacyNamespace(t, p.prefix+"-old1")
		legacyNamespace(t, p.prefix+"-old2")
		run(t, "ip", "netns", "add", p.prefix+"-ipr")
		if err := unix.Unmount(filepath.Join(netnsDir, p.prefix+"-old2"), unix.MNT_DETACH); err != nil {
			t.Fatalf("unmount the visible copy of old2: %v", err)
		}
		freshNamespace(t, p, p.prefix+"-old2")
		checkNetnsDir(t)
	}},
	// The same leftovers met by this version: setting up the directory
	// hides them as iproute2 would, and they still go.
	{"upgrade", func(t *testing.T, p *Plane) {
		legacyNamespace(t, p.prefix+"-old1")
		freshNamespace(t, p, p.prefix+"-a")
		checkNetnsDir(t)
	}},
}

// TestFreshNetnsDir replays freshCases in a copy of the test binary that
// runs in a private mount namespace with a tmpfs over /run, so that each
// starts with an empty, unmounted /run/netns and the host's is not
// touched: each under a private /run (as here) and under a shared one (as
// with systemd).
func TestFreshNetnsDir(t *testing.T) {
	if os.Getenv(freshChildEnv) != "" {
		freshNetnsChild(t)
		return
	}
	requireRoot(t)
	for _, bin := range []string{"ip", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("needs %s: %v", bin, err)
		}
	}
	parent, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFreshNetnsDir$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), freshChildEnv+"="+parent)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	// Quote the child's lines so that its test markers are not taken for ours.
	quoted := "child| " + strings.ReplaceAll(strings.TrimSpace(string(out)), "\n", "\nchild| ")
	if err != nil {
		t.Fatalf("child in a private mount namespace: %v\n%s", err, quoted)
	}
	for _, run := range []string{"private-run", "shared-run"} {
		for _, c := range freshCases {
			if want := "--- PASS: TestFreshNetnsDir/" + run + "/" + c.name + " "; !strings.Contains(string(out), want) {
				t.Errorf("child did not pass %s/%s:\n%s", run, c.name, quoted)
			}
		}
	}
}

// freshNetnsChild is TestFreshNetnsDir in its private mount namespace.
func freshNetnsChild(t *testing.T) {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || self == os.Getenv(freshChildEnv) {
		t.Fatalf("child mount namespace %q (%v) is the parent's: refusing to mount over /run", self, err)
	}
	// Nothing mounted here may propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make / private: %v", err)
	}
	for _, shared := range []bool{false, true} {
		name := map[bool]string{false: "private-run", true: "shared-run"}[shared]
		t.Run(name, func(t *testing.T) {
			for _, c := range freshCases {
				t.Run(c.name, func(t *testing.T) {
					freshRun(t, shared)
					p, _ := newTestPlane(t)
					c.run(t, p)
				})
			}
		})
	}
}

// freshRun mounts an empty tmpfs over /run until the test ends, shared if
// asked, and checks after the test (after the plane's Teardown) that no
// namespace is mounted anywhere under its /run/netns, hidden or not.
func freshRun(t *testing.T, shared bool) {
	t.Helper()
	if err := unix.Mount("tmpfs", "/run", "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs on /run: %v", err)
	}
	if shared {
		if err := unix.Mount("", "/run", "", unix.MS_SHARED, ""); err != nil {
			t.Fatalf("make /run shared: %v", err)
		}
	}
	t.Cleanup(func() {
		for _, m := range netnsMounts(t) {
			if m.fstype == "nsfs" {
				t.Errorf("namespace mount left at %s (mount %s on %s)", m.point, m.id, m.parent)
			}
		}
		if err := unix.Unmount("/run", unix.MNT_DETACH); err != nil {
			t.Errorf("unmount /run: %v", err)
		}
	})
	if _, err := os.Lstat(netnsDir); !os.IsNotExist(err) {
		t.Fatalf("%s exists on a fresh /run (%v)", netnsDir, err)
	}
}

// freshNamespace ensures the namespace name as Apply does and returns its
// inode.
func freshNamespace(t *testing.T, p *Plane, name string) uint64 {
	t.Helper()
	h, err := p.ensureNamespace(Namespace{Name: name, Role: RoleInterface})
	if err != nil {
		t.Fatalf("ensureNamespace(%s): %v", name, err)
	}
	defer p.closeSession(name) // closes h
	var st unix.Stat_t
	if err := unix.Fstat(int(h.ns), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// legacyNamespace creates a namespace at netnsDir/name as Cachalot did
// before it set up netnsDir: in a plain directory.
func legacyNamespace(t *testing.T, name string) {
	t.Helper()
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(netnsDir, name)
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	run(t, "unshare", "--net="+path, "true")
}

// checkNetnsDir checks that netnsDir is what iproute2 makes it: one mount,
// a bind mount of the directory onto itself, shared.
func checkNetnsDir(t *testing.T) {
	t.Helper()
	var dirs []mountInfo
	for _, m := range netnsMounts(t) {
		if m.point == netnsDir {
			dirs = append(dirs, m)
		}
	}
	if len(dirs) != 1 {
		t.Errorf("%d mounts on %s, want 1: %+v", len(dirs), netnsDir, dirs)
		return
	}
	if m := dirs[0]; m.root != "/netns" || !m.shared {
		t.Errorf("mount on %s: root %s, shared %v; want /netns (a bind of itself), shared", netnsDir, m.root, m.shared)
	}
}

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	id, parent, root, point, fstype string
	shared                          bool
}

// netnsMounts returns the mounts on netnsDir and below, visible or not,
// in the tree of the mount on /run (the test's tmpfs): those of the /run
// it covers do not count.
func netnsMounts(t *testing.T) []mountInfo {
	t.Helper()
	_, runID, err := unix.NameToHandleAt(unix.AT_FDCWD, "/run", 0)
	if err != nil {
		t.Fatalf("mount id of /run: %v", err)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var all []mountInfo
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// id parent major:minor root point options [optional...] - fstype source super
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		if len(f) < 7 || sep < 6 || sep+1 >= len(f) {
			t.Fatalf("mountinfo line %q", sc.Text())
		}
		m := mountInfo{id: f[0], parent: f[1], root: f[3], point: f[4], fstype: f[sep+1]}
		for _, opt := range f[6:sep] {
			m.shared = m.shared || strings.HasPrefix(opt, "shared:")
		}
		all = append(all, m)
	}
	// The mounts descending from /run's.
	under := map[string]bool{strconv.Itoa(runID): true}
	for grew := true; grew; {
		grew = false
		for _, m := range all {
			if under[m.parent] && !under[m.id] {
				under[m.id], grew = true, true
			}
		}
	}
	var out []mountInfo
	for _, m := range all {
		if under[m.id] && (m.point == netnsDir || strings.HasPrefix(m.point, netnsDir+"/")) {
			out = append(out, m)
		}
	}
	return out
}
