package catalog

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		name, engine, out string
		want              Installed
	}{
		{"redis7", Redis, "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0\n",
			Installed{Engine: Redis, Version: "7.0.15", EngineVersion: "7.0", Family: "redis7"}},
		{"redis6", Redis, "Redis server v=6.2.14 sha=00000000:0 malloc=jemalloc-5.2.1 bits=64",
			Installed{Engine: Redis, Version: "6.2.14", EngineVersion: "6.2", Family: "redis6.x"}},
		{"valkey72", Valkey, "Valkey server v=7.2.5 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1",
			Installed{Engine: Valkey, Version: "7.2.5", EngineVersion: "7.2", Family: "valkey7"}},
		{"valkey8", Valkey, "Valkey server v=8.0.2 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1",
			Installed{Engine: Valkey, Version: "8.0.2", EngineVersion: "8.0", Family: "valkey8"}},
		// valkey's redis-server compatibility link answers as Valkey.
		{"valkey-as-redis-server", Redis, "Valkey server v=8.1.1 sha=0 malloc=libc bits=64",
			Installed{Engine: Valkey, Version: "8.1.1", EngineVersion: "8.1", Family: "valkey8"}},
		{"memcached", Memcached, "memcached 1.6.18\n",
			Installed{Engine: Memcached, Version: "1.6.18", EngineVersion: "1.6.18", Family: "memcached1.6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVersion(tc.engine, tc.out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseVersion mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseVersion(Redis, "garbage"); err == nil {
		t.Error("ParseVersion(garbage) = nil error")
	}
}

func TestCatalogFind(t *testing.T) {
	c := &Catalog{Engines: []Installed{
		{Engine: Redis, Version: "7.0.15", EngineVersion: "7.0", Family: "redis7", Path: "/usr/bin/redis-server"},
		{Engine: Valkey, Version: "7.2.5", EngineVersion: "7.2", Family: "valkey7", Path: "/a/valkey-server"},
		{Engine: Valkey, Version: "8.0.2", EngineVersion: "8.0", Family: "valkey8", Path: "/b/valkey-server"},
		{Engine: Memcached, Version: "1.6.18", EngineVersion: "1.6.18", Family: "memcached1.6", Path: "/usr/bin/memcached"},
	}}
	for _, tc := range []struct {
		engine, version, wantPath string
	}{
		{Redis, "", "/usr/bin/redis-server"},
		{Redis, "7.0", "/usr/bin/redis-server"},
		{Redis, "7", "/usr/bin/redis-server"},
		{Redis, "7.0.15", "/usr/bin/redis-server"},
		{Valkey, "", "/b/valkey-server"},
		{Valkey, "7.2", "/a/valkey-server"},
		{Memcached, "1.6", "/usr/bin/memcached"},
		{Memcached, "1.6.18", "/usr/bin/memcached"},
	} {
		got, err := c.Find(tc.engine, tc.version)
		if err != nil || got.Path != tc.wantPath {
			t.Errorf("Find(%s, %q) = %v, %v; want %s", tc.engine, tc.version, got.Path, err, tc.wantPath)
		}
	}
	for _, tc := range [][2]string{{Redis, "7.1"}, {Redis, "6.2"}, {Memcached, "1.6.22"}, {"mongodb", ""}} {
		if _, err := c.Find(tc[0], tc[1]); !errors.Is(err, ErrEngineNotInstalled) {
			t.Errorf("Find(%s, %s) = %v, want ErrEngineNotInstalled", tc[0], tc[1], err)
		}
	}
}
