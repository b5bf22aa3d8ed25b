package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

// copyFixture copies a testdata store into a temporary directory.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rawKV reads every key and value of a store file as it is, without
// opening it as a Store (which would migrate it), and its schema version.
func rawKV(t *testing.T, path string) (map[string][]byte, uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kv := map[string][]byte{}
	var version uint64
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta).Get(keySchema); len(b) == 8 {
			version = binary.BigEndian.Uint64(b)
		}
		return tx.Bucket(bucketKV).ForEach(func(k, v []byte) error {
			kv[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return kv, version
}

// The store written by the previous version in loopback mode (schema 1)
// holds host ports in its cluster records; opening it moves them to the
// VPC-network controller's keys, ports preserved, and leaves everything
// else as it was.
func TestMigrateHostPorts(t *testing.T) {
	path := copyFixture(t, "v1-loopback.db")
	before, version := rawKV(t, path)
	if version != 1 {
		t.Fatalf("fixture schema = %d, want 1 (written by the previous version)", version)
	}
	st, err := OpenBolt(path)
	if err != nil {
		t.Fatalf("OpenBolt(v1 store) = %v", err)
	}
	st.Close()
	after, version := rawKV(t, path)
	if version != SchemaVersion {
		t.Errorf("schema after open = %d, want %d", version, SchemaVersion)
	}

	// The ports the previous version chose (testdata/README.md), under
	// the keys of the interfaces that had them.
	type cluster struct {
		Port              int
		ConfigInterfaceID string
		ConfigHostPort    int
		Nodes             []struct {
			ID, InterfaceID string
			HostPort        int
		}
	}
	want := map[string]string{}
	for k, v := range before {
		if !strings.Contains(k, "/cluster/") {
			continue
		}
		var cl cluster
		if err := json.Unmarshal(v, &cl); err != nil {
			t.Fatal(err)
		}
		port := func(p int) string { return `{"HostPort":` + itoa(p) + `}` }
		if cl.ConfigHostPort != 0 {
			want["vpcnet/hostport/"+cl.ConfigInterfaceID+"/"+itoa(cl.Port)] = port(cl.ConfigHostPort)
		}
		for _, n := range cl.Nodes {
			want["vpcnet/hostport/"+n.InterfaceID+"/"+itoa(cl.Port)] = port(n.HostPort)
		}
	}
	if len(want) != 4 {
		t.Fatalf("fixture holds %d host ports, want 4 (three nodes and a configuration endpoint): %v", len(want), want)
	}
	got := map[string]string{}
	for k, v := range after {
		if strings.HasPrefix(k, "vpcnet/hostport/") {
			got[k] = string(v)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host port keys after the migration (-want +got):\n%s", diff)
	}

	// Cluster records lose the two fields and nothing else; every other
	// key is byte for byte as it was.
	for k, v := range before {
		a, ok := after[k]
		switch {
		case !ok:
			t.Errorf("%s is gone after the migration", k)
		case strings.Contains(k, "/cluster/"):
			if bytes.Contains(a, []byte("HostPort")) {
				t.Errorf("%s still holds a host port: %s", k, a)
			}
			var wantRec, gotRec map[string]any
			json.Unmarshal(v, &wantRec)
			json.Unmarshal(a, &gotRec)
			delete(wantRec, "ConfigHostPort")
			for _, n := range wantRec["Nodes"].([]any) {
				delete(n.(map[string]any), "HostPort")
			}
			if diff := cmp.Diff(wantRec, gotRec); diff != "" {
				t.Errorf("%s after the migration (-want +got):\n%s", k, diff)
			}
		case !bytes.Equal(a, v):
			t.Errorf("%s changed: %s -> %s", k, v, a)
		}
	}
	if len(after) != len(before)+len(want) {
		t.Errorf("%d keys after the migration, want %d (the old ones and the host ports)", len(after), len(before)+len(want))
	}
}

// A cluster record without host ports (the namespaces mode) is left as it
// is, and a fresh store migrates through every step.
func TestMigrateHostPortsWithoutHostPorts(t *testing.T) {
	rec := []byte(`{"Account":"000000000000","ID":"c","Port":6379,"Nodes":[{"ID":"0001","InterfaceID":"eni-1","IP":"172.31.0.5"}]}`)
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	key := "elasticache/000000000000/us-east-1/cluster/c"
	if err := st.Update(context.Background(), func(tx Tx) error { return tx.Put(key, rec) }); err != nil {
		t.Fatal(err)
	}
	if err := st.Update(context.Background(), moveHostPorts); err != nil {
		t.Fatalf("moveHostPorts = %v", err)
	}
	var got []byte
	var hostPorts int
	st.View(context.Background(), func(tx Tx) error {
		got, _ = tx.Get(key)
		return tx.Scan("vpcnet/", func(string, []byte) error { hostPorts++; return nil })
	})
	st.Close()
	if !bytes.Equal(got, rec) || hostPorts != 0 {
		t.Errorf("after moveHostPorts: record %s, %d host ports; want the record unchanged and none", got, hostPorts)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
