package engine

import (
	"context"
	"errors"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// TestDiscoverHost runs the real binaries of this machine.
func TestDiscoverHost(t *testing.T) {
	c, err := Discover(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range c.Engines {
		t.Logf("found %s %s (family %s, EngineVersion %s) at %s", in.Engine, in.Version, in.Family, in.EngineVersion, in.Path)
	}
	for _, e := range []string{catalog.Redis, catalog.Memcached} {
		in, err := c.Find(e, "")
		if err != nil {
			t.Logf("SKIP-NOTE: %v", err)
			continue
		}
		if in.Family == "" || in.Version == "" {
			t.Errorf("Find(%s) = %+v, incomplete", e, in)
		}
	}
	if _, err := c.Find(catalog.Redis, "99.0"); !errors.Is(err, catalog.ErrUnknownVersion) {
		t.Errorf("Find(redis, 99.0) = %v, want ErrUnknownVersion (a version ElastiCache does not offer)", err)
	}
}
