// Package load runs a fixed amount of concurrent calls against an endpoint
// and reports throughput and latency percentiles. It is shared by the
// programs under bench/ so that every figure is measured the same way.
package load

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"time"
)

// Result of one run.
type Result struct {
	Name     string
	Calls    int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	FirstErr error
}

// RPS is calls per second.
func (r Result) RPS() float64 { return float64(r.Calls) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%-48s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (%d calls, %d errors)",
		r.Name, r.RPS(), ms(r.P50), ms(r.P99), r.Calls, r.Errors)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Run calls fn from concurrency goroutines for the duration (after a short
// warm-up) and returns the measured result. The loop is bounded by both the
// duration and maxCalls.
func Run(ctx context.Context, name string, concurrency int, duration time.Duration, maxCalls int, fn func(context.Context) error) Result {
	// Warm up connections and caches.
	for i := 0; i < concurrency*4; i++ {
		fn(ctx)
	}
	var mu sync.Mutex
	var lats []time.Duration
	res := Result{Name: name}
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	per := maxCalls / concurrency
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			errs := 0
			var firstErr error
			for i := 0; i < per && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t := time.Now()
				if err := fn(ctx); err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			lats = append(lats, local...)
			res.Errors += errs
			if res.FirstErr == nil {
				res.FirstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Calls = len(lats)
	slices.Sort(lats)
	if len(lats) > 0 {
		res.P50 = lats[len(lats)/2]
		res.P99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return res
}

// Percentiles returns p50 and p99 of ds.
func Percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0, 0
	}
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
}

// StartMoto starts moto_server on port and waits until it answers; the
// returned function stops it.
func StartMoto(ctx context.Context, port int) (stop func(), err error) {
	cmd := exec.CommandContext(ctx, "moto_server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	if err := WaitTCP(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second); err != nil {
		stop()
		return nil, fmt.Errorf("moto_server: %w", err)
	}
	return stop, nil
}

// Getenv returns the environment variable or def.
func Getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
