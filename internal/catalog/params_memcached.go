package catalog

// The memcached1.6 parameter table, after ElastiCache's "Memcached specific
// parameters" (1.4.5 base set plus the 1.4.14, 1.4.24, 1.4.33, 1.5.10 and
// 1.6.x changes). internal/engine/memcached maps each to a memcached flag
// (args.go).

// mp is a short constructor for a modifiable memcached parameter that
// takes effect at the next start (ElastiCache: "Changes take effect: After
// restart"/"At launch").
func mp(name, def string, dt DataType, allowed, desc string) Parameter {
	return Parameter{Name: name, Default: def, DataType: dt, AllowedValues: allowed,
		Modifiable: true, ChangeType: RequiresReboot, MinimumEngineVersion: "1.4.5", Description: desc}
}

func immediate(p Parameter) Parameter { p.ChangeType = Immediate; return p }

func memcached16Parameters() []Parameter {
	S, I, B, F := TypeString, TypeInteger, TypeBoolean, TypeFloat
	return []Parameter{
		fixed(mp("backlog_queue_limit", "1024", I, "1-10000", "Listen backlog length.")),
		mp("binding_protocol", "auto", S, "ascii,auto", "Protocol accepted: ascii or auto-negotiated."),
		mp("cas_disabled", "0", B, "0,1", "Disable compare-and-swap (saves 8 bytes per item)."),
		mp("chunk_size", "48", I, "1-", "Minimum bytes for key, value and flags of the smallest item."),
		mp("chunk_size_growth_factor", "1.25", F, "1-2", "Growth factor between slab chunk sizes."),
		since("1.4.33", immediate(mp("disable_flush_all", "0", B, "0,1", "Refuse flush_all."))),
		mp("error_on_memory_exhausted", "0", B, "0,1", "Return an error instead of evicting when memory is full."),
		since("1.4.24", mp("hash_algorithm", "jenkins", S, "jenkins,murmur3", "Hash table algorithm.")),
		since("1.4.33", mp("idle_timeout", "0", I, "0-86400", "Seconds before an idle client is closed (0 never).")),
		fixed(mp("large_memory_pages", "0", B, "0,1", "Try to use large memory pages.")),
		fixed(mp("lock_down_paged_memory", "0", B, "0,1", "Lock down all paged memory.")),
		since("1.4.24", mp("lru_crawler", "0", B, "0,1", "Background thread reclaiming expired items.")),
		since("1.4.24", mp("lru_maintainer", "0", B, "0,1", "Segmented LRU with a background maintainer thread.")),
		mp("max_item_size", "1048576", I, "1048576-134217728", "Largest item, bytes."),
		fixed(mp("max_simultaneous_connections", "65000", I, "3-65000", "Maximum simultaneous connections.")),
		mp("maxconns_fast", "0", B, "0,1", "Close new connections at once when over the limit."),
		fixed(mp("memcached_connections_overhead", "100", I, "", "Memory, MB, reserved for connections (ElastiCache bookkeeping).")),
		mp("requests_per_event", "20", I, "1-1000", "Maximum requests per event per connection."),
		since("1.4.24", mp("slab_automove", "0", I, "0-2", "Automatic slab page rebalancing (0 off, 1 conservative, 2 aggressive).")),
		since("1.4.33", mp("slab_chunk_max", "524288", I, "", "Maximum slab chunk size, bytes.")),
		since("1.4.24", mp("slab_reassign", "0", B, "0,1", "Allow slab pages to move between classes.")),
		since("1.4.33", mp("track_sizes", "0", B, "0,1", "Track item sizes for 'stats sizes'.")),
		since("1.4.33", immediate(mp("watch", "1", B, "0,1", "Allow the watch command (live logging)."))),
		since("1.4.33", mp("watcher_logbuf_size", "256", I, "0-", "Per-watcher log buffer, KB.")),
		since("1.4.33", mp("worker_logbuf_size", "64", I, "0-", "Per-worker log buffer, KB.")),
		since("1.5.10", mp("no_modern", "1", B, "0,1", "Use the 1.4-era defaults for modern options.")),
		since("1.5.10", mp("inline_ascii_resp", "0", B, "0,1", "Store the ASCII VALUE response inside the item.")),
	}
}
