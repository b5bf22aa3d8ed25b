// Package hostsfile owns the managed block Cachalot keeps in a hosts file
// (/etc/hosts): the names of the caches published to the host, between
// "# BEGIN cachalot <prefix>" and "# END cachalot <prefix>", one block per
// installation. Everything outside the block is kept byte for byte.
//
// A change is written atomically: a new file beside the old one (same mode
// and owner), synced, then renamed over it. A hosts file that is a mount
// point (containers bind-mount /etc/hosts) cannot be renamed over; it is
// then rewritten in place, which a concurrent reader may see half-written.
//
// It is a mechanism: it knows nothing of caches. Imported by the publish
// controller and the wiring (teardown).
package hostsfile

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Entry is one line of the block: an address and its names.
type Entry struct {
	Addr  netip.Addr
	Names []string
}

func begin(prefix string) string { return "# BEGIN cachalot " + prefix }
func end(prefix string) string   { return "# END cachalot " + prefix }

// Render returns the block for prefix holding entries, sorted by address
// then name; empty when there are no entries.
func Render(prefix string, entries []Entry) string {
	if len(entries) == 0 {
		return ""
	}
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b Entry) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return strings.Compare(strings.Join(a.Names, " "), strings.Join(b.Names, " "))
	})
	var b strings.Builder
	fmt.Fprintf(&b, "%s (caches published to this host; removed by unpublish and teardown)\n", begin(prefix))
	for _, e := range es {
		names := slices.Clone(e.Names)
		slices.Sort(names)
		fmt.Fprintf(&b, "%s\t%s\n", e.Addr, strings.Join(names, " "))
	}
	fmt.Fprintf(&b, "%s\n", end(prefix))
	return b.String()
}

// Replace returns content with prefix's block replaced by block (removed
// when block is empty; appended when there was none). An unterminated block
// runs to the end of the file.
func Replace(content []byte, prefix, block string) []byte {
	var out bytes.Buffer
	lines := strings.SplitAfter(string(content), "\n")
	in, done := false, false
	for _, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		switch {
		case !in && (t == begin(prefix) || strings.HasPrefix(t, begin(prefix)+" ")):
			in = true
			if !done {
				out.WriteString(block)
				done = true
			}
		case in && t == end(prefix):
			in = false
		case !in:
			out.WriteString(l)
		}
	}
	if !done && block != "" {
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteByte('\n')
		}
		out.WriteString(block)
	}
	return out.Bytes()
}

// Write makes prefix's block of the hosts file at path hold entries (none:
// the block is removed), and reports whether the file changed. A missing
// file is created (mode 0644) only when there is something to write.
func Write(path, prefix string, entries []Entry) (changed bool, err error) {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	missing := err != nil
	block := Render(prefix, entries)
	if missing && block == "" {
		return false, nil
	}
	content := Replace(old, prefix, block)
	if !missing && bytes.Equal(content, old) {
		return false, nil
	}
	if err := writeAtomic(path, content); err != nil {
		return false, err
	}
	return true, nil
}

// Remove removes prefix's block from the hosts file at path, if any.
func Remove(path, prefix string) error {
	_, err := Write(path, prefix, nil)
	return err
}

// writeAtomic replaces path's content: a file beside it, renamed over it;
// in place if path is a mount point.
func writeAtomic(path string, content []byte) error {
	mode, uid, gid := os.FileMode(0o644), -1, -1
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".cachalot-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil && uid >= 0 {
		err = tmp.Chown(uid, gid)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = os.Rename(tmp.Name(), path)
	if errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV) {
		// A bind-mounted file: it cannot be replaced, only rewritten.
		return os.WriteFile(path, content, mode)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
