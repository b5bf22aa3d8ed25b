package elasticache_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// mcTLS connects to a serverless Memcached cache's endpoint host:11211
// from the instance owning eni, over TLS verified against the
// installation's CA for host (Go's crypto/tls, the memcached text and meta
// protocols).
func (w *serverlessWorld) mcTLS(t *testing.T, eni, host string) *memcached.Conn {
	t.Helper()
	pem, err := os.ReadFile(w.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate")
	}
	addr := net.JoinHostPort(nettest.WaitResolve(t, w.env.App.Plane(), eni, host), "11211")
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return w.env.App.Plane().Dial(ctx, eni, network, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := memcached.DialTLS(ctx, dial, addr, &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mcSnapItem is an item a test sets: TTL in seconds, 0 none.
type mcSnapItem struct {
	key   string
	flags uint32
	ttl   int64
	value []byte
}

// TestServerlessMemcachedSnapshot: a serverless Memcached cache with a
// real engine, written through a TLS client from an instance (items with
// client flags, TTLs, binary values), is snapshotted; a new cache restored
// from the snapshot holds every item with its flags, value and about its
// TTL, but not the items that expired in between nor those written after
// the snapshot; copies, the final snapshot on delete, the daily snapshot
// and deletion work as for Valkey; restores across engines are refused.
func TestServerlessMemcachedSnapshot(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &serverlessWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)

	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("mcsrc"), Engine: aws.String("memcached"),
		SnapshotRetentionLimit: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateServerlessCacheSnapshot(ctx, &elasticache.CreateServerlessCacheSnapshotInput{ServerlessCacheName: aws.String("mcsrc"),
		ServerlessCacheSnapshotName: aws.String("early")}); code(err) != "InvalidServerlessCacheStateFault" {
		t.Errorf("CreateServerlessCacheSnapshot of a creating cache = %v, want InvalidServerlessCacheStateFault", err)
	}
	src := w.wait(t, "mcsrc", "available")
	host := aws.ToString(src.Endpoint.Address)
	c := w.mcTLS(t, w.eni, host)

	var items []mcSnapItem
	for i := range 400 {
		it := mcSnapItem{key: fmt.Sprintf("item:%d", i), flags: uint32(i) * 104729, value: []byte(fmt.Sprintf("value-%d", i))}
		switch i % 5 {
		case 1:
			it.ttl = 3600
		case 2:
			it.ttl = 2 // expired before the restore
		case 3:
			it.value = append([]byte{0, '\r', '\n', 0xfe, 0xff}, bytes.Repeat([]byte{byte(i)}, i)...) // binary
		case 4:
			it.ttl, it.value = 40*24*3600, bytes.Repeat([]byte("x"), 10000) // beyond 30 days
		}
		items = append(items, it)
	}
	for _, it := range items {
		exp := it.ttl
		if exp > 30*24*3600 {
			exp += time.Now().Unix()
		}
		if err := c.SetItem(ctx, it.key, it.flags, exp, it.value); err != nil {
			t.Fatal(err)
		}
	}
	setEnd := time.Now()

	out, err := w.ec.CreateServerlessCacheSnapshot(ctx, &elasticache.CreateServerlessCacheSnapshotInput{ServerlessCacheName: aws.String("mcsrc"),
		ServerlessCacheSnapshotName: aws.String("mcsnap")})
	if err != nil {
		t.Fatal(err)
	}
	if sn := out.ServerlessCacheSnapshot; aws.ToString(sn.Status) != "creating" || aws.ToString(sn.ServerlessCacheConfiguration.Engine) != "memcached" ||
		aws.ToString(sn.ServerlessCacheConfiguration.MajorEngineVersion) != "1.6" {
		t.Errorf("CreateServerlessCacheSnapshot = status %s, engine %s %s; want creating memcached 1.6", aws.ToString(sn.Status),
			aws.ToString(sn.ServerlessCacheConfiguration.Engine), aws.ToString(sn.ServerlessCacheConfiguration.MajorEngineVersion))
	}
	sn := w.waitSnap(t, "mcsnap", "available")
	if n, err := strconv.Atoi(aws.ToString(sn.BytesUsedForCache)); err != nil || n < 400*10 {
		t.Errorf("BytesUsedForCache = %q, want the dump's size", aws.ToString(sn.BytesUsedForCache))
	}
	files, err := filepath.Glob(filepath.Join(app.SnapshotsDir(dir), "*.mcdump"))
	if err != nil || len(files) != 1 {
		t.Errorf("dumps in the snapshot store = %v, %v; want one", files, err)
	}
	// Written after the snapshot: not in it.
	if err := c.SetItem(ctx, "later", 0, 0, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CopyServerlessCacheSnapshot(ctx, &elasticache.CopyServerlessCacheSnapshotInput{SourceServerlessCacheSnapshotName: aws.String("mcsnap"),
		TargetServerlessCacheSnapshotName: aws.String("mccopy")}); err != nil {
		t.Fatal(err)
	}
	for _, eng := range []string{"valkey", "redis"} {
		if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("cross-" + eng), Engine: aws.String(eng),
			SnapshotArnsToRestore: []string{snapARN("mcsnap")}}); code(err) != "InvalidParameterCombination" || !strings.Contains(err.Error(), "Memcached") {
			t.Errorf("restore of a Memcached snapshot into %s = %v, want InvalidParameterCombination", eng, err)
		}
	}

	// The items of TTL 2 s have expired when the restore loads (memcached
	// counts in whole seconds, its clock up to one behind).
	time.Sleep(time.Until(setEnd.Add(4 * time.Second)))
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("mcdst"), Engine: aws.String("memcached"),
		SnapshotArnsToRestore: []string{snapARN("mccopy")}}); err != nil {
		t.Fatal(err)
	}
	dst := w.wait(t, "mcdst", "available")
	dhost := aws.ToString(dst.Endpoint.Address)
	if dhost == host {
		t.Fatalf("restored cache at the source's endpoint %s", host)
	}
	d := w.mcTLS(t, w.eni, dhost)
	restored := 0
	for _, it := range items {
		val, flags, ttl, ok, err := d.MetaGet(ctx, it.key)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case it.ttl == 2:
			if ok {
				t.Errorf("%s (TTL 2 s, expired) restored", it.key)
			}
			continue
		case !ok:
			t.Errorf("%s not restored", it.key)
			continue
		case !bytes.Equal(val, it.value) || flags != it.flags:
			t.Errorf("%s restored as %.40q flags %d, want %.40q flags %d", it.key, val, flags, it.value, it.flags)
		case it.ttl == 0 && ttl != -1:
			t.Errorf("%s restored with TTL %d s, want none", it.key, ttl)
		case it.ttl != 0 && (ttl > it.ttl+1 || ttl < it.ttl-120):
			t.Errorf("%s restored with TTL %d s, want about %d", it.key, ttl, it.ttl)
		}
		restored++
	}
	t.Logf("%d items restored", restored)
	if _, _, _, ok, _ := d.MetaGet(ctx, "later"); ok {
		t.Error("an item written after the snapshot was restored")
	}
	if err := d.SetItem(ctx, "new", 7, 0, []byte("y")); err != nil {
		t.Fatal(err)
	}
	w.waitSnap(t, "mccopy", "available") // no longer restoring

	// The daily snapshot, then a final snapshot deleting the cache, and a
	// cache restored from it.
	w.dailySnapshot(t, "mcdst")
	if _, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("mcdst"), FinalSnapshotName: aws.String("mcfinal")}); err != nil {
		t.Fatal(err)
	}
	w.wait(t, "mcdst", "deleted")
	w.waitSnap(t, "mcfinal", "available")
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("mcagain"), Engine: aws.String("memcached"),
		SnapshotArnsToRestore: []string{snapARN("mcfinal")}}); err != nil {
		t.Fatal(err)
	}
	again := w.wait(t, "mcagain", "available")
	a := w.mcTLS(t, w.eni, aws.ToString(again.Endpoint.Address))
	for key, want := range map[string]string{"new": "y", "item:0": "value-0"} {
		if val, _, _, ok, err := a.MetaGet(ctx, key); err != nil || !ok || string(val) != want {
			t.Errorf("%s on the cache restored from the final snapshot = %q %v %v, want %q", key, val, ok, err, want)
		}
	}

	// Deleting snapshots: the copy goes, its shared dump stays for mcsnap.
	for _, name := range []string{"mccopy", "mcsnap", "mcfinal"} {
		if _, err := w.ec.DeleteServerlessCacheSnapshot(ctx, &elasticache.DeleteServerlessCacheSnapshotInput{ServerlessCacheSnapshotName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		w.waitSnap(t, name, "deleted")
	}
	for _, name := range []string{"mcsrc", "mcagain"} {
		if _, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String(name)}); err != nil {
			t.Error(err)
		}
	}
	for _, name := range []string{"mcsrc", "mcagain"} {
		w.wait(t, name, "deleted")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		files, _ = filepath.Glob(filepath.Join(app.SnapshotsDir(dir), "*.mcdump"))
		if len(files) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(files) != 0 {
		t.Errorf("dumps left in the snapshot store after every snapshot was deleted: %v", files)
	}
}
