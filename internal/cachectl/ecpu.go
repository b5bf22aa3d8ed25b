package cachectl

import (
	"io"
	"sync"

	"golang.org/x/time/rate"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

// ECPU/s maximum of a serverless Valkey / Redis OSS cache
// (CacheUsageLimits.ECPUPerSecond.Maximum). ElastiCache throttles a cache
// past it; here its engines' fronts (front.go, served for such a cache as
// for preferred or IAM users) meter every command before passing it on,
// against one token bucket per cache shared by both its ports: it fills at
// the maximum a second and holds a second of it, and a command that finds
// it empty waits — clients see their commands slow down, as ElastiCache's
// throttling does. A command costs what ElastiCache documents for simple
// reads and writes, one ECPU per KB of request started (a PING or a small
// GET 1, a 3 KB SET 3); commands that take more vCPU time cost no more
// here, and replies' sizes are not counted — an approximation. The
// supervisor, replication and the cluster bus do not pass through the
// fronts and are not metered. A new maximum applies live; serverless
// Memcached has no front and is not metered.

// ecpuLimiters are the serverless caches' buckets, by cache.
type ecpuLimiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// of returns the bucket of cl's serverless cache at its maximum, nil when
// it has none.
func (l *ecpuLimiters) of(cl *elasticache.Cluster) *rate.Limiter {
	if cl.ServerlessCache == "" || cl.ECPULimit <= 0 {
		return nil
	}
	key := cl.Account + "/" + cl.Region + "/" + cl.ServerlessCache
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*rate.Limiter{}
	}
	max := int(cl.ECPULimit)
	lim := l.m[key]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(max), max)
		l.m[key] = lim
	} else if lim.Burst() != max {
		lim.SetLimit(rate.Limit(max))
		lim.SetBurst(max)
	}
	return lim
}

// ecpuCost is what a command of n bytes costs: one ECPU per KB started.
func ecpuCost(n int64) int {
	if n <= 0 {
		return 1
	}
	return int((n + 1023) / 1024)
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
