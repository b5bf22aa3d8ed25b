package memcached

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// DefaultPort is the port memcached listens on when Config.Port is 0.
const DefaultPort = 11211

// Config is everything memcached's argv is rendered from.
type Config struct {
	BindIP string
	Port   int // default 11211
	// SecondPort, when set, is a second listener at BindIP (-l
	// addr:port,addr:second), same protocol and TLS as Port.
	SecondPort int
	MemoryMB   int64 // -m, from the node type; default 64
	Threads    int   // -t; default 4
	// User for -u, needed when running as root (memcached refuses root
	// without it); empty omits the flag.
	User string
	// FDLimit, when positive, caps -c (max_simultaneous_connections):
	// memcached sets RLIMIT_NOFILE to -c and exits if it may not.
	FDLimit    int
	Parameters map[string]string
	// TLS, when set, makes the port TLS only (-Z) with this certificate
	// chain and key, files named relative to the engine's working
	// directory; refresh_certs reads them again.
	TLS *TLS
}

// TLS is a node's in-transit encryption: its certificate chain and key
// files. Clients need no certificate (ssl_verify_mode 0, the default),
// as on ElastiCache.
type TLS struct {
	CertFile, KeyFile string
}

// option renders one memcached1.6 parameter: either a flag with its
// arguments, or an extended option for -o, or nothing.
func option(name, v string) (flag []string, ext string) {
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
		return []string{"-c", v}, "" // capped by Args
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
		// memcached (1.6.18 and others) parses -o worker_logbuf_size and
		// falls through into slab_sizes, taking the value as the only
		// slab class: every item then shares one tiny class and is
		// evicted at a few thousand items whatever -m says. Its own
		// default is 64 KiB, ElastiCache's too: left to it.
		if v != "64" {
			return nil, "worker_logbuf_size=" + v
		}
	}
	// no_modern is rendered first by Args; inline_ascii_resp was
	// removed in memcached 1.6; memcached_connections_overhead is
	// ElastiCache bookkeeping.
	return nil, ""
}

// Args renders memcached's argv (binary first) for a family
// (memcached1.6). It is pure.
func Args(binary, family string, c Config) ([]string, error) {
	if !strings.HasPrefix(family, "memcached") {
		return nil, fmt.Errorf("render memcached argv: family %s is not memcached", family)
	}
	if _, err := netip.ParseAddr(c.BindIP); err != nil {
		return nil, fmt.Errorf("render memcached argv: bind address: %w", err)
	}
	params, err := catalog.MergeDefaults(family, c.Parameters)
	if err != nil {
		return nil, fmt.Errorf("render memcached argv: %w", err)
	}
	port, mem, threads := c.Port, c.MemoryMB, c.Threads
	if port == 0 {
		port = DefaultPort
	}
	if mem <= 0 {
		mem = 64
	}
	if threads <= 0 {
		threads = 4
	}
	listen := c.BindIP
	if c.SecondPort != 0 {
		if c.SecondPort < 1 || c.SecondPort > 65535 || c.SecondPort == port {
			return nil, fmt.Errorf("render memcached argv: second port %d", c.SecondPort)
		}
		ip, _ := netip.ParseAddr(c.BindIP)
		listen = netip.AddrPortFrom(ip, uint16(port)).String() + "," + netip.AddrPortFrom(ip, uint16(c.SecondPort)).String()
	}
	argv := []string{binary, "-l", listen, "-p", strconv.Itoa(port), "-U", "0",
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
		f, e := option(name, params[name])
		argv = append(argv, f...)
		if e != "" {
			ext = append(ext, e)
		}
	}
	if t := c.TLS; t != nil {
		if strings.ContainsAny(t.CertFile+t.KeyFile, ",=") {
			return nil, fmt.Errorf("render memcached argv: TLS file names %q, %q", t.CertFile, t.KeyFile)
		}
		argv = append(argv, "-Z")
		ext = append(ext, "ssl_chain_cert="+t.CertFile, "ssl_key="+t.KeyFile)
	}
	if len(ext) > 0 {
		argv = append(argv, "-o", strings.Join(ext, ","))
	}
	return argv, nil
}

// DataLimit returns the RLIMIT_DATA, in bytes, a memcached with memoryMB
// of item memory (-m; 0 means the default 64) runs under.
//
// Memcached 1.6 answers the text command "cache_memlimit <MB>" from any
// client by raising its item memory at run time, and has no option to
// turn the command off (it refuses only when item memory is preallocated
// with -L or -e, which costs a page per slab class at start and changes
// what large_memory_pages means). So the kernel holds the node type's
// cap instead: allocations past the item memory, the hash table (at most
// about an eighth of it) and a fixed 256 MiB for thread stacks,
// connection buffers and the rest fail, and memcached evicts or answers
// "SERVER_ERROR out of memory" as it does when full. A client can still
// lower the limit, as it can flush the cache.
func DataLimit(memoryMB int64) int64 {
	if memoryMB <= 0 {
		memoryMB = 64
	}
	m := memoryMB << 20
	return m + m/8 + 256<<20
}
