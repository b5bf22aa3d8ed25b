package catalog

// The Redis OSS 7 / Valkey parameter tables: names, defaults, types,
// allowed values, modifiability and change type follow ElastiCache's
// "Redis OSS-specific parameters" (families redis7, valkey7, valkey8), for
// the parameters people commonly change. Descriptions are ours and short.
//
// Parameters that exist only in ElastiCache (reserved-memory-percent,
// close-on-replica-write, ...) are in the table too; internal/engine/redis
// says how each reaches the engine (conf.go, directive).

const (
	yesNo          = "yes,no"
	evictionPolicy = "volatile-lru,allkeys-lru,volatile-lfu,allkeys-lfu,volatile-random,allkeys-random,volatile-ttl,noeviction"
)

// rp is a short constructor for a modifiable, immediate Redis parameter.
func rp(name, def string, dt DataType, allowed, desc string) Parameter {
	return Parameter{Name: name, Default: def, DataType: dt, AllowedValues: allowed,
		Modifiable: true, ChangeType: Immediate, MinimumEngineVersion: "2.6.13", Description: desc}
}

func static(p Parameter) Parameter          { p.ChangeType = RequiresReboot; return p }
func fixed(p Parameter) Parameter           { p.Modifiable = false; return p }
func since(v string, p Parameter) Parameter { p.MinimumEngineVersion = v; return p }

func redis7Parameters() []Parameter {
	S, I := TypeString, TypeInteger
	return []Parameter{
		since("4.0.10", rp("activedefrag", "no", S, yesNo, "Active memory defragmentation.")),
		since("4.0.10", rp("active-defrag-cycle-max", "75", I, "1-75", "Maximal CPU effort for defrag, in percent.")),
		since("4.0.10", rp("active-defrag-cycle-min", "5", I, "1-75", "Minimal CPU effort for defrag, in percent.")),
		since("4.0.10", rp("active-defrag-ignore-bytes", "104857600", I, "1048576-", "Minimum fragmentation waste to start defrag.")),
		since("4.0.10", rp("active-defrag-threshold-lower", "10", I, "1-100", "Minimum fragmentation percentage to start defrag.")),
		since("4.0.10", rp("active-defrag-threshold-upper", "100", I, "1-100", "Fragmentation percentage for maximum effort.")),
		since("6.0", rp("active-expire-effort", "1", I, "1-10", "Effort spent on expiring keys actively.")),
		since("6.0", rp("acllog-max-len", "128", I, "1-10000", "Maximum entries in the ACL log.")),
		static(rp("activerehashing", "yes", S, yesNo, "Incremental rehashing of the main dictionaries.")),
		rp("appendfsync", "everysec", S, "always,everysec,no", "fsync policy of the append-only file."),
		rp("appendonly", "no", S, yesNo, "Append-only file persistence."),
		rp("client-output-buffer-limit-normal-hard-limit", "0", I, "0-", "Hard output buffer limit of normal clients, bytes."),
		rp("client-output-buffer-limit-normal-soft-limit", "0", I, "0-", "Soft output buffer limit of normal clients, bytes."),
		rp("client-output-buffer-limit-normal-soft-seconds", "0", I, "0-", "Seconds over the soft limit before disconnect."),
		rp("client-output-buffer-limit-pubsub-hard-limit", "33554432", I, "0-", "Hard output buffer limit of pub/sub clients, bytes."),
		rp("client-output-buffer-limit-pubsub-soft-limit", "8388608", I, "0-", "Soft output buffer limit of pub/sub clients, bytes."),
		rp("client-output-buffer-limit-pubsub-soft-seconds", "60", I, "0-", "Seconds over the soft limit before disconnect."),
		fixed(rp("client-output-buffer-limit-replica-hard-limit", "0", I, "", "Hard output buffer limit of replicas (set from maxmemory).")),
		fixed(rp("client-output-buffer-limit-replica-soft-limit", "0", I, "", "Soft output buffer limit of replicas (set from maxmemory).")),
		fixed(rp("client-output-buffer-limit-replica-soft-seconds", "60", I, "", "Seconds over the soft limit before disconnect.")),
		since("2.8.23", rp("close-on-replica-write", "yes", S, yesNo, "Disconnect clients that write to a replica.")),
		since("7.0", rp("cluster-allow-pubsubshard-when-down", "yes", S, yesNo, "Serve shard pub/sub while the cluster is down.")),
		since("6.0", rp("cluster-allow-reads-when-down", "no", S, yesNo, "Serve reads while the cluster is down.")),
		since("3.2.4", static(rp("cluster-enabled", "no", S, yesNo, "Cluster mode (set by the .cluster.on group)."))),
		since("7.0", rp("cluster-preferred-endpoint-type", "ip", S, "ip,tls-dynamic", "Endpoint type returned in MOVED/ASK and CLUSTER SLOTS.")),
		since("3.2.4", rp("cluster-require-full-coverage", "no", S, yesNo, "Stop serving when a slot is not covered.")),
		static(rp("databases", "16", I, "1-1200", "Number of logical databases.")),
		since("7.0", rp("hash-max-listpack-entries", "512", I, "0-", "Maximum hash entries for the compact encoding.")),
		since("7.0", rp("hash-max-listpack-value", "64", I, "0-", "Maximum hash value size for the compact encoding.")),
		since("2.8.9", rp("hll-sparse-max-bytes", "3000", I, "1-16000", "HyperLogLog sparse representation limit, bytes.")),
		since("7.0", rp("latency-tracking", "no", S, yesNo, "Per-command latency tracking.")),
		since("4.0.10", rp("lazyfree-lazy-eviction", "no", S, yesNo, "Free evicted keys in the background.")),
		since("4.0.10", rp("lazyfree-lazy-expire", "no", S, yesNo, "Free expired keys in the background.")),
		since("4.0.10", rp("lazyfree-lazy-server-del", "no", S, yesNo, "Free implicitly deleted keys in the background.")),
		since("6.0", rp("lazyfree-lazy-user-del", "no", S, yesNo, "DEL behaves like UNLINK.")),
		since("6.2", rp("lazyfree-lazy-user-flush", "no", S, yesNo, "FLUSHALL/FLUSHDB default to ASYNC.")),
		since("4.0.10", rp("lfu-decay-time", "1", I, "0-", "Minutes to decay the LFU counter.")),
		since("4.0.10", rp("lfu-log-factor", "10", I, "1-", "LFU counter logarithm factor.")),
		since("3.2.4", rp("list-compress-depth", "0", I, "0-", "Uncompressed quicklist nodes at each end of a list.")),
		since("7.0", rp("list-max-listpack-size", "-2", I, "-5,-4,-3,-2,-1,1-", "Quicklist node size: entries (>0) or size class (<0).")),
		fixed(rp("lua-time-limit", "5000", I, "5000", "Maximum Lua script run time, ms.")),
		fixed(rp("maxclients", "65000", I, "1-65000", "Maximum simultaneous clients.")),
		rp("maxmemory-policy", "volatile-lru", S, evictionPolicy, "Eviction policy when maxmemory is reached."),
		rp("maxmemory-samples", "3", I, "1-", "Keys sampled by the LRU/LFU/TTL eviction."),
		rp("min-replicas-max-lag", "10", I, "0-", "Maximum replica lag, seconds, for min-replicas-to-write."),
		rp("min-replicas-to-write", "0", I, "0-", "Minimum replicas online to accept writes."),
		since("2.8.0", rp("notify-keyspace-events", "", S, "", "Keyspace event classes to publish.")),
		since("2.8.4", rp("repl-backlog-size", "1048576", I, "16384-", "Replication backlog size, bytes.")),
		since("2.8.4", rp("repl-backlog-ttl", "3600", I, "0-", "Seconds before a master frees an unused backlog.")),
		rp("repl-timeout", "60", I, "30-", "Replication timeout, seconds."),
		since("2.8.22", rp("reserved-memory", "0", I, "", "Bytes reserved for non-data use (superseded by reserved-memory-percent).")),
		since("3.2.4", rp("reserved-memory-percent", "25", I, "0-100", "Percent of maxmemory reserved for non-data use.")),
		rp("set-max-intset-entries", "512", I, "0-", "Maximum integer set entries for the compact encoding."),
		rp("slowlog-log-slower-than", "10000", I, "-1-", "Microseconds above which a command is logged (-1 off)."),
		rp("slowlog-max-len", "128", I, "0-", "Maximum slow log length."),
		since("5.0.0", rp("stream-node-max-bytes", "4096", I, "0-", "Maximum bytes of a stream radix tree node.")),
		since("5.0.0", rp("stream-node-max-entries", "100", I, "0-", "Maximum entries of a stream radix tree node.")),
		rp("tcp-keepalive", "300", I, "0-", "TCP keepalive interval, seconds (0 off)."),
		rp("timeout", "0", I, "0,20-", "Close idle client connections after seconds (0 never)."),
		since("6.0", rp("tracking-table-max-keys", "1000000", I, "1-100000000", "Keys in the client-side caching tracking table.")),
		since("7.0", rp("zset-max-listpack-entries", "128", I, "0-", "Maximum sorted set entries for the compact encoding.")),
		since("7.0", rp("zset-max-listpack-value", "64", I, "0-", "Maximum sorted set member size for the compact encoding.")),
	}
}

// valkey8Parameters is the valkey7 table; Valkey 8 kept the Redis OSS 7
// parameter set for the parameters listed here.
func valkey8Parameters() []Parameter {
	return redis7Parameters()
}
