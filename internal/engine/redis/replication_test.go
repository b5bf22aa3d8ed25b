package redis

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseReplicationInfo(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     ReplicationInfo
	}{
		{"primary", "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.1.5,port=6379,state=online,offset=1234,lag=0\r\nmaster_replid:abc\r\nmaster_repl_offset:1234\r\n",
			ReplicationInfo{Role: "master", Offset: 1234, Replicas: 2}},
		{"replica", "# Replication\r\nrole:slave\r\nmaster_host:10.0.1.4\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:1200\r\nmaster_repl_offset:1200\r\nconnected_slaves:0\r\n",
			ReplicationInfo{Role: "slave", MasterHost: "10.0.1.4", MasterPort: 6379, LinkUp: true, Offset: 1200}},
		{"replica-link-down", "role:slave\nmaster_host:10.0.1.4\nmaster_port:6379\nmaster_link_status:down\nslave_repl_offset:77\nmaster_repl_offset:90\n",
			ReplicationInfo{Role: "slave", MasterHost: "10.0.1.4", MasterPort: 6379, Offset: 77}},
		{"replica-syncing", "role:slave\nmaster_host:10.0.1.4\nmaster_port:6379\nmaster_link_status:down\nmaster_sync_in_progress:1\nslave_repl_offset:0\n",
			ReplicationInfo{Role: "slave", MasterHost: "10.0.1.4", MasterPort: 6379, Syncing: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReplicationInfo(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseReplicationInfo mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseReplicationInfo("# Replication\r\n"); err == nil {
		t.Error("ParseReplicationInfo(no role) = nil error, want one")
	}
}
