package catalog

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFamilies(t *testing.T) {
	want := []string{"memcached1.4", "memcached1.5", "memcached1.6", "redis4.0", "redis5.0", "redis6.x", "redis7", "valkey7", "valkey8"}
	if diff := cmp.Diff(want, Families()); diff != "" {
		t.Errorf("Families() mismatch (-want +got):\n%s", diff)
	}
}

// Every default must be valid for its own parameter, every name unique,
// every row complete.
func TestParameterTablesConsistent(t *testing.T) {
	for _, fam := range Families() {
		ps, err := Parameters(fam)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, p := range ps {
			if seen[p.Name] {
				t.Errorf("%s: duplicate %s", fam, p.Name)
			}
			seen[p.Name] = true
			if p.DataType == "" || p.ChangeType == "" || p.Description == "" || p.MinimumEngineVersion == "" {
				t.Errorf("%s: %s incomplete: %+v", fam, p.Name, p)
			}
			if err := p.Validate(p.Default); err != nil {
				t.Errorf("%s: default of %s invalid: %v", fam, p.Name, err)
			}
		}
	}
}

func TestCommonParametersPresent(t *testing.T) {
	redis := []string{"maxmemory-policy", "maxmemory-samples", "timeout", "tcp-keepalive", "notify-keyspace-events",
		"databases", "appendonly", "appendfsync", "cluster-enabled", "reserved-memory-percent", "lua-time-limit",
		"slowlog-log-slower-than", "slowlog-max-len", "hash-max-listpack-entries", "list-max-listpack-size",
		"set-max-intset-entries", "zset-max-listpack-entries", "activedefrag"}
	for _, fam := range []string{"redis7", "valkey7", "valkey8"} {
		for _, name := range redis {
			if _, err := LookupParameter(fam, name); err != nil {
				t.Errorf("LookupParameter(%s, %s) = %v", fam, name, err)
			}
		}
	}
	for _, name := range []string{"max_item_size", "chunk_size", "chunk_size_growth_factor",
		"max_simultaneous_connections", "disable_flush_all", "binding_protocol", "cas_disabled"} {
		if _, err := LookupParameter("memcached1.6", name); err != nil {
			t.Errorf("LookupParameter(memcached1.6, %s) = %v", name, err)
		}
	}
}

func TestStaticAndDynamic(t *testing.T) {
	for _, tc := range []struct {
		family, name string
		want         ChangeType
	}{
		{"redis7", "maxmemory-policy", Immediate},
		{"redis7", "timeout", Immediate},
		{"redis7", "databases", RequiresReboot},
		{"redis7", "cluster-enabled", RequiresReboot},
		{"valkey8", "notify-keyspace-events", Immediate},
		{"memcached1.6", "max_item_size", RequiresReboot},
	} {
		p, err := LookupParameter(tc.family, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if p.ChangeType != tc.want {
			t.Errorf("%s %s ChangeType = %s, want %s", tc.family, tc.name, p.ChangeType, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, family, param, value string
		ok                         bool
	}{
		{"policy-ok", "redis7", "maxmemory-policy", "allkeys-lru", true},
		{"policy-bad", "redis7", "maxmemory-policy", "lru", false},
		{"samples-range", "redis7", "maxmemory-samples", "10", true},
		{"samples-zero", "redis7", "maxmemory-samples", "0", false},
		{"samples-text", "redis7", "maxmemory-samples", "ten", false},
		{"timeout-zero", "redis7", "timeout", "0", true},
		{"timeout-short", "redis7", "timeout", "10", false},
		{"timeout-long", "redis7", "timeout", "300", true},
		{"yesno", "redis7", "appendonly", "yes", true},
		{"yesno-bad", "redis7", "appendonly", "true", false},
		{"listpack-neg", "redis7", "list-max-listpack-size", "-2", true},
		{"listpack-neg-out", "redis7", "list-max-listpack-size", "-6", false},
		{"listpack-zero", "redis7", "list-max-listpack-size", "0", false},
		{"slowlog-off", "redis7", "slowlog-log-slower-than", "-1", true},
		{"rmp-101", "redis7", "reserved-memory-percent", "101", false},
		{"notify-ok", "redis7", "notify-keyspace-events", "KEA", true},
		{"notify-empty", "redis7", "notify-keyspace-events", "", true},
		{"notify-bad", "redis7", "notify-keyspace-events", "KEQ", false},
		{"mc-bool", "memcached1.6", "cas_disabled", "1", true},
		{"mc-bool-bad", "memcached1.6", "cas_disabled", "yes", false},
		{"mc-float", "memcached1.6", "chunk_size_growth_factor", "1.5", true},
		{"mc-float-out", "memcached1.6", "chunk_size_growth_factor", "2.5", false},
		{"mc-item", "memcached1.6", "max_item_size", "2097152", true},
		{"mc-item-small", "memcached1.6", "max_item_size", "1024", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LookupParameter(tc.family, tc.param)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Validate(tc.value)
			if (err == nil) != tc.ok {
				t.Errorf("Validate(%q) = %v, want ok=%v", tc.value, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidParameterValue) {
				t.Errorf("Validate(%q) = %v, want ErrInvalidParameterValue", tc.value, err)
			}
		})
	}
}

func TestValidateChanges(t *testing.T) {
	if err := ValidateChanges("redis7", map[string]string{"timeout": "60", "maxmemory-policy": "noeviction"}); err != nil {
		t.Errorf("ValidateChanges(valid) = %v", err)
	}
	err := ValidateChanges("redis7", map[string]string{"lua-time-limit": "100", "nope": "1", "timeout": "x"})
	for _, want := range []error{ErrParameterNotModifiable, ErrUnknownParameter, ErrInvalidParameterValue} {
		if !errors.Is(err, want) {
			t.Errorf("ValidateChanges(bad) = %v, want it to include %v", err, want)
		}
	}
	if _, err := Parameters("redis2.6"); !errors.Is(err, ErrUnknownFamily) {
		t.Errorf("Parameters(redis2.6) = %v, want ErrUnknownFamily", err)
	}
}

func TestEffectiveMaxMemory(t *testing.T) {
	for _, tc := range []struct {
		mem    int64
		params map[string]string
		want   int64
	}{
		{1000, map[string]string{"reserved-memory-percent": "25"}, 750},
		{1000, map[string]string{"reserved-memory-percent": "0"}, 1000},
		{1000, map[string]string{"reserved-memory-percent": "25", "reserved-memory": "100"}, 900},
		{0, map[string]string{"reserved-memory-percent": "25"}, 0},
	} {
		if got := EffectiveMaxMemory(tc.mem, tc.params); got != tc.want {
			t.Errorf("EffectiveMaxMemory(%d, %v) = %d, want %d", tc.mem, tc.params, got, tc.want)
		}
	}
}

func TestNodeTypeMemory(t *testing.T) {
	if b, err := NodeTypeMemory("cache.t3.micro"); err != nil || b != 536870912 {
		t.Errorf("NodeTypeMemory(cache.t3.micro) = %d, %v; want 536870912", b, err)
	}
	if _, err := NodeTypeMemory("cache.x9.huge"); !errors.Is(err, ErrUnknownNodeType) {
		t.Errorf("NodeTypeMemory(unknown) = %v, want ErrUnknownNodeType", err)
	}
}
