package redis

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// DefaultPort is the port the engine listens on when Config.Port is 0.
const DefaultPort = 6379

// LogFile is the engine's log file in its data directory when
// Config.LogFile is empty.
const LogFile = "redis.log"

// Config is everything redis.conf (or valkey.conf) is rendered from.
type Config struct {
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
	// Admin holds the node's secrets: the restricted commands are renamed
	// with its suffix and the admin user gets its password (restrict.go).
	// Both are required.
	Admin Admin
	// ReplicaOf is the primary a replica follows (replication.go); nil
	// for a primary or a node outside a replication group.
	ReplicaOf *Upstream
	// TLS, when set, makes the node speak TLS only on Port (tls.go).
	TLS *TLS
	// AuthTokens are the SHA-256 hashes (hex) of the default user's
	// passwords (auth.go); none: nopass.
	AuthTokens []string
	// AnnounceHostname, in cluster mode, is the DNS name the node
	// announces as its preferred endpoint (MOVED, ASK, CLUSTER SLOTS),
	// its address staying in gossip and CLUSTER NODES: a name resolving
	// to the node wherever the client is (its private address inside the
	// VPCs, its published one on the host). "" announces the address
	// only. Engines before Redis OSS 7.0 have no such directive; it is
	// left out for them.
	AnnounceHostname string
	// Users are the RBAC users (auth.go); one named default replaces the
	// default user of AuthTokens.
	Users []User
}

var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// announcesHostname reports whether the engine of family knows
// cluster-announce-hostname (Redis OSS 7.0, every Valkey).
func announcesHostname(family string) bool {
	return family == "redis7" || strings.HasPrefix(family, "valkey")
}

// AnnounceCommand is the CONFIG SET that makes a running cluster-mode node
// of family announce hostname as its preferred endpoint
// (Config.AnnounceHostname), for a node started before it did; nil when
// there is nothing to set.
func AnnounceCommand(family string, params map[string]string, hostname string) ([]string, error) {
	if hostname == "" || params["cluster-enabled"] != "yes" || !announcesHostname(family) {
		return nil, nil
	}
	if !hostnameRE.MatchString(hostname) {
		return nil, fmt.Errorf("bad announced hostname %q", hostname)
	}
	return []string{"CONFIG", "SET", "cluster-announce-hostname", hostname, "cluster-preferred-endpoint-type", "hostname"}, nil
}

var suffixRE = regexp.MustCompile(`^[A-Za-z0-9]{16,}$`)

var nodeIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

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

// directive maps an ElastiCache parameter to its redis.conf
// directive; "" means the parameter is ElastiCache's own and is not
// passed to the engine (it is realised elsewhere, e.g. maxmemory).
func directive(name string) string {
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

// UnixSocket is the name of the engine's Unix socket in its data
// directory.
const UnixSocket = "redis.sock"

// RenderConf renders redis.conf for a family (redis7, valkey7,
// valkey8). It is pure: the same input gives the same bytes.
func RenderConf(family string, c Config) ([]byte, error) {
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
	if c.Admin.Password == "" || !suffixRE.MatchString(c.Admin.Suffix) || strings.ContainsAny(c.Admin.Password, " \t\r\n") {
		return nil, fmt.Errorf("render redis.conf: admin password and command suffix ([A-Za-z0-9], 16 or more) required")
	}
	params, err := catalog.MergeDefaults(family, c.Parameters)
	if err != nil {
		return nil, fmt.Errorf("render redis.conf: %w", err)
	}
	port := c.Port
	if port == 0 {
		port = DefaultPort
	}
	if n, err := strconv.Atoi(params["maxclients"]); err == nil && c.FDLimit > 32 && n > c.FDLimit-32 {
		params["maxclients"] = strconv.Itoa(c.FDLimit - 32)
	}
	pidFile, logFile := c.PidFile, c.LogFile
	if pidFile == "" {
		pidFile = c.Dir + "/redis.pid"
	}
	if logFile == "" {
		logFile = c.Dir + "/" + LogFile
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
	if c.TLS != nil {
		c.TLS.directives(w, port, params["cluster-enabled"] == "yes")
	} else {
		w("port", strconv.Itoa(port))
	}
	// The Unix socket, in the data directory (the engine's working
	// directory), only for the engine's own user and root: the daemon's
	// front of IAM authentication reaches the engine there, never
	// through a plaintext port of the network.
	w("unixsocket", UnixSocket)
	w("unixsocketperm", "700")
	w("protected-mode", protected)
	w("pidfile", quote(pidFile))
	w("logfile", quote(logFile))
	w("loglevel", "notice")
	w("always-show-logo", "no")
	w("proc-title-template", strconv.Quote("{title} {listen-addr} {server-mode} cachalot-node="+c.NodeID))

	b.WriteString("\n# Restricted commands and users: only Cachalot's admin user runs what\n# ElastiCache restricts\n")
	users, err := clientUsers(c.AuthTokens, c.Users, params["cluster-enabled"] == "yes")
	if err != nil {
		return nil, fmt.Errorf("render redis.conf: %w", err)
	}
	c.Admin.restrictions(w, users)

	b.WriteString("\n# Replication: a full synchronisation starts as soon as a replica asks\n# (not after the engine's default 5 s wait for more)\n")
	w("repl-diskless-sync-delay", "0")
	if c.ReplicaOf != nil {
		b.WriteString("# This node is a replica\n")
		c.ReplicaOf.replication(w)
	}

	b.WriteString("\n# Memory (node type less reserved memory)\n")
	w("maxmemory", strconv.FormatInt(catalog.EffectiveMaxMemory(c.MaxMemory, params), 10))

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
		// Cluster mode: the node announces the address clients in the
		// VPC reach it at (its own), in MOVED, CLUSTER SLOTS and gossip.
		w("cluster-config-file", "nodes.conf")
		w("cluster-announce-ip", c.BindIP)
		if c.AnnounceHostname != "" && announcesHostname(family) {
			if !hostnameRE.MatchString(c.AnnounceHostname) {
				return nil, fmt.Errorf("render redis.conf: bad announced hostname %q", c.AnnounceHostname)
			}
			w("cluster-announce-hostname", c.AnnounceHostname)
			w("cluster-preferred-endpoint-type", "hostname")
		}
	}

	b.WriteString("\n# Parameter group\n")
	for _, name := range slices.Sorted(maps.Keys(params)) {
		d := directive(name)
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
