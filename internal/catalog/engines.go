package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ElastiCache engine names.
const (
	Redis     = "redis"
	Valkey    = "valkey"
	Memcached = "memcached"
)

// ErrEngineNotInstalled is returned when no installed binary provides the
// requested engine and version.
var ErrEngineNotInstalled = errors.New("engine version not installed")

// ErrUnknownVersion is returned for an engine version ElastiCache does not
// offer.
var ErrUnknownVersion = errors.New("unknown engine version")

// Installed is one engine binary found on the host.
type Installed struct {
	Engine  string // ElastiCache engine name: redis, valkey or memcached
	Version string // the binary's own version, e.g. "7.0.15", "1.6.18"
	// EngineVersion is the version as ElastiCache names it: major.minor
	// for Redis OSS 6+ and Valkey ("7.0", "8.0"), the full version for
	// memcached ("1.6.18").
	EngineVersion string
	Family        string // parameter group family: redis7, valkey8, memcached1.6, ...
	Path          string // absolute path of the binary
}

// Catalog is the set of installed engines (engine.Discover finds them).
type Catalog struct {
	Engines []Installed
}

// ParseVersion parses the output of `redis-server --version`,
// `valkey-server --version` or `memcached -V` into an Installed (without
// Path). Valkey's redis-server compatibility binary reports itself as
// Valkey and is classified by its output, not its name.
func ParseVersion(engine, out string) (Installed, error) {
	re := regexp.MustCompile(`(?i)^(redis|valkey) server v=(\d+\.\d+\.\d+)`)
	if m := re.FindStringSubmatch(strings.TrimSpace(out)); m != nil {
		engine = strings.ToLower(m[1])
		return installed(engine, m[2])
	}
	if m := regexp.MustCompile(`^memcached (\d+\.\d+\.\d+)`).FindStringSubmatch(strings.TrimSpace(out)); m != nil && engine == Memcached {
		return installed(Memcached, m[1])
	}
	return Installed{}, fmt.Errorf("unrecognised %s version output %q", engine, firstLine(out))
}

func installed(engine, version string) (Installed, error) {
	maj, minor, err := majorMinor(version)
	if err != nil {
		return Installed{}, err
	}
	in := Installed{Engine: engine, Version: version}
	switch engine {
	case Redis:
		in.EngineVersion = fmt.Sprintf("%d.%d", maj, minor)
		switch {
		case maj >= 7:
			in.Family = fmt.Sprintf("redis%d", maj)
		case maj == 6:
			in.Family = "redis6.x"
		default:
			in.Family = fmt.Sprintf("redis%d.%d", maj, minor)
			in.EngineVersion = version
		}
	case Valkey:
		in.EngineVersion = fmt.Sprintf("%d.%d", maj, minor)
		in.Family = fmt.Sprintf("valkey%d", maj)
	case Memcached:
		in.EngineVersion = version
		in.Family = fmt.Sprintf("memcached%d.%d", maj, minor)
	default:
		return Installed{}, fmt.Errorf("unknown engine %q", engine)
	}
	return in, nil
}

func majorMinor(v string) (int, int, error) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, fmt.Errorf("bad version %q", v)
	}
	maj, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad version %q", v)
	}
	return maj, minor, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Find returns the installed engine that serves an ElastiCache engine name
// and version. version may be empty (the newest installed, else the newest
// offered), a prefix on dot boundaries ("7", "7.0", "7.0.15", "1.6") or an
// ElastiCache-style version matched against EngineVersion. A version no
// binary is installed for but ElastiCache offers (OfferedVersions) is
// served by a compatible binary (see serving): the result then carries the
// binary's Engine, Version and Path with the version asked for and its
// family as EngineVersion and Family. A version ElastiCache does not offer
// wraps ErrUnknownVersion; an offered one no installed binary can serve
// wraps ErrEngineNotInstalled and says what to install.
func (c *Catalog) Find(engine, version string) (Installed, error) {
	var cands []Installed
	for _, in := range c.Engines {
		if in.Engine != engine {
			continue
		}
		if version == "" || in.EngineVersion == version || in.Version == version ||
			strings.HasPrefix(in.Version, version+".") {
			cands = append(cands, in)
		}
	}
	if len(cands) > 0 {
		slices.SortFunc(cands, func(a, b Installed) int { return compareVersions(b.Version, a.Version) })
		return cands[0], nil
	}
	o, ok := offered(engine, version)
	if !ok {
		return Installed{}, fmt.Errorf("%w: %s %s (valid: %s)", ErrUnknownVersion, engine, version, strings.Join(ValidVersions(engine), ", "))
	}
	bin, ok := c.serving(o)
	if !ok {
		var have []string
		for _, in := range c.Engines {
			have = append(have, in.Engine+" "+in.Version)
		}
		if len(have) == 0 {
			have = []string{"none"}
		}
		return Installed{}, fmt.Errorf("%w: %s %s: %s (installed: %s)", ErrEngineNotInstalled, engine, o.Version, InstallHint(engine), strings.Join(have, ", "))
	}
	bin.EngineVersion, bin.Family = o.Version, o.Family
	return bin, nil
}

// compareVersions compares dotted numeric versions.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
