package snapctl

import "testing"

// TestOwnsExactly: a shard's primary is ready for its keys when its own
// line of CLUSTER NODES is a primary's with exactly its slots, none open.
func TestOwnsExactly(t *testing.T) {
	const other = "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n"
	for _, tc := range []struct {
		name, nodes, want string
		ok                bool
	}{
		{"Exact", other + "e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460\n", "0-5460", true},
		{"Split", "e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-99 100 101-5460\n", "0-5460", true},
		{"Fewer", "e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5000\n", "0-5460", false},
		{"More", "e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5461\n", "0-5460", false},
		{"None", "e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected\n", "0-5460", false},
		{"Open", "e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461-<-abcd]\n", "0-5460", false},
		{"Replica", "e7d1 127.0.0.1:30001@31001 myself,slave abcd 0 0 1 connected\n", "0-5460", false},
		{"NoSelf", other, "0-5460", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ownsExactly(tc.nodes, tc.want); got != tc.ok {
				t.Errorf("ownsExactly(%q, %s) = %v, want %v", tc.nodes, tc.want, got, tc.ok)
			}
		})
	}
}

// TestOtherDatabases: INFO keyspace with a database other than 0.
func TestOtherDatabases(t *testing.T) {
	for ks, want := range map[string]bool{
		"# Keyspace\r\n": false,
		"# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\n":                                   false,
		"# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n": true,
		"# Keyspace\r\ndb12:keys=1,expires=0,avg_ttl=0\r\n":                                  true,
	} {
		if got := otherDatabases(ks); got != want {
			t.Errorf("otherDatabases(%q) = %v, want %v", ks, got, want)
		}
	}
}
