package redis

import (
	"slices"
	"strings"
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

func TestAuthCommandsAndDelUsers(t *testing.T) {
	h := strings.Repeat("e", 64)
	users := []User{{Name: "default", Rules: []string{"nopass", "off"}}, {Name: "app", Rules: []string{"#" + h, "on", "~*", "+@all"}}}
	cmds, err := AuthCommands([]string{strings.Repeat("f", 64)}, users, false)
	if err != nil {
		t.Fatal(err)
	}
	deny := strings.Join(denyRules(false), " ")
	want := []string{
		"ACL SETUSER default reset nopass off " + deny,
		"ACL SETUSER app reset #" + h + " on ~* +@all " + deny,
	}
	if len(cmds) != len(want) {
		t.Fatalf("AuthCommands = %q, want %q", cmds, want)
	}
	for i, c := range cmds {
		if got := strings.Join(c, " "); got != want[i] {
			t.Errorf("AuthCommands[%d] = %q, want %q", i, got, want[i])
		}
	}
	// Without users: the default user of the tokens.
	cmds, err = AuthCommands(nil, nil, true)
	if err != nil || len(cmds) != 1 || strings.Join(cmds[0], " ") != "ACL SETUSER default reset on nopass ~* &* +@all "+strings.Join(denyRules(true), " ") {
		t.Errorf("AuthCommands(nil, nil, cluster) = %q, %v", cmds, err)
	}
	if got := DelUsers([]string{"default", AdminUser, "app", "gone", "old"}, users); strings.Join(got, " ") != "ACL DELUSER gone old" {
		t.Errorf("DelUsers = %q, want ACL DELUSER gone old", got)
	}
	if got := DelUsers([]string{"default", AdminUser, "app"}, users); got != nil {
		t.Errorf("DelUsers with nothing extra = %q, want nil", got)
	}
}
