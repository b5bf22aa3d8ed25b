package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRedisInfo(t *testing.T) {
	info := "# Server\r\nuptime_in_seconds:42\r\nhz:10\r\nconfigured_hz:1\r\n# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:2097152\r\n" +
		"# Stats\r\ntotal_connections_received:9\r\ntotal_commands_processed:100\r\nkeyspace_hits:7\r\nkeyspace_misses:2\r\nevicted_keys:1\r\n" +
		"total_net_input_bytes:500\r\ntotal_net_output_bytes:600\r\n# Replication\r\nrole:slave\r\nconnected_slaves:2\r\nmaster_last_io_seconds_ago:2\r\n# Cluster\r\ncluster_enabled:1\r\n" +
		"# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:0.25\r\n# Keyspace\r\ndb0:keys=5,expires=0,avg_ttl=0\r\ndb3:keys=2,expires=1,avg_ttl=9\r\n"
	want := Stats{Uptime: 42, CPUSeconds: 1.75, CurrConnections: 3, TotalConnections: 9, UsedMemory: 1 << 20, MaxMemory: 2 << 20,
		Hits: 7, Misses: 2, Evictions: 1, Items: 7, Commands: 100, NetIn: 500, NetOut: 600, Replica: true, ReplicationLag: 2,
		Replicas: 2, ClusterEnabled: true, ConfiguredHz: 1}
	if diff := cmp.Diff(want, ParseRedisInfo(info)); diff != "" {
		t.Errorf("ParseRedisInfo (-want +got):\n%s", diff)
	}
}

func TestParseMemcachedStats(t *testing.T) {
	m := map[string]string{"uptime": "10", "rusage_user": "0.5", "rusage_system": "0.25", "curr_connections": "4",
		"total_connections": "12", "bytes": "300", "limit_maxbytes": "67108864", "get_hits": "8", "get_misses": "3",
		"evictions": "0", "curr_items": "6", "cmd_get": "11", "cmd_set": "6", "bytes_read": "70", "bytes_written": "80"}
	want := Stats{Uptime: 10, CPUSeconds: 0.75, CurrConnections: 4, TotalConnections: 12, UsedMemory: 300, MaxMemory: 64 << 20,
		Hits: 8, Misses: 3, Items: 6, Commands: 17, NetIn: 70, NetOut: 80}
	if diff := cmp.Diff(want, ParseMemcachedStats(m)); diff != "" {
		t.Errorf("ParseMemcachedStats (-want +got):\n%s", diff)
	}
}
