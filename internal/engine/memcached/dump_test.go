package memcached

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startMemcached runs a memcached on a free loopback port for the test.
// extra are -o options.
func startMemcached(t *testing.T, extra ...string) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "64"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	if len(extra) > 0 {
		args = append(args, "-o", strings.Join(extra, ","))
	}
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		if err := Ping(context.Background(), nil, addr, nil); err == nil {
			return addr
		} else if i == 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dial(t *testing.T, addr string) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testItem is an item as a client sets it: TTL in seconds, 0 none.
type testItem struct {
	key   string
	flags uint32
	ttl   int64
	value []byte
}

func testItems() []testItem {
	var items []testItem
	for i := range 300 {
		it := testItem{key: fmt.Sprintf("key:%d", i), flags: uint32(i * 7919), value: []byte(strings.Repeat("v", i%50))}
		switch i % 4 {
		case 1:
			it.ttl = 1000
		case 2:
			it.ttl = 40 * 24 * 3600 // beyond 30 days: an absolute time on the wire
		case 3:
			it.value = []byte{0, 1, 2, '\r', '\n', 0xff, byte(i)} // binary
		}
		items = append(items, it)
	}
	items = append(items,
		testItem{key: "100%-sure", flags: 1 << 31, value: []byte("pct")},
		testItem{key: "ключ", flags: 4294967295, ttl: 50, value: []byte("utf-8 key")},
		testItem{key: "empty", value: nil},
	)
	return items
}

func setItem(t *testing.T, c *Conn, it testItem) {
	t.Helper()
	exp := it.ttl
	if exp > relativeTTLMax {
		exp += time.Now().Unix()
	}
	if err := c.SetItem(context.Background(), it.key, it.flags, exp, it.value); err != nil {
		t.Fatal(err)
	}
}

// getItem reads an item with mg: value, flags, remaining TTL (-1 none).
func getItem(t *testing.T, c *Conn, key string) (val []byte, flags uint32, ttl int64, ok bool) {
	t.Helper()
	val, flags, ttl, ok, err := c.MetaGet(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return val, flags, ttl, ok
}

func TestDumpLoad(t *testing.T) {
	ctx := context.Background()
	// The source runs as ElastiCache's defaults have it: no crawler.
	src := dial(t, startMemcached(t, "no_lru_crawler", "no_lru_maintainer"))
	dst, dst2 := dial(t, startMemcached(t)), dial(t, startMemcached(t))
	items := testItems()
	for _, it := range items {
		setItem(t, src, it)
	}
	now := time.Now()
	var file bytes.Buffer
	st, err := src.Dump(ctx, &file, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != int64(len(items)) || st.Bytes != int64(file.Len()) {
		t.Fatalf("dump stats %+v, want %d items in %d bytes", st, len(items), file.Len())
	}
	if l, err := src.roundTrip(ctx, "lru_crawler metadump all\r\n"); err != nil || l != "CLIENT_ERROR lru crawler disabled" {
		t.Errorf("after the dump, metadump = %q, %v; want the crawler disabled again", l, err)
	}
	if n, err := VerifyDump(bytes.NewReader(file.Bytes())); err != nil || n != int64(len(items)) {
		t.Fatalf("verify: %d items, %v", n, err)
	}
	ls, err := dst.Load(ctx, bytes.NewReader(file.Bytes()), now)
	if err != nil || ls.Items != int64(len(items)) || ls.Expired != 0 || ls.Refused != 0 {
		t.Fatalf("load: %+v %v", ls, err)
	}
	for _, it := range items {
		val, flags, ttl, ok := getItem(t, dst, it.key)
		if !ok {
			t.Errorf("%s: not restored", it.key)
			continue
		}
		if !bytes.Equal(val, it.value) || flags != it.flags {
			t.Errorf("%s: restored %q flags %d, want %q flags %d", it.key, val, flags, it.value, it.flags)
		}
		switch {
		case it.ttl == 0 && ttl != -1:
			t.Errorf("%s: restored with TTL %d, want none", it.key, ttl)
		case it.ttl != 0 && (ttl > it.ttl+slack(it.ttl) || ttl < it.ttl-5):
			t.Errorf("%s: restored with TTL %d, want about %d", it.key, ttl, it.ttl)
		}
	}
	// Loaded as if 1000 s later, the items of TTL 50 and 1000 have expired
	// and are left out.
	ls, err = dst2.Load(ctx, bytes.NewReader(file.Bytes()), now.Add(1000*time.Second))
	var expired int64
	for _, it := range items {
		if it.ttl == 50 || it.ttl == 1000 {
			expired++
		}
	}
	if err != nil || ls.Expired != expired || ls.Items != int64(len(items))-expired {
		t.Fatalf("load 1000 s later: %+v %v, want %d expired", ls, err, expired)
	}
	if _, _, _, ok := getItem(t, dst2, "key:1"); ok {
		t.Error("key:1 (TTL 1000 s) restored 1000 s later")
	}
	if _, _, _, ok := getItem(t, dst2, "key:0"); !ok {
		t.Error("key:0 (no TTL) not restored")
	}
}

func TestDumpCorrupt(t *testing.T) {
	ctx := context.Background()
	src := dial(t, startMemcached(t))
	for _, it := range testItems()[:20] {
		setItem(t, src, it)
	}
	var file bytes.Buffer
	if _, err := src.Dump(ctx, &file, time.Now()); err != nil {
		t.Fatal(err)
	}
	b := file.Bytes()
	for name, bad := range map[string][]byte{
		"flipped byte":  append(append(append([]byte{}, b[:100]...), b[100]^0x20), b[101:]...),
		"truncated":     b[:len(b)-3],
		"trailing byte": append(append([]byte{}, b...), 0),
		"version":       append(append(append([]byte{}, b[:16]...), 0, 9), b[18:]...),
		"empty":         nil,
	} {
		if _, err := VerifyDump(bytes.NewReader(bad)); !errors.Is(err, ErrBadDump) {
			t.Errorf("%s: VerifyDump: %v, want ErrBadDump", name, err)
		}
	}
}

// TestDefaultArgsKeepItems: memcached started with the family's default
// arguments (Args) keeps 5000 small items in 64 MiB: none evicted (-o
// worker_logbuf_size made memcached 1.6.18 use one slab class and evict
// beyond about a thousand).
func TestDefaultArgsKeepItems(t *testing.T) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Skip("memcached not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := Config{BindIP: "127.0.0.1", Port: port, MemoryMB: 64, FDLimit: 1024}
	if os.Geteuid() == 0 {
		cfg.User = "nobody"
	}
	argv, err := Args(bin, "memcached1.6", cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for i := 0; ; i++ {
		if err := Ping(context.Background(), nil, addr, nil); err == nil {
			break
		} else if i == 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c := dial(t, addr)
	ctx := context.Background()
	for i := range 5000 {
		if err := c.SetItem(ctx, fmt.Sprintf("key:%d", i), 0, 0, bytes.Repeat([]byte("v"), 100)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st["curr_items"] != "5000" || st["evictions"] != "0" {
		t.Errorf("after 5000 sets of 100 bytes into 64 MiB: curr_items %s, evictions %s; want 5000 and 0", st["curr_items"], st["evictions"])
	}
}

// slack is how much longer than set a restored TTL may read: memcached's
// clock ticks in whole seconds, and a TTL over 30 days goes as an absolute
// Unix time, which memcached converts to its own clock (relative to its
// start, in whole seconds): CI saw it read 2 s long.
func slack(ttl int64) int64 {
	if ttl > 30*24*3600 {
		return 3
	}
	return 1
}
