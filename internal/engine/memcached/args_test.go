package memcached

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

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"memcached16-defaults", Config{BindIP: "10.0.1.230", Port: 11211, MemoryMB: 512, User: "nobody", FDLimit: 20000}},
		{"memcached16-modified", Config{BindIP: "10.0.1.231", Port: 11212, MemoryMB: 1402, Threads: 2,
			Parameters: map[string]string{
				"max_item_size": "2097152", "chunk_size": "96", "chunk_size_growth_factor": "1.5",
				"disable_flush_all": "1", "cas_disabled": "1", "no_modern": "0", "slab_reassign": "1", "slab_automove": "1",
				"lru_crawler": "1", "lru_maintainer": "1", "hash_algorithm": "murmur3", "idle_timeout": "600",
			}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := Args("/usr/bin/memcached", "memcached1.6", tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".argv", []byte(strings.Join(argv, "\n")+"\n"))
		})
	}
	if _, err := Args("/usr/bin/memcached", "memcached1.6", Config{BindIP: "127.0.0.1",
		Parameters: map[string]string{"max_item_size": "1"}}); err == nil {
		t.Error("Args(max_item_size=1) = nil error, want error")
	}
}
