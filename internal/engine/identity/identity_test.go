package identity

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClaimStableAndDistinct(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ids")
	a := New(dir, Engines())
	seen := map[uint32]string{}
	for _, key := range []string{"cc-0001-001", "cc-0001-002", "mc-0001-001", "x"} {
		id, err := a.Claim(key)
		if err != nil {
			t.Fatal(err)
		}
		if !Engines().Contains(id.UID) || id.GID != id.UID {
			t.Errorf("Claim(%s) = %+v, want uid=gid in %+v", key, id, Engines())
		}
		if other, dup := seen[id.UID]; dup {
			t.Errorf("Claim(%s) = uid %d, already %s's", key, id.UID, other)
		}
		seen[id.UID] = key
		// A new allocator over the same registry (a daemon restart) gives
		// the same identity.
		again, err := New(dir, Engines()).Claim(key)
		if err != nil || again != id {
			t.Errorf("Claim(%s) after restart = %+v, %v; want %+v", key, again, err, id)
		}
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("registry %s: %v, %v; want mode 0700", dir, info.Mode(), err)
	}
	// Claimed lists them all, and nothing of another range sharing the
	// registry.
	if _, err := New(dir, UserData()).Claim("other-range"); err != nil {
		t.Fatal(err)
	}
	want := map[string]ID{}
	for uid, key := range seen {
		want[key] = ID{UID: uid, GID: uid}
	}
	if got, err := a.Claimed(); err != nil || !cmp.Equal(got, want) {
		t.Errorf("Claimed() = %v, %v; want %v", got, err, want)
	}
	if got, err := New(filepath.Join(dir, "none"), Engines()).Claimed(); err != nil || len(got) != 0 {
		t.Errorf("Claimed() of a registry never written = %v, %v; want none", got, err)
	}
}

// Claims that hash to the same first uid move on: a range of two holds
// two keys and refuses a third.
func TestClaimCollisionsAndExhaustion(t *testing.T) {
	a := New(t.TempDir(), Range{First: 70000, Count: 2})
	x, err := a.Claim("a")
	if err != nil {
		t.Fatal(err)
	}
	y, err := a.Claim("b")
	if err != nil {
		t.Fatal(err)
	}
	if x == y {
		t.Errorf("Claim(a) = Claim(b) = %+v", x)
	}
	if _, err := a.Claim("c"); !errors.Is(err, ErrExhausted) {
		t.Errorf("Claim(c) in a full range = %v, want ErrExhausted", err)
	}
	if err := a.Release("a"); err != nil {
		t.Fatal(err)
	}
	if z, err := a.Claim("c"); err != nil || z != x {
		t.Errorf("Claim(c) after Release(a) = %+v, %v; want a's %+v", z, err, x)
	}
	if _, ok, err := a.Lookup("a"); ok || err != nil {
		t.Errorf("Lookup(a) after Release = %v, %v; want none", ok, err)
	}
	if err := a.Release("a"); err != nil {
		t.Errorf("Release(a) twice = %v, want nil", err)
	}
}

func TestClaimConcurrent(t *testing.T) {
	a := New(t.TempDir(), Range{First: 80000, Count: 64})
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	ids := make([]ID, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			id, err := a.Claim(k)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	seen := map[ID]bool{}
	for i, id := range ids {
		if seen[id] {
			t.Errorf("Claim(%s) = %+v, given twice", keys[i], id)
		}
		seen[id] = true
	}
}

func TestBadKeys(t *testing.T) {
	a := New(t.TempDir(), Engines())
	for _, k := range []string{"", "a/b", "a\x00b", string(make([]byte, 256))} {
		if _, err := a.Claim(k); err == nil {
			t.Errorf("Claim(%q) = nil error, want error", k)
		}
	}
}

func TestDropArgv(t *testing.T) {
	argv := []string{"/usr/bin/redis-server", "-"}
	for _, tc := range []struct {
		name string
		d    Drop
		want []string
	}{
		{"none", Drop{}, argv},
		{"no-new-privs-only", Drop{Setpriv: "setpriv"},
			[]string{"setpriv", "--no-new-privs", "--", "/usr/bin/redis-server", "-"}},
		{"identity", Drop{Setpriv: "/usr/bin/setpriv", ID: &ID{UID: 2080374785, GID: 2080374785}},
			[]string{"/usr/bin/setpriv", "--reuid=2080374785", "--regid=2080374785", "--clear-groups",
				"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", "/usr/bin/redis-server", "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.d.Argv(argv)); diff != "" {
				t.Errorf("Argv mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
