package engine

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// RedisConfig is everything redis.conf (or valkey.conf) is rendered from.
type RedisConfig struct {
	NodeID    string // shown in the process title; [A-Za-z0-9._-]
	BindIP    string // address the node listens on
	Port      int    // default 6379
	MaxMemory int64  // bytes, from the node type; 0 means no limit
	Dir       string // data directory for RDB/AOF, also the working directory
	PidFile   string // default Dir/redis.pid
	LogFile   string // default Dir/redis.log
	// Save holds RDB save points ("900 1"); empty renders `save ""`, no
	// snapshots (ElastiCache takes snapshots on request only).
	Save []string
	// Parameters are the node's parameter group values; missing ones take
	// the family default.
	Parameters map[string]string
	// FDLimit, when positive, caps maxclients to FDLimit-32 (Redis keeps
	// 32 descriptors for itself). Uncapped, Redis lowers maxclients itself
	// by trying setrlimit in steps of 16, thousands of failing syscalls
	// that cost ~15 ms of every start.
	FDLimit int
}

// MemcachedConfig is everything memcached's argv is rendered from.
type MemcachedConfig struct {
	BindIP   string
	Port     int   // default 11211
	MemoryMB int64 // -m, from the node type; default 64
	Threads  int   // -t; default 4
	// User for -u, needed when running as root (memcached refuses root
	// without it); empty omits the flag.
	User string
	// FDLimit, when positive, caps -c (max_simultaneous_connections):
	// memcached sets RLIMIT_NOFILE to -c and exits if it may not.
	FDLimit    int
	Parameters map[string]string
}

var nodeIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

// EffectiveMaxMemory returns maxmemory as rendered: the node type's memory
// less the reserved share (reserved-memory-percent, or reserved-memory in
// bytes when that is set), which ElastiCache keeps for non-data use.
func EffectiveMaxMemory(nodeMemory int64, params map[string]string) int64 {
	if nodeMemory <= 0 {
		return 0
	}
	if rb, err := strconv.ParseInt(params["reserved-memory"], 10, 64); err == nil && rb > 0 {
		return max(nodeMemory-rb, 0)
	}
	pct, err := strconv.ParseInt(params["reserved-memory-percent"], 10, 64)
	if err != nil || pct <= 0 {
		return nodeMemory
	}
	return nodeMemory - nodeMemory*min(pct, 100)/100
}

// mergeDefaults returns the family's defaults overlaid with values,
// validated. Unknown names are errors.
func mergeDefaults(family string, values map[string]string) (map[string]string, error) {
	m, err := Defaults(family)
	if err != nil {
		return nil, err
	}
	var bad []string
	for k, v := range values {
		p, err := LookupParameter(family, k)
		if err != nil {
			return nil, err
		}
		if err := p.Validate(v); err != nil {
			bad = append(bad, err.Error())
		}
		m[k] = v
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, fmt.Errorf("%w: %s", ErrInvalidParameterValue, strings.Join(bad, "; "))
	}
	return m, nil
}

// isPrivate reports whether an address is loopback, RFC 1918, CGNAT,
// link-local or IPv6 ULA: not reachable from the internet.
func isPrivate(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a)
}

// redisDirective maps an ElastiCache parameter to its redis.conf
// directive; "" means the parameter is ElastiCache's own and is not
// passed to the engine (it is realised elsewhere, e.g. maxmemory).
func redisDirective(name string) string {
	switch name {
	case "reserved-memory", "reserved-memory-percent", // folded into maxmemory
		"close-on-replica-write",          // ElastiCache proxy behaviour
		"cluster-preferred-endpoint-type", // ElastiCache values differ from the engine's
		"client-output-buffer-limit-replica-hard-limit",
		"client-output-buffer-limit-replica-soft-limit",
		"client-output-buffer-limit-replica-soft-seconds": // engine default
		return ""
	}
	if strings.HasPrefix(name, "client-output-buffer-limit-") {
		return "" // rendered as one line per class, see below
	}
	return name
}

// quote renders a redis.conf argument.
func quote(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"'\\") {
		return strconv.Quote(v)
	}
	return v
}

// RenderRedisConf renders redis.conf for a family (redis7, valkey7,
// valkey8). It is pure: the same input gives the same bytes.
func RenderRedisConf(family string, c RedisConfig) ([]byte, error) {
	if !strings.HasPrefix(family, "redis") && !strings.HasPrefix(family, "valkey") {
		return nil, fmt.Errorf("render redis.conf: family %s is not Redis OSS or Valkey", family)
	}
	if !nodeIDRE.MatchString(c.NodeID) {
		return nil, fmt.Errorf("render redis.conf: bad node id %q", c.NodeID)
	}
	if _, err := netip.ParseAddr(c.BindIP); err != nil {
		return nil, fmt.Errorf("render redis.conf: bind address: %w", err)
	}
	if c.Dir == "" {
		return nil, fmt.Errorf("render redis.conf: no data directory")
	}
	params, err := mergeDefaults(family, c.Parameters)
	if err != nil {
		return nil, fmt.Errorf("render redis.conf: %w", err)
	}
	port := c.Port
	if port == 0 {
		port = 6379
	}
	if n, err := strconv.Atoi(params["maxclients"]); err == nil && c.FDLimit > 32 && n > c.FDLimit-32 {
		params["maxclients"] = strconv.Itoa(c.FDLimit - 32)
	}
	pidFile, logFile := c.PidFile, c.LogFile
	if pidFile == "" {
		pidFile = c.Dir + "/redis.pid"
	}
	if logFile == "" {
		logFile = c.Dir + "/redis.log"
	}
	protected := "yes"
	if isPrivate(c.BindIP) {
		protected = "no"
	}

	var b bytes.Buffer
	w := func(k string, v ...string) {
		b.WriteString(k)
		for _, x := range v {
			b.WriteByte(' ')
			b.WriteString(x)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "# Rendered by Cachalot for cache node %s (family %s). Do not edit:\n# the supervisor rewrites it on every start.\n\n", c.NodeID, family)
	b.WriteString("# Process and network\n")
	w("daemonize", "no")
	w("supervised", "no")
	w("bind", c.BindIP)
	w("port", strconv.Itoa(port))
	w("protected-mode", protected)
	w("pidfile", quote(pidFile))
	w("logfile", quote(logFile))
	w("loglevel", "notice")
	w("always-show-logo", "no")
	w("proc-title-template", strconv.Quote("{title} {listen-addr} {server-mode} cachalot-node="+c.NodeID))

	b.WriteString("\n# Memory (node type less reserved memory)\n")
	w("maxmemory", strconv.FormatInt(EffectiveMaxMemory(c.MaxMemory, params), 10))

	b.WriteString("\n# Persistence\n")
	w("dir", quote(c.Dir))
	w("dbfilename", "dump.rdb")
	w("appendfilename", quote("appendonly.aof"))
	if len(c.Save) == 0 {
		w("save", `""`)
	}
	for _, s := range c.Save {
		w("save", s)
	}
	if params["cluster-enabled"] == "yes" {
		w("cluster-config-file", "nodes.conf")
	}

	b.WriteString("\n# Parameter group\n")
	for _, name := range slices.Sorted(maps.Keys(params)) {
		d := redisDirective(name)
		if d == "" {
			continue
		}
		w(d, quote(params[name]))
	}
	for _, class := range []string{"normal", "pubsub"} {
		pre := "client-output-buffer-limit-" + class + "-"
		w("client-output-buffer-limit", class, params[pre+"hard-limit"], params[pre+"soft-limit"], params[pre+"soft-seconds"])
	}
	return b.Bytes(), nil
}

// memcachedFlag renders one memcached1.6 parameter: either a flag with its
// arguments, or an extended option for -o, or nothing.
func memcachedFlag(name, v string) (flag []string, ext string) {
	on := v == "1"
	onOff := func(opt string) string {
		if on {
			return opt
		}
		return "no_" + opt
	}
	switch name {
	case "backlog_queue_limit":
		return []string{"-b", v}, ""
	case "binding_protocol":
		return []string{"-B", v}, ""
	case "cas_disabled":
		if on {
			return []string{"-C"}, ""
		}
	case "chunk_size":
		return []string{"-n", v}, ""
	case "chunk_size_growth_factor":
		return []string{"-f", v}, ""
	case "disable_flush_all":
		if on {
			return []string{"-F"}, ""
		}
	case "error_on_memory_exhausted":
		if on {
			return []string{"-M"}, ""
		}
	case "large_memory_pages":
		if on {
			return []string{"-L"}, ""
		}
	case "lock_down_paged_memory":
		if on {
			return []string{"-k"}, ""
		}
	case "max_item_size":
		return []string{"-I", v}, ""
	case "max_simultaneous_connections":
		return []string{"-c", v}, "" // capped by MemcachedArgs
	case "requests_per_event":
		return []string{"-R", v}, ""
	case "watch":
		if !on {
			return []string{"-W"}, ""
		}
	case "hash_algorithm":
		return nil, "hash_algorithm=" + v
	case "idle_timeout":
		return nil, "idle_timeout=" + v
	case "lru_crawler":
		return nil, onOff("lru_crawler")
	case "lru_maintainer":
		return nil, onOff("lru_maintainer")
	case "maxconns_fast":
		return nil, onOff("maxconns_fast")
	case "slab_automove":
		return nil, "slab_automove=" + v
	case "slab_reassign":
		return nil, onOff("slab_reassign")
	case "slab_chunk_max":
		if v != "524288" {
			n, _ := strconv.ParseInt(v, 10, 64)
			return nil, "slab_chunk_max=" + strconv.FormatInt(n/1024, 10) // memcached takes KB
		}
	case "track_sizes":
		if on {
			return nil, "track_sizes"
		}
	case "watcher_logbuf_size":
		return nil, "watcher_logbuf_size=" + v
	case "worker_logbuf_size":
		return nil, "worker_logbuf_size=" + v
	}
	// no_modern is rendered first by MemcachedArgs; inline_ascii_resp was
	// removed in memcached 1.6; memcached_connections_overhead is
	// ElastiCache bookkeeping.
	return nil, ""
}

// MemcachedArgs renders memcached's argv (binary first) for a family
// (memcached1.6). It is pure.
func MemcachedArgs(binary, family string, c MemcachedConfig) ([]string, error) {
	if !strings.HasPrefix(family, "memcached") {
		return nil, fmt.Errorf("render memcached argv: family %s is not memcached", family)
	}
	if _, err := netip.ParseAddr(c.BindIP); err != nil {
		return nil, fmt.Errorf("render memcached argv: bind address: %w", err)
	}
	params, err := mergeDefaults(family, c.Parameters)
	if err != nil {
		return nil, fmt.Errorf("render memcached argv: %w", err)
	}
	port, mem, threads := c.Port, c.MemoryMB, c.Threads
	if port == 0 {
		port = 11211
	}
	if mem <= 0 {
		mem = 64
	}
	if threads <= 0 {
		threads = 4
	}
	argv := []string{binary, "-l", c.BindIP, "-p", strconv.Itoa(port), "-U", "0",
		"-m", strconv.FormatInt(mem, 10), "-t", strconv.Itoa(threads)}
	if c.User != "" {
		argv = append(argv, "-u", c.User)
	}
	var ext []string
	if params["no_modern"] == "1" {
		ext = append(ext, "no_modern") // first: later options override its defaults
	}
	if n, err := strconv.Atoi(params["max_simultaneous_connections"]); err == nil && c.FDLimit > 0 && n > c.FDLimit {
		params["max_simultaneous_connections"] = strconv.Itoa(c.FDLimit)
	}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		f, e := memcachedFlag(name, params[name])
		argv = append(argv, f...)
		if e != "" {
			ext = append(ext, e)
		}
	}
	if len(ext) > 0 {
		argv = append(argv, "-o", strings.Join(ext, ","))
	}
	return argv, nil
}
