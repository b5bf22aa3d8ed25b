package cachectl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOtherDatabases(t *testing.T) {
	for _, tt := range []struct {
		name, info string
		want       []string
	}{
		{"empty", "# Keyspace\r\n", nil},
		{"db0 only", "# Keyspace\r\ndb0:keys=200,expires=0,avg_ttl=0\r\n", nil},
		{"db1 and db15", "# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\ndb1:keys=1,expires=0,avg_ttl=0\r\ndb15:keys=3,expires=1,avg_ttl=9\r\n", []string{"db1", "db15"}},
		{"db1 without keys", "# Keyspace\r\ndb1:keys=0,expires=0,avg_ttl=0\r\n", nil},
	} {
		if diff := cmp.Diff(tt.want, otherDatabases(tt.info)); diff != "" {
			t.Errorf("otherDatabases(%s) (-want +got):\n%s", tt.name, diff)
		}
	}
}
