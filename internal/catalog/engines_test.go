package catalog

import (
	"errors"
	"slices"
	"strings"
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
	for _, tc := range [][2]string{{Redis, "9.9"}, {Redis, "3.2.4"}, {Memcached, "1.3"}, {"mongodb", ""}} {
		if _, err := c.Find(tc[0], tc[1]); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("Find(%s, %s) = %v, want ErrUnknownVersion", tc[0], tc[1], err)
		}
	}
}

// TestCatalogFindServes: an offered version no binary is installed for is
// served by a compatible one and keeps the version and family asked for.
func TestCatalogFindServes(t *testing.T) {
	debian := &Catalog{Engines: []Installed{
		{Engine: Redis, Version: "7.0.15", EngineVersion: "7.0", Family: "redis7", Path: "/usr/bin/redis-server"},
		{Engine: Memcached, Version: "1.6.18", EngineVersion: "1.6.18", Family: "memcached1.6", Path: "/usr/bin/memcached"},
	}}
	withValkey := &Catalog{Engines: append(slices.Clone(debian.Engines),
		Installed{Engine: Valkey, Version: "7.2.5", EngineVersion: "7.2", Family: "valkey7", Path: "/a/valkey-server"},
		Installed{Engine: Valkey, Version: "8.0.2", EngineVersion: "8.0", Family: "valkey8", Path: "/b/valkey-server"})}
	for _, tc := range []struct {
		name             string
		c                *Catalog
		engine, version  string
		want             Installed
		wantSubstitution string
	}{
		{"redis6.2", debian, Redis, "6.2", Installed{Redis, "7.0.15", "6.2", "redis6.x", "/usr/bin/redis-server"}, "Engine redis 7.0.15 serves requested redis 6.2"},
		{"redis7.1", debian, Redis, "7.1", Installed{Redis, "7.0.15", "7.1", "redis7", "/usr/bin/redis-server"}, "Engine redis 7.0.15 serves requested redis 7.1"},
		{"redis4", debian, Redis, "4.0.10", Installed{Redis, "7.0.15", "4.0.10", "redis4.0", "/usr/bin/redis-server"}, "Engine redis 7.0.15 serves requested redis 4.0.10"},
		{"redis5-prefix", debian, Redis, "5.0", Installed{Redis, "7.0.15", "5.0.6", "redis5.0", "/usr/bin/redis-server"}, "Engine redis 7.0.15 serves requested redis 5.0.6"},
		{"redis-own", debian, Redis, "7.0", Installed{Redis, "7.0.15", "7.0", "redis7", "/usr/bin/redis-server"}, ""},
		{"valkey-by-redis", debian, Valkey, "8.0", Installed{Redis, "7.0.15", "8.0", "valkey8", "/usr/bin/redis-server"}, "Engine redis 7.0.15 serves requested valkey 8.0"},
		{"valkey-default", debian, Valkey, "", Installed{Redis, "7.0.15", "8.2", "valkey8", "/usr/bin/redis-server"}, "Engine redis 7.0.15 serves requested valkey 8.2"},
		{"valkey-prefers-valkey", withValkey, Valkey, "8.1", Installed{Valkey, "8.0.2", "8.1", "valkey8", "/b/valkey-server"}, "Engine valkey 8.0.2 serves requested valkey 8.1"},
		{"valkey-newer-enough", withValkey, Valkey, "7.2", Installed{Valkey, "7.2.5", "7.2", "valkey7", "/a/valkey-server"}, ""},
		{"memcached1.6.22", debian, Memcached, "1.6.22", Installed{Memcached, "1.6.18", "1.6.22", "memcached1.6", "/usr/bin/memcached"}, "Engine memcached 1.6.18 serves requested memcached 1.6.22"},
		{"memcached1.4", debian, Memcached, "1.4.34", Installed{Memcached, "1.6.18", "1.4.34", "memcached1.4", "/usr/bin/memcached"}, "Engine memcached 1.6.18 serves requested memcached 1.4.34"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.Find(tc.engine, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Find(%s, %s) mismatch (-want +got):\n%s", tc.engine, tc.version, diff)
			}
			if s := got.Substitution(tc.engine); s != tc.wantSubstitution {
				t.Errorf("Substitution = %q, want %q", s, tc.wantSubstitution)
			}
		})
	}
	none := &Catalog{Engines: debian.Engines[1:]}
	_, err := none.Find(Valkey, "8.0")
	if !errors.Is(err, ErrEngineNotInstalled) || !strings.Contains(err.Error(), "install valkey-server") {
		t.Errorf("Find(valkey 8.0) without redis/valkey = %v, want ErrEngineNotInstalled naming valkey-server", err)
	}
}

// TestFamiliesOfOffered: every offered version has a parameter table.
func TestFamiliesOfOffered(t *testing.T) {
	for _, o := range OfferedVersions() {
		if _, err := Parameters(o.Family); err != nil {
			t.Errorf("%s %s: %v", o.Engine, o.Version, err)
		}
	}
	if _, err := LookupParameter("redis6.x", "zset-max-listpack-entries"); !errors.Is(err, ErrUnknownParameter) {
		t.Errorf("redis6.x has a Redis 7 parameter: %v", err)
	}
}
