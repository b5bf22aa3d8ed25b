// Package cloudwatch owns the CloudWatch-shaped metrics of caches: the
// AWS/ElastiCache namespace's per-node series (CPUUtilization,
// CurrConnections, CacheHits, …, with the CacheClusterId and CacheNodeId
// dimensions), kept in a bounded in-memory ring per node, and the
// CloudWatch operations that read them (GetMetricStatistics, GetMetricData,
// ListMetrics, answering with CloudWatch's statistics, periods and
// validation); every other CloudWatch operation is NotImplemented.
//
// It samples nothing itself: a controller (internal/metricsctl) reads the
// engines and hands each node's values to Record. Samples are memory only:
// a restart of the service starts the series again, as a new node's would.
// Only the wiring package and that controller import it.
package cloudwatch

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/cloudwatchapi"
)

// Namespace is the one namespace served.
const Namespace = "AWS/ElastiCache"

// DefaultCapacity is the samples kept per node when Config.Capacity is
// unset: three hours at the sampler's default 10 s.
const DefaultCapacity = 1080

// NodeKey names one cache node's series.
type NodeKey struct {
	Account, Region string
	CacheClusterID  string
	CacheNodeID     string // "0001"
}

// Config configures a Service.
type Config struct {
	// Capacity is the samples kept per node, oldest dropped first;
	// default DefaultCapacity.
	Capacity int
}

// Service holds the series and serves the CloudWatch operations.
type Service struct {
	cloudwatchapi.Unimplemented
	cfg Config

	mu    sync.RWMutex // guards nodes; each ring has its own lock
	nodes map[NodeKey]*ring
}

// New returns an empty Service.
func New(cfg Config) *Service {
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity
	}
	return &Service{cfg: cfg, nodes: map[NodeKey]*ring{}}
}

// Record appends one sample of a node's metrics (metric name → value,
// names from Metrics). A node's metric set is fixed by its first sample;
// names it lacks later are recorded as absent.
func (s *Service) Record(key NodeKey, at time.Time, values map[string]float64) {
	s.mu.RLock()
	r := s.nodes[key]
	s.mu.RUnlock()
	if r == nil {
		s.mu.Lock()
		if r = s.nodes[key]; r == nil {
			names := make([]string, 0, len(values))
			for n := range values {
				if _, ok := units[n]; ok {
					names = append(names, n)
				}
			}
			slices.Sort(names)
			r = newRing(names, s.cfg.Capacity)
			s.nodes[key] = r
		}
		s.mu.Unlock()
	}
	r.add(at, values)
}

// Retain forgets the series of every node keep rejects (nodes deleted).
func (s *Service) Retain(keep func(NodeKey) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.nodes {
		if !keep(k) {
			delete(s.nodes, k)
		}
	}
}

// Latest returns each node's most recent sample, for scrapers.
func (s *Service) Latest() map[NodeKey]map[string]float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[NodeKey]map[string]float64, len(s.nodes))
	for k, r := range s.nodes {
		if v := r.latest(); v != nil {
			out[k] = v
		}
	}
	return out
}

// ring is one node's samples: times and a flat table of values, one row
// per sample, one column per metric name; NaN marks an absent value.
type ring struct {
	names []string
	mu    sync.Mutex // guards what follows
	seen  []bool     // per column: a value was ever recorded (ListMetrics lists it)
	times []int64    // unix milliseconds
	vals  []float32  // len(times) rows of len(names)
	next  int        // index of the next row written
	n     int        // rows held
}

func newRing(names []string, capacity int) *ring {
	return &ring{names: names, seen: make([]bool, len(names)), times: make([]int64, capacity), vals: make([]float32, capacity*len(names))}
}

func (r *ring) add(at time.Time, values map[string]float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	row := r.vals[r.next*len(r.names) : (r.next+1)*len(r.names)]
	for i, name := range r.names {
		v, ok := values[name]
		if !ok {
			v = math.NaN()
		}
		row[i] = float32(v)
		r.seen[i] = r.seen[i] || !math.IsNaN(v)
	}
	r.times[r.next] = at.UnixMilli()
	r.next = (r.next + 1) % len(r.times)
	r.n = min(r.n+1, len(r.times))
}

// column returns the index of a metric name, -1 if the node has none.
func (r *ring) column(name string) int {
	i, ok := slices.BinarySearch(r.names, name)
	if !ok {
		return -1
	}
	return i
}

// each calls fn for each present value of column col in [from, to), oldest
// first.
func (r *ring) each(col int, from, to int64, fn func(t int64, v float64)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := (r.next - r.n + len(r.times)) % len(r.times)
	for i := range r.n {
		j := (start + i) % len(r.times)
		t := r.times[j]
		if t < from || t >= to {
			continue
		}
		v := r.vals[j*len(r.names)+col]
		if !math.IsNaN(float64(v)) {
			fn(t, float64(v))
		}
	}
}

// listed returns the names of the metrics that have had a value.
func (r *ring) listed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, name := range r.names {
		if r.seen[i] {
			out = append(out, name)
		}
	}
	return out
}

func (r *ring) latest() map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		return nil
	}
	j := (r.next - 1 + len(r.times)) % len(r.times)
	out := make(map[string]float64, len(r.names))
	for i, name := range r.names {
		if v := r.vals[j*len(r.names)+i]; !math.IsNaN(float64(v)) {
			out[name] = float64(v)
		}
	}
	return out
}
