package snapctl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

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

// fakeLoader is a temporary engine holding keys (with their PTTL; -1:
// none) and shard primaries recording what they are sent.
type fakeLoader struct {
	mu       sync.Mutex
	keys     map[string]int64
	keyspace string
	restarts int // the temporary engine's, as Status reports them
	got      map[string][][]string
	fail     string // a target that answers RESTORE with an error
}

func (f *fakeLoader) Start(_ context.Context, spec engine.NodeSpec) (engine.NodeStatus, error) {
	return engine.NodeStatus{NodeID: spec.NodeID, PID: 7}, nil
}
func (f *fakeLoader) Status(id string) (engine.NodeStatus, bool) {
	return engine.NodeStatus{NodeID: id, PID: 7, Restarts: f.restarts}, true
}
func (f *fakeLoader) Remove(context.Context, string) error { return nil }
func (f *fakeLoader) NodeDir(id string) string             { return "/nonexistent/" + id }

func (f *fakeLoader) Commands(_ context.Context, _ string, cmds ...[]string) ([]any, error) {
	switch cmds[0][0] {
	case "INFO":
		return []any{f.keyspace}, nil
	case "SCAN": // two pages: keys sorted, the cursor an index
		var names []string
		for k := range f.keys {
			names = append(names, k)
		}
		slices.Sort(names)
		from, _ := strconv.Atoi(cmds[0][1])
		to := min(len(names), from+(len(names)+1)/2)
		next := strconv.Itoa(to)
		if to == len(names) {
			next = "0"
		}
		var page []any
		for _, k := range names[from:to] {
			page = append(page, k)
		}
		return []any{[]any{next, page}}, nil
	}
	return nil, fmt.Errorf("unexpected %v", cmds[0])
}

func (f *fakeLoader) Pipeline(_ context.Context, id string, cmds ...[]string) ([]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []any
	for _, c := range cmds {
		switch c[0] {
		case "DUMP":
			if _, ok := f.keys[c[1]]; ok {
				out = append(out, "payload of "+c[1])
			} else {
				out = append(out, nil)
			}
		case "PTTL":
			if ttl, ok := f.keys[c[1]]; ok {
				out = append(out, ttl)
			} else {
				out = append(out, int64(-2))
			}
		case "RESTORE":
			if id == f.fail {
				return nil, errors.New("MOVED")
			}
			f.got[id] = append(f.got[id], c)
			out = append(out, "OK")
		}
	}
	return out, nil
}

// TestLoadFile: every key of a temporary engine goes to the primary of
// the shard owning its slot, with its payload, REPLACE, and its expiry as
// an absolute time no later than its own; a key gone meanwhile is left;
// keys outside database 0, a target's error and a temporary engine that
// restarted fail the load.
func TestLoadFile(t *testing.T) {
	keys := map[string]int64{"foo": -1, "bar": 60000, "{user1000}.a": -1, "key:1": 5000, "gone": -2}
	newLoader := func() *fakeLoader {
		return &fakeLoader{keys: keys, keyspace: "# Keyspace\r\ndb0:keys=5,expires=2,avg_ttl=0\r\n", got: map[string][][]string{}}
	}
	targets := []target{{"0001", "a"}, {"0002", "b"}}
	owner, err := elasticache.SlotOwners([]string{"0-8191", "8192-16383"})
	if err != nil {
		t.Fatal(err)
	}
	g := &elasticache.ReplicationGroup{Account: "1", Region: "r", ID: "g"}
	f := newLoader()
	c := New(Config{Domain: &fakeDomain{}, Engines: fakeEngines{}, Dir: t.TempDir(), Loader: f})
	before := time.Now().UnixMilli()
	n, err := c.loadFile(context.Background(), g, 0, catalog.Installed{}, "x.rdb", targets, owner)
	after := time.Now().UnixMilli()
	if err != nil || n != 4 {
		t.Fatalf("loadFile = %d, %v; want 4 keys", n, err)
	}
	want := map[string]string{"foo": "b", "bar": "a", "{user1000}.a": "a", "key:1": "a"} // slots 12182, 5061, 3443, 6657
	for id, cmds := range f.got {
		for _, cmd := range cmds {
			k := cmd[1]
			if want[k] != id {
				t.Errorf("key %s sent to %s, want %s", k, id, want[k])
			}
			delete(want, k)
			if cmd[3] != "payload of "+k || cmd[4] != "REPLACE" {
				t.Errorf("RESTORE of %s = %q", k, cmd)
			}
			ttl := keys[k]
			switch {
			case ttl < 0 && (cmd[2] != "0" || len(cmd) != 5):
				t.Errorf("RESTORE of %s without a TTL = %q", k, cmd)
			case ttl >= 0:
				abs, _ := strconv.ParseInt(cmd[2], 10, 64)
				if len(cmd) != 6 || cmd[5] != "ABSTTL" || abs < before+ttl || abs > after+ttl {
					t.Errorf("RESTORE of %s with %d ms to live = %q, want ABSTTL in [%d, %d]", k, ttl, cmd, before+ttl, after+ttl)
				}
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("keys not restored: %v", want)
	}

	for name, edit := range map[string]func(*fakeLoader){
		"OtherDatabase": func(f *fakeLoader) { f.keyspace += "db2:keys=1,expires=0,avg_ttl=0\r\n" },
		"TargetFails":   func(f *fakeLoader) { f.fail = "b" },
		"EngineRestart": func(f *fakeLoader) { f.restarts = 1 },
	} {
		f := newLoader()
		edit(f)
		c := New(Config{Domain: &fakeDomain{}, Engines: fakeEngines{}, Dir: t.TempDir(), Loader: f})
		if _, err := c.loadFile(context.Background(), g, 0, catalog.Installed{}, "x.rdb", targets, owner); err == nil {
			t.Errorf("%s: loadFile succeeded", name)
		} else if name == "OtherDatabase" && !errors.Is(err, elasticache.ErrReslotData) {
			t.Errorf("%s: loadFile = %v, want ErrReslotData", name, err)
		}
	}
}
