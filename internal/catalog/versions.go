package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// The engine versions ElastiCache offers for node-based caches, as
// DescribeCacheEngineVersions lists them on AWS, and which installed
// binary serves each. Cachalot runs real engines and a host has few of
// them (Debian 12: redis-server 7.0, memcached 1.6.18), so a version asked
// for is served by an installed engine that speaks its protocol: the cache
// is recorded and described as the version asked for, with its parameter
// group family and defaults, and the substitution is made visible
// (Installed.Substitution, an event on the cache, DescribeCacheEngineVersions).

// Offered is one engine version ElastiCache offers.
type Offered struct {
	Engine  string // redis, valkey or memcached
	Version string // as ElastiCache names it: "7.1", "8.0", "4.0.10", "1.6.22"
	Family  string // parameter group family: redis7, valkey8, memcached1.6, ...
}

// OfferedVersions returns every engine version ElastiCache offers, oldest
// first within an engine.
func OfferedVersions() []Offered {
	var out []Offered
	add := func(engine, family string, versions ...string) {
		for _, v := range versions {
			out = append(out, Offered{Engine: engine, Version: v, Family: family})
		}
	}
	add(Memcached, "memcached1.4", "1.4.5", "1.4.14", "1.4.24", "1.4.33", "1.4.34")
	add(Memcached, "memcached1.5", "1.5.10", "1.5.16")
	add(Memcached, "memcached1.6", "1.6.6", "1.6.12", "1.6.17", "1.6.21", "1.6.22")
	add(Redis, "redis4.0", "4.0.10")
	add(Redis, "redis5.0", "5.0.6")
	add(Redis, "redis6.x", "6.0", "6.2")
	add(Redis, "redis7", "7.0", "7.1")
	add(Valkey, "valkey7", "7.2")
	add(Valkey, "valkey8", "8.0", "8.1", "8.2")
	return out
}

// offered returns the offered version of engine named version: exactly,
// or on dot boundaries ("7" → the newest 7.x, "6.2.6" → "6.2"), or, for
// an empty version, the newest.
func offered(engine, version string) (Offered, bool) {
	var match *Offered
	all := OfferedVersions()
	for i := range all {
		o := &all[i]
		if o.Engine != engine {
			continue
		}
		switch {
		case version == "" || o.Version == version || strings.HasPrefix(o.Version, version+"."):
			match = o // later entries are newer
		case strings.HasPrefix(version, o.Version+"."):
			return *o, true
		}
	}
	if match == nil {
		return Offered{}, false
	}
	return *match, true
}

// ValidVersions lists the versions ElastiCache offers for engine, for an
// error message.
func ValidVersions(engine string) []string {
	var vs []string
	for _, o := range OfferedVersions() {
		if o.Engine == engine {
			vs = append(vs, o.Version)
		}
	}
	return vs
}

// protocol names the wire protocol an engine speaks: Valkey speaks Redis
// OSS's.
func protocol(engine string) string {
	if engine == Valkey {
		return Redis
	}
	return engine
}

// serving picks the installed binary that serves an offered version: one
// speaking its protocol, the requested engine's own binary first (so
// valkey-server is preferred for Valkey), then the oldest version at least
// the one asked for, then the newest.
func (c *Catalog) serving(o Offered) (Installed, bool) {
	var cands []Installed
	for _, in := range c.Engines {
		if protocol(in.Engine) == protocol(o.Engine) {
			cands = append(cands, in)
		}
	}
	if len(cands) == 0 {
		return Installed{}, false
	}
	rank := func(in Installed) (int, int) {
		same := 1
		if in.Engine == o.Engine {
			same = 0
		}
		newer := 1
		if compareVersions(in.Version, o.Version) >= 0 {
			newer = 0
		}
		return same, newer
	}
	slices.SortStableFunc(cands, func(a, b Installed) int {
		as, an := rank(a)
		bs, bn := rank(b)
		if as != bs {
			return as - bs
		}
		if an != bn {
			return an - bn
		}
		if an == 0 {
			return compareVersions(a.Version, b.Version) // oldest that is new enough
		}
		return compareVersions(b.Version, a.Version) // else the newest
	})
	return cands[0], true
}

// InstallHint says what to install to serve engine.
func InstallHint(engine string) string {
	switch protocol(engine) {
	case Redis:
		if engine == Valkey {
			return "install valkey-server (or redis-server), e.g. apt-get install valkey-server"
		}
		return "install redis-server (or valkey-server), e.g. apt-get install redis-server"
	case Memcached:
		return "install memcached, e.g. apt-get install memcached"
	}
	return "no engine serves " + engine
}

// Substitution describes how in serves the ElastiCache engine requested,
// e.g. "Engine redis 7.0.15 serves requested valkey 8.0"; "" when in is
// that engine's own binary at that version.
func (in Installed) Substitution(requested string) string {
	own, err := installed(in.Engine, in.Version)
	if err == nil && in.Engine == requested && own.EngineVersion == in.EngineVersion {
		return ""
	}
	return fmt.Sprintf("Engine %s %s serves requested %s %s", in.Engine, in.Version, requested, in.EngineVersion)
}

// Served is an engine version this host serves: Engine is the ElastiCache
// engine asked for, Installed what Find resolves it to.
type Served struct {
	Engine string
	Installed
}

// Servable returns what this host can serve: every offered version an
// installed binary serves and every installed binary's own version, each
// as Find resolves it; newest first within an engine, engines by name.
func (c *Catalog) Servable() []Served {
	seen := map[string]bool{}
	var out []Served
	add := func(engine, version string) {
		in, err := c.Find(engine, version)
		if err != nil || seen[engine+"/"+in.EngineVersion] {
			return
		}
		seen[engine+"/"+in.EngineVersion] = true
		out = append(out, Served{Engine: engine, Installed: in})
	}
	for _, in := range c.Engines {
		add(in.Engine, in.EngineVersion)
	}
	for _, o := range OfferedVersions() {
		add(o.Engine, o.Version)
	}
	slices.SortStableFunc(out, func(a, b Served) int {
		if x := strings.Compare(a.Engine, b.Engine); x != 0 {
			return x
		}
		return compareVersions(b.EngineVersion, a.EngineVersion)
	})
	return out
}
