package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"
)

// memGuard reads MemAvailable every second. Below min it closes low
// (creation stops); below 2/3 of min it aborts the run.
type memGuard struct {
	min    int64
	low    chan struct{}
	once   sync.Once
	quit   chan struct{}
	mu     sync.Mutex
	lowest int64 // lowest MemAvailable seen, bytes
	at     time.Time
}

func startGuard(ctx context.Context, min int64, abort context.CancelCauseFunc) *memGuard {
	g := &memGuard{min: min, low: make(chan struct{}), quit: make(chan struct{}), lowest: 1 << 62}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			avail := meminfo()["MemAvailable"]
			g.mu.Lock()
			if avail < g.lowest {
				g.lowest = avail
			}
			g.mu.Unlock()
			if avail < min {
				g.once.Do(func() {
					g.at = time.Now()
					log.Printf("memory guard: MemAvailable %s < %s: creation stops", mib(avail), mib(min))
					close(g.low)
				})
			}
			if avail < min*2/3 {
				abort(fmt.Errorf("memory guard: MemAvailable %s < %s: run aborted", mib(avail), mib(min*2/3)))
				return
			}
			select {
			case <-t.C:
			case <-g.quit:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return g
}

func (g *memGuard) stop() {
	select {
	case <-g.quit:
	default:
		close(g.quit)
	}
}

// tripped reports whether MemAvailable fell below min.
func (g *memGuard) tripped() bool {
	select {
	case <-g.low:
		return true
	default:
		return false
	}
}

func (g *memGuard) lowestSeen() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lowest
}
