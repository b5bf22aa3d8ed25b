package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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

// Catalog is the set of installed engines found by Discover.
type Catalog struct {
	Engines []Installed
}

// binaries says which binary provides which engine, and how to ask it for
// its version.
func binaries() []struct{ engine, name, flag string } {
	return []struct{ engine, name, flag string }{
		{Redis, "redis-server", "--version"},
		{Valkey, "valkey-server", "--version"},
		{Memcached, "memcached", "-V"},
	}
}

// DefaultSearchPath is searched after $PATH by Discover.
func DefaultSearchPath() []string {
	return []string{"/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"}
}

// Discover finds installed engines by running each binary's version flag.
// dirs are searched in order; nil means $PATH then DefaultSearchPath. A
// binary found under several names (symlinks) is reported once.
func Discover(ctx context.Context, dirs []string) (*Catalog, error) {
	if dirs == nil {
		dirs = append(filepath.SplitList(os.Getenv("PATH")), DefaultSearchPath()...)
	}
	type candidate struct {
		path, flag, engine string
	}
	var cands []candidate
	seen := map[string]bool{}
	for _, b := range binaries() {
		for _, d := range dirs {
			if d == "" {
				continue
			}
			p := filepath.Join(d, b.name)
			real, err := filepath.EvalSymlinks(p)
			if err != nil || seen[real] {
				continue
			}
			if st, err := os.Stat(real); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				continue
			}
			seen[real] = true
			cands = append(cands, candidate{p, b.flag, b.engine})
		}
	}
	// The version commands run in parallel: discovery is on the daemon's
	// start-up path.
	found := make([]Installed, len(cands))
	errs := make([]error, len(cands))
	var wg sync.WaitGroup
	for i, cd := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runVersion(ctx, cd.path, cd.flag)
			if err == nil {
				found[i], err = ParseVersion(cd.engine, out)
				found[i].Path = cd.path
			}
			if err != nil {
				errs[i] = fmt.Errorf("discover %s: %w", cd.path, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &Catalog{Engines: found}
	return c, nil
}

func runVersion(ctx context.Context, path, flag string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, flag).Output()
	if err != nil {
		return "", fmt.Errorf("run %s %s: %w", path, flag, err)
	}
	return string(out), nil
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

// Find returns the installed engine for an ElastiCache engine name and
// version. version may be empty (the newest installed), a prefix on dot
// boundaries ("7", "7.0", "7.0.15", "1.6") or an ElastiCache-style version
// matched against EngineVersion. The error wraps ErrEngineNotInstalled and
// lists what is installed.
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
	if len(cands) == 0 {
		var have []string
		for _, in := range c.Engines {
			have = append(have, in.Engine+" "+in.Version)
		}
		if len(have) == 0 {
			have = []string{"none"}
		}
		return Installed{}, fmt.Errorf("%w: %s %s (installed: %s)", ErrEngineNotInstalled, engine, version, strings.Join(have, ", "))
	}
	slices.SortFunc(cands, func(a, b Installed) int { return compareVersions(b.Version, a.Version) })
	return cands[0], nil
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
