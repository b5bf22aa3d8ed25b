package engine

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestRenderRedisConf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		family string
		cfg    RedisConfig
	}{
		{"redis7-defaults", "redis7", RedisConfig{
			NodeID: "cc-0001", BindIP: "10.0.1.230", Port: 6379, MaxMemory: 536870912, Dir: "/var/lib/cachalot/engine/cc-0001",
		}},
		{"redis7-modified", "redis7", RedisConfig{
			NodeID: "cc-0002", BindIP: "10.0.1.231", Port: 6380, MaxMemory: 1471026299, Dir: "/data/cc-0002",
			Save: []string{"900 1", "300 10"}, FDLimit: 20000,
			Parameters: map[string]string{
				"maxmemory-policy": "allkeys-lru", "notify-keyspace-events": "KEA", "timeout": "300",
				"appendonly": "yes", "databases": "32", "reserved-memory-percent": "10",
				"client-output-buffer-limit-normal-hard-limit": "1048576",
			},
		}},
		{"valkey8-cluster-public", "valkey8", RedisConfig{
			NodeID: "vk-0001-001", BindIP: "203.0.113.73", Port: 6379, Dir: "/data/vk",
			Parameters: map[string]string{"cluster-enabled": "yes"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderRedisConf(tc.family, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".conf", got)
		})
	}
}

func TestRenderRedisConfErrors(t *testing.T) {
	base := RedisConfig{NodeID: "n", BindIP: "127.0.0.1", Dir: "/d"}
	for _, tc := range []struct {
		name   string
		family string
		mod    func(*RedisConfig)
	}{
		{"memcached-family", "memcached1.6", func(*RedisConfig) {}},
		{"bad-ip", "redis7", func(c *RedisConfig) { c.BindIP = "nope" }},
		{"bad-id", "redis7", func(c *RedisConfig) { c.NodeID = "a b" }},
		{"bad-value", "redis7", func(c *RedisConfig) { c.Parameters = map[string]string{"timeout": "x"} }},
		{"unknown-param", "redis7", func(c *RedisConfig) { c.Parameters = map[string]string{"nope": "1"} }},
		{"no-dir", "redis7", func(c *RedisConfig) { c.Dir = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			if _, err := RenderRedisConf(tc.family, c); err == nil {
				t.Errorf("RenderRedisConf(%s) = nil error, want error", tc.name)
			}
		})
	}
}

func TestMemcachedArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  MemcachedConfig
	}{
		{"memcached16-defaults", MemcachedConfig{BindIP: "10.0.1.230", Port: 11211, MemoryMB: 512, User: "nobody", FDLimit: 20000}},
		{"memcached16-modified", MemcachedConfig{BindIP: "10.0.1.231", Port: 11212, MemoryMB: 1402, Threads: 2,
			Parameters: map[string]string{
				"max_item_size": "2097152", "chunk_size": "96", "chunk_size_growth_factor": "1.5",
				"disable_flush_all": "1", "cas_disabled": "1", "no_modern": "0", "slab_reassign": "1", "slab_automove": "1",
				"lru_crawler": "1", "lru_maintainer": "1", "hash_algorithm": "murmur3", "idle_timeout": "600",
			}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := MemcachedArgs("/usr/bin/memcached", "memcached1.6", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".argv", []byte(strings.Join(argv, "\n")+"\n"))
		})
	}
	if _, err := MemcachedArgs("/usr/bin/memcached", "memcached1.6", MemcachedConfig{BindIP: "127.0.0.1",
		Parameters: map[string]string{"max_item_size": "1"}}); err == nil {
		t.Error("MemcachedArgs(max_item_size=1) = nil error, want error")
	}
}
