package memcached

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/catalog"
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
		{"memcached16-tls", Config{BindIP: "10.0.1.232", Port: 11211, MemoryMB: 512,
			TLS: &TLS{CertFile: "tls-cert.pem", KeyFile: "tls-key.pem"}}},
		{"memcached16-second-port", Config{BindIP: "10.0.1.233", Port: 11211, SecondPort: 11212, MemoryMB: 1024,
			TLS: &TLS{CertFile: "tls-cert.pem", KeyFile: "tls-key.pem"}}},
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
	if _, err := Args("/usr/bin/memcached", "memcached1.6", Config{BindIP: "127.0.0.1",
		TLS: &TLS{CertFile: "a,ssl_key=/etc/shadow", KeyFile: "k"}}); err == nil {
		t.Error("Args(TLS file name with a comma) = nil error, want error")
	}
	for _, p := range []int{-1, 11211, 70000} {
		if _, err := Args("/usr/bin/memcached", "memcached1.6", Config{BindIP: "127.0.0.1", Port: 11211, SecondPort: p}); err == nil {
			t.Errorf("Args(SecondPort %d) = nil error, want error", p)
		}
	}
}

// No parameter reaches memcached's item memory: -m is the node type's,
// and nothing a parameter group holds can lift it (ElastiCache has no
// modifiable memory parameter for Memcached either). Every parameter is
// rendered at several valid values, alone.
func TestNoParameterLiftsMemory(t *testing.T) {
	params, err := catalog.Parameters("memcached1.6")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		for _, v := range []string{p.Default, "0", "1", "2", "4096", "1048576", "134217728"} {
			if p.Validate(v) != nil {
				continue
			}
			argv, err := Args("/usr/bin/memcached", "memcached1.6", Config{BindIP: "127.0.0.1", MemoryMB: 555,
				Parameters: map[string]string{p.Name: v}})
			if err != nil {
				t.Fatalf("Args(%s=%s): %v", p.Name, v, err)
			}
			var mem []string
			for i, a := range argv {
				if a == "-m" || a == "--memory-limit" || strings.HasPrefix(a, "--memory-limit=") || a == "-e" || a == "-L" {
					mem = append(mem, strings.Join(argv[i:min(i+2, len(argv))], " "))
				}
			}
			if len(mem) != 1 || mem[0] != "-m 555" {
				if p.Name == "large_memory_pages" && v == "1" {
					continue // -L preallocates the same -m; the parameter is not modifiable
				}
				t.Errorf("Args(%s=%s) memory flags = %v, want only -m 555", p.Name, v, mem)
			}
		}
	}
}

func TestDataLimit(t *testing.T) {
	for _, tc := range []struct{ mb, want int64 }{
		{0, 64<<20 + 8<<20 + 256<<20},
		{16, 16<<20 + 2<<20 + 256<<20},
		{6451, 6451<<20 + 6451<<20/8 + 256<<20},
	} {
		if got := DataLimit(tc.mb); got != tc.want {
			t.Errorf("DataLimit(%d) = %d, want %d", tc.mb, got, tc.want)
		}
	}
}
