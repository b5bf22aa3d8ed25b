//go:build linux

package engine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// TestSnapshotAndSeed: a snapshot taken from a running engine (as its
// admin: clients may not BGSAVE) is a whole RDB file in the caller's
// directory, and a new node seeded with it starts with the same keys,
// values and expiries; a node whose data directory exists is not seeded.
func TestSnapshotAndSeed(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s, _ := newSupervisor(t, nil)
	src := redisSpec(t, in, "snap-src.0001")
	if _, err := s.Start(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		redisDo(t, src.Addr(), "SET", "k"+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	redisDo(t, src.Addr(), "SET", "ttl", "x", "EX", "1000")
	c, err := redis.Dial(ctxT(t), src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.String(ctxT(t), "BGSAVE"); err == nil {
		t.Fatalf("a client ran BGSAVE")
	}
	c.Close()
	dst := filepath.Join(t.TempDir(), "s.rdb")
	size, err := s.SnapshotTo(ctxT(t), src.NodeID, dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() != size || size == 0 {
		t.Fatalf("snapshot file: %v, %v; want %d bytes", fi, err, size)
	}
	if _, err := os.Stat(dst + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}

	dup := redisSpec(t, in, "snap-dup.0001")
	dup.Seed = dst
	if _, err := s.Start(ctxT(t), dup); err != nil {
		t.Fatal(err)
	}
	if got := redisDo(t, dup.Addr(), "DBSIZE"); got != "101" {
		t.Errorf("DBSIZE of the seeded node = %s, want 101", got)
	}
	if _, err := os.Lstat(filepath.Join(s.NodeDir(dup.NodeID), dataDirName, redis.DumpFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("seed left in the data directory once loaded: %v", err)
	}
	if got := redisDo(t, dup.Addr(), "GET", "k42"); got != "v42" {
		t.Errorf("GET k42 = %q, want v42", got)
	}
	if ttl, _ := strconv.Atoi(redisDo(t, dup.Addr(), "TTL", "ttl")); ttl < 900 || ttl > 1000 {
		t.Errorf("TTL ttl = %d, want about 1000", ttl)
	}

	// The snapshot leaves the engine's data directory: a reboot starts
	// empty, as without persistence, neither from the snapshot nor seeded
	// again.
	redisDo(t, dup.Addr(), "SET", "new", "1")
	if _, err := s.SnapshotTo(ctxT(t), dup.NodeID, filepath.Join(t.TempDir(), "x.rdb")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(s.NodeDir(dup.NodeID), dataDirName, redis.DumpFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dump file left in the data directory: %v", err)
	}
	if err := s.Reboot(ctxT(t), dup.NodeID); err != nil {
		t.Fatal(err)
	}
	if got := redisDo(t, dup.Addr(), "DBSIZE"); got != "0" {
		t.Errorf("DBSIZE after reboot = %s, want 0", got)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Size() != size {
		t.Errorf("the first snapshot after the second: %v, %v", fi, err)
	}
}

func TestParsePersistence(t *testing.T) {
	p, err := redis.ParsePersistence("# Persistence\r\nloading:0\r\nrdb_bgsave_in_progress:1\r\nrdb_last_save_time:1700000000\r\nrdb_last_bgsave_status:ok\r\n# Memory\r\nused_memory:123456\r\n")
	if err != nil {
		t.Fatal(err)
	}
	want := redis.Persistence{SaveInProgress: true, LastSave: 1700000000, LastSaveOK: true, UsedMemory: 123456}
	if p != want {
		t.Errorf("ParsePersistence = %+v, want %+v", p, want)
	}
	if _, err := redis.ParsePersistence("# Memory\nused_memory:1\n"); err == nil {
		t.Error("ParsePersistence without rdb_last_save_time: no error")
	}
}

// TestSnapshotPaths: the RDB streamed as `redis-cli --rdb` gets it, and
// the BGSAVE fallback's dump moved out of the data directory, are both
// whole RDB files of the dataset.
func TestSnapshotPaths(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s, _ := newSupervisor(t, nil)
	src := redisSpec(t, in, "paths.0001")
	if _, err := s.Start(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	var v strings.Builder
	for i := range 20000 {
		v.WriteString(strconv.Itoa(i * 7919))
	}
	redisDo(t, src.Addr(), "SET", "k", v.String())
	admin := nodeAdmin(t, s, src.NodeID)
	whole := func(what string, b []byte) {
		t.Helper()
		if !bytes.HasPrefix(b, []byte("REDIS")) || len(b) < 10000 || b[len(b)-9] != 0xff {
			t.Errorf("%s: %d bytes, not a whole RDB file (starts %q)", what, len(b), b[:min(len(b), 9)])
		}
	}

	c, err := admin.Dial(ctxT(t), nil, src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := admin.StreamRDB(ctxT(t), c, &buf)
	c.Close()
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("StreamRDB = %d, %v (%d bytes written)", n, err, buf.Len())
	}
	whole("streamed", buf.Bytes())

	c, err = admin.Dial(ctxT(t), nil, src.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := admin.BackgroundSave(ctxT(t), c, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(s.NodeDir(src.NodeID), dataDirName, redis.DumpFile)
	dst := filepath.Join(t.TempDir(), "d.rdb")
	if _, err := takeDump(dump, dst); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	whole("BGSAVE", b)
	if _, err := os.Lstat(dump); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dump left in the data directory: %v", err)
	}
}

// TestMemcachedSnapshotAndSeed: a memcached node's snapshot is a dump of
// its items (flags, values); a new node seeded with it holds them once it
// runs, the seed gone from its data directory; a seed still there when a
// supervisor adopts the engine (the last one stopped while loading it) is
// loaded again.
func TestMemcachedSnapshotAndSeed(t *testing.T) {
	in := requireEngine(t, catalog.Memcached)
	s, dataDir := newSupervisor(t, nil)
	mem, err := catalog.NodeTypeMemory("cache.t3.micro")
	if err != nil {
		t.Fatal(err)
	}
	spec := func(id string) NodeSpec {
		return NodeSpec{NodeID: id, Engine: in, BindIP: "127.0.0.1", Port: freePort(t), MaxMemory: mem}
	}
	dial := func(addr string) *memcached.Conn {
		c, err := memcached.Dial(ctxT(t), addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	src := spec("mcsnap-src.0001")
	if _, err := s.Start(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	c := dial(src.Addr())
	for i := range 50 {
		if err := c.SetItem(ctxT(t), "k"+strconv.Itoa(i), uint32(i), 0, []byte("v"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "s.mcdump")
	size, err := s.SnapshotTo(ctxT(t), src.NodeID, dst)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	n, err := memcached.VerifyDump(f)
	f.Close()
	if fi, _ := os.Stat(dst); err != nil || n != 50 || fi.Size() != size {
		t.Fatalf("dump: %d items, %v, %d bytes reported; want 50 items", n, err, size)
	}

	dup := spec("mcsnap-dup.0001")
	dup.Seed = dst
	if _, err := s.Start(ctxT(t), dup); err != nil {
		t.Fatal(err)
	}
	d := dial(dup.Addr())
	if v, flags, _, ok, err := d.MetaGet(ctxT(t), "k42"); err != nil || !ok || string(v) != "v42" || flags != 42 {
		t.Errorf("k42 on the seeded node = %q flags %d, %v %v; want v42 flags 42", v, flags, ok, err)
	}
	seed := filepath.Join(s.NodeDir(dup.NodeID), dataDirName, memcachedSeedFile)
	if _, err := os.Lstat(seed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("seed left in the data directory once loaded: %v", err)
	}

	// A seed found at adoption is loaded again: k1, deleted meanwhile,
	// is back.
	if l, err := d.Delete(ctxT(t), "k1"); err != nil || !l {
		t.Fatalf("delete k1: %v %v", l, err)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := New(testConfig(t, dataDir, nil))
	t.Cleanup(func() { _ = s2.Close() })
	dup.Seed = ""
	st, err := s2.Start(ctxT(t), dup)
	if err != nil || !st.Adopted {
		t.Fatalf("start after a new supervisor = %+v, %v; want adopted", st, err)
	}
	if v, _, _, ok, err := dial(dup.Addr()).MetaGet(ctxT(t), "k1"); err != nil || !ok || string(v) != "v1" {
		t.Errorf("k1 after adoption with the seed there = %q %v %v; want v1 (loaded again)", v, ok, err)
	}
	if _, err := os.Lstat(seed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("seed left after adoption: %v", err)
	}
}
