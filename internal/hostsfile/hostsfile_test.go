package hostsfile

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const machine = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n# a comment\n10.1.2.3 build-server\n"

func write(t *testing.T, path, prefix string, entries []Entry) bool {
	t.Helper()
	changed, err := Write(path, prefix, entries)
	if err != nil {
		t.Fatalf("Write(%s) = %v", prefix, err)
	}
	return changed
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The block is written after the machine's lines, replaced in place,
// left alone when unchanged, and removed without a trace; another
// installation's block is not touched.
func TestWriteAndRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte(machine), 0o640); err != nil {
		t.Fatal(err)
	}
	a := Entry{Addr: netip.MustParseAddr("127.64.0.2"), Names: []string{"web.abc123.0001.use1.cache.amazonaws.com"}}
	b := Entry{Addr: netip.MustParseAddr("127.64.0.3"), Names: []string{"mc.abc123.cfg.use1.cache.amazonaws.com"}}
	if !write(t, path, "cl1", []Entry{b, a}) {
		t.Error("first Write changed nothing")
	}
	want := machine + "# BEGIN cachalot cl1 (caches published to this host; removed by unpublish and teardown)\n" +
		"127.64.0.2\tweb.abc123.0001.use1.cache.amazonaws.com\n127.64.0.3\tmc.abc123.cfg.use1.cache.amazonaws.com\n# END cachalot cl1\n"
	if diff := cmp.Diff(want, read(t, path)); diff != "" {
		t.Errorf("hosts file (-want +got):\n%s", diff)
	}
	if write(t, path, "cl1", []Entry{a, b}) {
		t.Error("Write of the same entries changed the file")
	}
	write(t, path, "cl2", []Entry{{Addr: netip.MustParseAddr("127.64.0.9"), Names: []string{"other"}}})
	write(t, path, "cl1", []Entry{a})
	if err := Remove(path, "cl2"); err != nil {
		t.Fatal(err)
	}
	want = machine + "# BEGIN cachalot cl1 (caches published to this host; removed by unpublish and teardown)\n" +
		"127.64.0.2\tweb.abc123.0001.use1.cache.amazonaws.com\n# END cachalot cl1\n"
	if diff := cmp.Diff(want, read(t, path)); diff != "" {
		t.Errorf("hosts file after cl2's removal (-want +got):\n%s", diff)
	}
	if err := Remove(path, "cl1"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != machine {
		t.Errorf("hosts file after removal = %q, want the machine's %q", got, machine)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after rewrites = %v, %v; want 0640 kept", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d files, want the hosts file only", len(ents))
	}
}

// A file without a trailing newline gets one before the block; an
// unterminated block (a crash of an older writer) is replaced whole.
func TestReplaceEdges(t *testing.T) {
	got := string(Replace([]byte("127.0.0.1 localhost"), "cl1", "# BEGIN cachalot cl1\nX\n# END cachalot cl1\n"))
	if want := "127.0.0.1 localhost\n# BEGIN cachalot cl1\nX\n# END cachalot cl1\n"; got != want {
		t.Errorf("Replace without trailing newline = %q, want %q", got, want)
	}
	got = string(Replace([]byte("a\n# BEGIN cachalot cl1\nstale\n"), "cl1", ""))
	if got != "a\n" {
		t.Errorf("Replace of an unterminated block = %q, want %q", got, "a\n")
	}
	got = string(Replace([]byte("a\n# BEGIN cachalot cl10\nkeep\n# END cachalot cl10\n"), "cl1", ""))
	if got != "a\n# BEGIN cachalot cl10\nkeep\n# END cachalot cl10\n" {
		t.Errorf("Replace touched another prefix's block: %q", got)
	}
}

// Nothing to write to a missing file creates nothing.
func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	if err := Remove(path, "cl1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Remove created %s", path)
	}
}
