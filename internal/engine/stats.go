package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// Stats are a node's engine statistics at one moment, as the engine itself
// reports them (Redis OSS and Valkey: INFO; Memcached: stats). Counters are
// cumulative since the engine started; a smaller Uptime than an earlier
// sample's means it restarted and they began again.
type Stats struct {
	Engine           string  // catalog engine name
	Uptime           int64   // seconds since the engine started
	CPUSeconds       float64 // user + system CPU time of the engine process
	CurrConnections  int64   // client connections open now (the sampler's own included)
	TotalConnections int64   // connections accepted since start
	UsedMemory       int64   // bytes the engine uses for data (Memcached: bytes of items)
	MaxMemory        int64   // the engine's memory limit in bytes; 0 = none
	Hits, Misses     int64   // key look-ups that found / did not find their key
	Evictions        int64   // keys evicted for memory
	Items            int64   // keys held
	Commands         int64   // commands processed
	NetIn, NetOut    int64   // bytes read from and written to clients
	Replica          bool    // a Redis OSS/Valkey replica
	// ReplicationLag is, for a replica, the seconds since it last heard
	// from its primary (INFO master_last_io_seconds_ago).
	ReplicationLag float64
	// Redis OSS/Valkey only: the replicas attached (connected_slaves),
	// cluster mode (cluster_enabled) and the hz the engine is set to
	// (configured_hz; see idlehz.go).
	Replicas       int64
	ClusterEnabled bool
	ConfiguredHz   int64
}

// Stats reads a running node's engine statistics, reached as its admin
// user, within a second unless ctx ends sooner.
func (s *Supervisor) Stats(ctx context.Context, nodeID string) (Stats, error) {
	n, err := s.node(nodeID)
	if err != nil {
		return Stats{}, err
	}
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	var st Stats
	if spec.Engine.Engine == catalog.Memcached {
		st, err = readMemcachedStats(ctx, spec)
	} else {
		st, err = readRedisStats(ctx, spec, admin)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("stats of %s: %w", nodeID, err)
	}
	st.Engine = spec.Engine.Engine
	return st, nil
}

func readRedisStats(ctx context.Context, spec NodeSpec, admin redis.Admin) (Stats, error) {
	c, err := admin.Dial(ctx, spec.Dial, spec.adminAddr())
	if err != nil {
		return Stats{}, err
	}
	defer c.Close()
	s, err := c.String(ctx, admin.Name("INFO"))
	if err != nil {
		return Stats{}, err
	}
	return ParseRedisInfo(s), nil
}

// ParseRedisInfo reads the statistics of an INFO reply.
func ParseRedisInfo(s string) Stats {
	var st Stats
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "uptime_in_seconds":
			st.Uptime = atoi(v)
		case "used_cpu_sys", "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			st.CPUSeconds += f
		case "connected_clients":
			st.CurrConnections = atoi(v)
		case "total_connections_received":
			st.TotalConnections = atoi(v)
		case "used_memory":
			st.UsedMemory = atoi(v)
		case "maxmemory":
			st.MaxMemory = atoi(v)
		case "keyspace_hits":
			st.Hits = atoi(v)
		case "keyspace_misses":
			st.Misses = atoi(v)
		case "evicted_keys":
			st.Evictions = atoi(v)
		case "total_commands_processed":
			st.Commands = atoi(v)
		case "total_net_input_bytes":
			st.NetIn = atoi(v)
		case "total_net_output_bytes":
			st.NetOut = atoi(v)
		case "role":
			st.Replica = v == "slave"
		case "connected_slaves":
			st.Replicas = atoi(v)
		case "cluster_enabled":
			st.ClusterEnabled = strings.TrimSpace(v) == "1"
		case "configured_hz":
			st.ConfiguredHz = atoi(v)
		case "master_last_io_seconds_ago":
			st.ReplicationLag, _ = strconv.ParseFloat(v, 64)
		default:
			// db0:keys=1,expires=0,avg_ttl=0
			if strings.HasPrefix(k, "db") {
				keys, _, _ := strings.Cut(strings.TrimPrefix(v, "keys="), ",")
				st.Items += atoi(keys)
			}
		}
	}
	return st
}

func readMemcachedStats(ctx context.Context, spec NodeSpec) (Stats, error) {
	admin, err := withTLS(redis.Admin{}, spec)
	if err != nil {
		return Stats{}, err
	}
	c, err := memcached.DialTLS(ctx, spec.Dial, spec.Addr(), admin.TLS)
	if err != nil {
		return Stats{}, err
	}
	defer c.Close()
	m, err := c.Stats(ctx)
	if err != nil {
		return Stats{}, err
	}
	return ParseMemcachedStats(m), nil
}

// ParseMemcachedStats reads the statistics of a "stats" reply.
func ParseMemcachedStats(m map[string]string) Stats {
	f := func(k string) float64 { v, _ := strconv.ParseFloat(m[k], 64); return v }
	i := func(k string) int64 { return atoi(m[k]) }
	return Stats{
		Uptime:           i("uptime"),
		CPUSeconds:       f("rusage_user") + f("rusage_system"),
		CurrConnections:  i("curr_connections"),
		TotalConnections: i("total_connections"),
		UsedMemory:       i("bytes"),
		MaxMemory:        i("limit_maxbytes"),
		Hits:             i("get_hits"),
		Misses:           i("get_misses"),
		Evictions:        i("evictions"),
		Items:            i("curr_items"),
		Commands:         i("cmd_get") + i("cmd_set") + i("cmd_touch") + i("cmd_flush"),
		NetIn:            i("bytes_read"),
		NetOut:           i("bytes_written"),
	}
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}
