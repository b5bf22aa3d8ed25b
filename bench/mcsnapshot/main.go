// Command mcsnapshot measures the throughput of snapshots and restores of
// serverless Memcached caches on the product's engine path: the engine
// supervisor (internal/engine) runs memcached 1.6 as the daemon runs a
// serverless Memcached cache's engine (confined, TLS only, the family's
// default parameters, so without the LRU crawler), filled with -items
// small items; then, -runs times:
//
//  1. snapshot: Supervisor.SnapshotTo, what the snapshot controller calls
//     (lru_crawler metadump, pipelined mg over TLS, the dump written to a
//     temporary file, synced and renamed);
//  2. restore: Supervisor.Start of a new node seeded with the dump (launch,
//     the dump verified, then written back with pipelined ms over TLS),
//     against Supervisor.Start of an empty node (the launch alone).
//
// Throughput is items over the time. It prints Markdown on stdout. Usage
// (as root, like the daemon):
//
//	go run ./bench/mcsnapshot [-items 100000] [-value 100] [-runs 3] > out.md
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
	"github.com/cachalot-dev/cachalot/internal/pki"
)

func main() {
	items := flag.Int("items", 100000, "items in the cache")
	value := flag.Int("value", 100, "value size, bytes")
	runs := flag.Int("runs", 3, "snapshot and restore runs")
	flag.Parse()
	// Errors return through run, so that its deferred teardown stops
	// every engine it started (log.Fatal would skip it), and so does an
	// interrupt.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, items, value, runs); err != nil {
		stop()
		log.Fatal(err)
	}
}

func run(ctx context.Context, items, value, runs *int) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "cachalot-mcsnap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ca, err := pki.Open(filepath.Join(dir, "ca"), time.Now)
	if err != nil {
		return err
	}
	leaf, err := ca.Leaf("bench", []string{"bench.cache.local"})
	if err != nil {
		return err
	}
	tlsSpec := &engine.TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: ca.CertPEM()}
	clientTLS, err := redis.ClientConfig(ca.CertPEM())
	if err != nil {
		return err
	}
	sup := engine.New(engine.Config{DataDir: filepath.Join(dir, "engines"), ReadyTimeout: 20 * time.Second, StopTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	defer func() {
		tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
		defer tcancel()
		if err := sup.Teardown(tctx); err != nil {
			log.Printf("teardown: %v", err)
		}
	}()
	cat, err := engine.Discover(ctx, nil)
	if err != nil {
		return err
	}
	mc, err := cat.Find(catalog.Memcached, "")
	if err != nil {
		return err
	}
	spec := func(id, seed string) engine.NodeSpec {
		return engine.NodeSpec{NodeID: id, Engine: mc, BindIP: "127.0.0.1", Port: freePort(), MaxMemory: 1 << 30, TLS: tlsSpec, Seed: seed}
	}
	src := spec("src", "")
	if _, err := sup.Start(ctx, src); err != nil {
		return err
	}
	c, err := memcached.DialTLS(ctx, nil, src.Addr(), clientTLS)
	if err != nil {
		return err
	}
	val := make([]byte, *value)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	t0 := time.Now()
	for i := range *items {
		if ctx.Err() != nil {
			return ctx.Err() // interrupted: the deferred teardown stops the engines
		}
		ttl := int64(0)
		if i%2 == 1 {
			ttl = 3600
		}
		if err := c.SetItem(ctx, "key:"+strconv.Itoa(i), uint32(i), ttl, val); err != nil {
			return err
		}
	}
	fill := time.Since(t0)
	c.Close()
	if n := currItems(ctx, src.Addr(), clientTLS); n != int64(*items) {
		return fmt.Errorf("the source holds %d items, want %d", n, *items)
	}
	log.Printf("filled %d items in %s", *items, fill)

	snapDir := filepath.Join(dir, "snapshots")
	if err := os.MkdirAll(snapDir, 0o700); err != nil {
		return err
	}
	var snaps, restores, empties []time.Duration
	var size int64
	for r := range *runs {
		file := filepath.Join(snapDir, fmt.Sprintf("run%d.mcdump", r))
		t0 := time.Now()
		if size, err = sup.SnapshotTo(ctx, "src", file); err != nil {
			return err
		}
		snaps = append(snaps, time.Since(t0))

		empty := spec(fmt.Sprintf("empty%d", r), "")
		t0 = time.Now()
		if _, err := sup.Start(ctx, empty); err != nil {
			return err
		}
		empties = append(empties, time.Since(t0))
		dst := spec(fmt.Sprintf("dst%d", r), file)
		t0 = time.Now()
		if _, err := sup.Start(ctx, dst); err != nil {
			return err
		}
		restores = append(restores, time.Since(t0))
		n := currItems(ctx, dst.Addr(), clientTLS)
		if n != int64(*items) {
			return fmt.Errorf("restored node holds %d items, want %d", n, *items)
		}
		for _, id := range []string{empty.NodeID, dst.NodeID} {
			if err := sup.Remove(ctx, id); err != nil {
				return err
			}
		}
		log.Printf("run %d: snapshot %s, restore %s (empty start %s)", r+1, snaps[r], restores[r], empties[r])
	}

	fmt.Printf("# Serverless Memcached snapshots: throughput\n\n")
	fmt.Printf("Generated %s on %s, load %s, by:\n\n", time.Now().UTC().Format(time.RFC3339), hostinfo.Describe(), hostinfo.LoadAvg())
	fmt.Printf("    go run ./bench/mcsnapshot -items %d -value %d -runs %d\n\n", *items, *value, *runs)
	fmt.Printf("Engine: memcached %s under the engine supervisor, TLS only, family defaults (no LRU crawler); "+
		"%d items of %d-byte values (keys `key:N`, half with a TTL), filled in %s by one TLS client doing sequential sets. "+
		"Dump file: %.1f MiB. Medians of %d runs.\n\n", mc.Version, *items, *value, fill.Round(time.Millisecond), float64(size)/(1<<20), *runs)
	ms, mr, me := median(snaps), median(restores), median(empties)
	fmt.Printf("| | time | items/s |\n|---|---|---|\n")
	fmt.Printf("| snapshot (`Supervisor.SnapshotTo`: metadump + pipelined `mg` over TLS, written, synced, renamed) | %s | %.0f |\n", ms.Round(time.Millisecond), float64(*items)/ms.Seconds())
	fmt.Printf("| restore (`Supervisor.Start` seeded: launch, verify, pipelined `ms` over TLS) | %s | %.0f |\n", mr.Round(time.Millisecond), float64(*items)/mr.Seconds())
	fmt.Printf("| restore less an empty node's start (%s) | %s | %.0f |\n", me.Round(time.Millisecond), (mr - me).Round(time.Millisecond), float64(*items)/(mr-me).Seconds())
	fmt.Printf("\nAll runs (snapshot / restore / empty start):\n\n")
	for i := range snaps {
		fmt.Printf("- run %d: %s / %s / %s\n", i+1, snaps[i].Round(time.Millisecond), restores[i].Round(time.Millisecond), empties[i].Round(time.Millisecond))
	}
	return nil
}

// currItems is the node's curr_items, -1 (with the error logged) if it
// cannot be read: the caller's count check then fails and run returns.
func currItems(ctx context.Context, addr string, cfg *tls.Config) int64 {
	c, err := memcached.DialTLS(ctx, nil, addr, cfg)
	if err != nil {
		log.Print(err)
		return -1
	}
	defer c.Close()
	st, err := c.Stats(ctx)
	if err != nil {
		log.Print(err)
		return -1
	}
	n, _ := strconv.ParseInt(st["curr_items"], 10, 64)
	return n
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
