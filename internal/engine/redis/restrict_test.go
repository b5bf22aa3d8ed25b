package redis

import (
	"slices"
	"testing"
)

func TestAdminName(t *testing.T) {
	a := Admin{Password: "p", Suffix: "S3CR3T"}
	for _, tc := range []struct{ cmd, want string }{
		{"CONFIG", "CONFIG-S3CR3T"},
		{"config", "CONFIG-S3CR3T"},
		{"REPLICAOF", "REPLICAOF-S3CR3T"},
		{"PSYNC", "PSYNC"}, // ACL-denied, never renamed: replicas send it by name
		{"GET", "GET"},
	} {
		if got := a.Name(tc.cmd); got != tc.want {
			t.Errorf("Admin.Name(%s) = %s, want %s", tc.cmd, got, tc.want)
		}
	}
	if got := (Admin{}).Name("CONFIG"); got != "CONFIG" {
		t.Errorf("zero Admin.Name(CONFIG) = %s, want CONFIG (a node started before restrictions)", got)
	}
}

// Every command of ElastiCache's restricted list is renamed away, and the
// default user is denied each under any name.
func TestRestrictedCoversElastiCache(t *testing.T) {
	for _, c := range []string{"BGREWRITEAOF", "BGSAVE", "CONFIG", "DEBUG", "MIGRATE", "REPLICAOF", "SAVE", "SLAVEOF", "SHUTDOWN", "SYNC"} {
		if !slices.Contains(RenamedCommands(), c) {
			t.Errorf("RenamedCommands() lacks %s", c)
		}
	}
	for _, c := range []string{"config", "module", "acl", "psync", "sync"} {
		if !slices.Contains(DeniedCommands(), c) {
			t.Errorf("DeniedCommands() lacks %s", c)
		}
	}
}

// A cluster-mode node's clients may read the cluster's layout, not change
// it.
func TestDeniedClusterSubcommands(t *testing.T) {
	for _, c := range []string{"meet", "addslots", "addslotsrange", "forget", "replicate", "failover", "reset", "setslot"} {
		if !slices.Contains(DeniedClusterSubcommands(), c) {
			t.Errorf("DeniedClusterSubcommands() lacks %s", c)
		}
	}
	for _, c := range []string{"slots", "shards", "nodes", "info", "myid", "keyslot"} {
		if slices.Contains(DeniedClusterSubcommands(), c) {
			t.Errorf("DeniedClusterSubcommands() denies %s, which cluster clients read", c)
		}
	}
}
