package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// The on-disk layout of a bbolt meta page, as far as these tests tear it:
// a 16-byte page header, then magic, version, page size (uint32 each,
// little-endian on the machines we run on), flags, root, freelist, pgid,
// txid and checksum.
const (
	metaPageSizeOff = 16 + 8
	metaTxidOff     = 16 + 48
)

// written is a store file holding n acknowledged keys (k000…), 1 KiB each,
// and the state a reopened store must show.
func written(t *testing.T, n int) (path string, want map[string]string) {
	t.Helper()
	s, path := openTest(t)
	want = map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("k%03d", i), strings.Repeat(fmt.Sprint(i%10), 1024)
		put(t, s, k, v)
		want[k] = v
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, want
}

func pageSize(t *testing.T, f *os.File) int64 {
	t.Helper()
	var b [4]byte
	if _, err := f.ReadAt(b[:], metaPageSizeOff); err != nil {
		t.Fatal(err)
	}
	return int64(binary.LittleEndian.Uint32(b[:]))
}

// newestMeta returns the offset of the meta page of the last commit.
func newestMeta(t *testing.T, f *os.File) int64 {
	t.Helper()
	ps := pageSize(t, f)
	var newest, off int64
	for i := range int64(2) {
		var b [8]byte
		if _, err := f.ReadAt(b[:], i*ps+metaTxidOff); err != nil {
			t.Fatal(err)
		}
		if txid := int64(binary.LittleEndian.Uint64(b[:])); txid > newest {
			newest, off = txid, i*ps
		}
	}
	return off
}

// tear overwrites n bytes at off with what a half-finished write leaves.
func tear(t *testing.T, f *os.File, off int64, n int) {
	t.Helper()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xde, 0xad}, n/2), off); err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, path string, fn func(f *os.File)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fn(f)
}

// TestTornWrite: a crash while the last commit's meta page was being
// written (so before its Update could return) leaves a store that opens at
// the commit before, with every acknowledged write and nothing of the torn
// one, and goes on working.
func TestTornWrite(t *testing.T) {
	path, want := written(t, 20)
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "torn", "never acknowledged") // the commit the crash tears
	s.Close()
	edit(t, path, func(f *os.File) { tear(t, f, newestMeta(t, f)+16, 40) })

	s, err = OpenBolt(path)
	if err != nil {
		t.Fatalf("open after a torn meta page: %v", err)
	}
	got, rev := dump(t, s)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a torn commit (-acknowledged +found):\n%s", diff)
	}
	if rev != 20 {
		t.Errorf("revision = %d, want 20 (the commit before the torn one)", rev)
	}
	put(t, s, "after", "v")
	s.Close()
	s, err = OpenBolt(path)
	if err != nil {
		t.Fatalf("reopen after writing past a torn commit: %v", err)
	}
	defer s.Close()
	want["after"] = "v"
	if got, rev := dump(t, s); !cmp.Equal(got, want) || rev != 21 {
		t.Errorf("after writing past the torn commit: revision %d, %d keys; want 21, %d", rev, len(got), len(want))
	}
}

// TestDamagedRefused: a store file damaged beyond a torn last commit is
// refused with an error (never a crash, never opened as if empty) and left
// as it was.
func TestDamagedRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		fault func(t *testing.T, path string)
	}{
		{"both meta pages torn", 5, func(t *testing.T, path string) {
			edit(t, path, func(f *os.File) {
				ps := pageSize(t, f)
				tear(t, f, 16, 40)
				tear(t, f, ps+16, 40)
			})
		}},
		{"truncated", 200, func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"data page overwritten", 200, func(t *testing.T, path string) {
			leaf := leafPage(t, path)
			edit(t, path, func(f *os.File) { tear(t, f, leaf*pageSize(t, f), int(pageSize(t, f))) })
		}},
		{"first write torn", 0, func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte{0xde, 0xad}, 50), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := written(t, tc.n)
			tc.fault(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := OpenBolt(path)
			if err == nil {
				kv, rev := dump(t, s)
				s.Close()
				t.Fatalf("OpenBolt opened a damaged store (%d keys, revision %d), want an error", len(kv), rev)
			}
			t.Logf("OpenBolt: %v", err)
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("a refused store file was modified")
			}
		})
	}
}

// TestEmptyFileIsNew: a crash right after the file was created leaves an
// empty file, which is a new store.
func TestEmptyFileIsNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenBolt(path)
	if err != nil {
		t.Fatalf("OpenBolt(empty file): %v", err)
	}
	defer s.Close()
	put(t, s, "k", "v")
}

// leafPage returns the id of a leaf page in use in the store at path.
func leafPage(t *testing.T, path string) int64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64 = -1
	err = db.View(func(tx *bolt.Tx) error {
		for i := 2; ; i++ {
			p, err := tx.Page(i)
			if err != nil || p == nil {
				return err
			}
			if p.Type == "leaf" {
				id = int64(i)
				return nil
			}
		}
	})
	if err != nil || id < 0 {
		t.Fatalf("no leaf page found (%v)", err)
	}
	return id
}
