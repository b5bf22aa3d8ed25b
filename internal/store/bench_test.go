package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkUpdate measures acknowledged writes per second and per-write
// latency (p50, p99) with 1 to 200 concurrent writers, each Update putting
// a 200-byte value under a new key, durably (bbolt's fsyncs on). "serial"
// is Update as it was before group commit, one bbolt transaction and commit
// per Update (serialUpdate below); "group" is Update. See BENCH.md.
func BenchmarkUpdate(b *testing.B) {
	value := make([]byte, 200)
	for _, mode := range []string{"serial", "group"} {
		for _, writers := range []int{1, 8, 32, 200} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				s, _ := openTest(b)
				update := s.Update
				if mode == "serial" {
					update = s.serialUpdate
				}
				commits := boltTxID(b, s)
				var next atomic.Int64
				lat := make([][]time.Duration, writers)
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							k := fmt.Sprintf("bench/%09d", i)
							t0 := time.Now()
							if err := update(context.Background(), func(tx Tx) error { return tx.Put(k, value) }); err != nil {
								b.Error(err)
								return
							}
							lat[w] = append(lat[w], time.Since(t0))
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				commits = boltTxID(b, s) - commits
				all := slices.Concat(lat...)
				slices.Sort(all)
				pct := func(p float64) float64 {
					return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
				b.ReportMetric(pct(0.50), "p50-ms")
				b.ReportMetric(pct(0.99), "p99-ms")
				b.ReportMetric(float64(b.N)/float64(commits), "writes/commit")

			})
		}
	}
}

// serialUpdate is Update as it was before group commit, kept for the
// benchmark's comparison: one bbolt transaction, and commit, per call.
func (s *Bolt) serialUpdate(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var tx *boltTx
	err := s.db.Update(func(btx *bolt.Tx) error {
		tx = &boltTx{btx: btx, writable: true, rev: readRevision(btx)}
		if err := fn(tx); err != nil {
			return err
		}
		if len(tx.changed) == 0 {
			return nil
		}
		return btx.Bucket(bucketMeta).Put(keyRev, binary.BigEndian.AppendUint64(nil, tx.rev+1))
	})
	if err != nil || len(tx.changed) == 0 {
		return err
	}
	keys := make([]string, 0, len(tx.changed))
	for k := range tx.changed {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.publish(Change{Revision: tx.rev + 1, Keys: keys})
	return nil
}

// BenchmarkFdatasync measures the disk under the store: one 4 KiB page
// written at a random offset of a 16 MiB file, then fdatasync, as bbolt
// does twice per commit (the data pages, then the meta page). A commit can
// take no less than two of these, so with W writers (each with one write
// outstanding) no store reaches more than W / (2 × fdatasync) writes per
// second: the "ceiling-8-writers" metric. See BENCH.md.
func BenchmarkFdatasync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "sync.test"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const size = 16 << 20
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	page := make([]byte, 4096)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := f.WriteAt(page, int64(rand.IntN(size/4096))*4096); err != nil {
			b.Fatal(err)
		}
		if err := fdatasync(f); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	mean := sum / time.Duration(len(lat))
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(mean.Microseconds())/1000, "mean-ms")
	b.ReportMetric(8/(2*mean.Seconds()), "ceiling-8-writers")
}
