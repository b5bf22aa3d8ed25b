package engine

// Discovery lives here, not in internal/catalog, because it runs programs:
// the catalog leaf stays pure (tables and look-ups the domain may import
// without gaining the power to start processes), while this package
// already owns running engine binaries. What the version output means is
// the catalog's (catalog.ParseVersion).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// binaries says which binary provides which engine, and how to ask it for
// its version.
func binaries() []struct{ engine, name, flag string } {
	return []struct{ engine, name, flag string }{
		{catalog.Redis, "redis-server", "--version"},
		{catalog.Valkey, "valkey-server", "--version"},
		{catalog.Memcached, "memcached", "-V"},
	}
}

// DefaultSearchPath is searched after $PATH by Discover.
func DefaultSearchPath() []string {
	return []string{"/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"}
}

// Discover finds installed engines by running each binary's version flag.
// dirs are searched in order; nil means $PATH then DefaultSearchPath. A
// binary found under several names (symlinks) is reported once.
func Discover(ctx context.Context, dirs []string) (*catalog.Catalog, error) {
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
	found := make([]catalog.Installed, len(cands))
	errs := make([]error, len(cands))
	var wg sync.WaitGroup
	for i, cd := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := runVersion(ctx, cd.path, cd.flag)
			if err == nil {
				found[i], err = catalog.ParseVersion(cd.engine, out)
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
	c := &catalog.Catalog{Engines: found}
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
