package elasticache

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// pageScan gives exactly the pages page gives over the whole filtered list
// (the order, the markers, MaxRecords' checks), for markers that name a
// record, fall between records or lie past the end.
func TestPageScanAgreesWithPage(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const prefix = "elasticache/111122223333/us-east-1/cluster/"
	var all []*Cluster
	if err := st.Update(ctx, func(tx store.Tx) error {
		for i := range 250 {
			c := &Cluster{ID: fmt.Sprintf("c-%03d", i)}
			if i%7 == 0 {
				c.ServerlessCache = "sc"
			}
			if i%5 == 0 {
				c.ReplicationGroupID = "rg"
			}
			all = append(all, c)
			if err := store.PutJSON(tx, prefix+c.ID, c); err != nil {
				return err
			}
		}
		// Another kind after the prefix: never read.
		return store.PutJSON(tx, "elasticache/111122223333/us-east-1/clusterz/x", &Cluster{ID: "x"})
	}); err != nil {
		t.Fatal(err)
	}
	id := func(c *Cluster) string { return c.ID }
	keeps := map[string]func(*Cluster) bool{
		"all":            nil,
		"not-serverless": func(c *Cluster) bool { return c.ServerlessCache == "" },
		"no-groups":      func(c *Cluster) bool { return c.ServerlessCache == "" && c.ReplicationGroupID == "" },
	}
	for name, keep := range keeps {
		want := slices.DeleteFunc(slices.Clone(all), func(c *Cluster) bool { return keep != nil && !keep(c) })
		for _, marker := range []*string{nil, aws.String(""), aws.String("c-000"), aws.String("c-049"), aws.String("c-0495"), aws.String("c-249"), aws.String("d")} {
			for _, max := range []*int32{nil, aws.Int32(20), aws.Int32(37), aws.Int32(100), aws.Int32(19), aws.Int32(101)} {
				wantItems, wantNext, wantErr := page(want, id, marker, max)
				var gotItems []*Cluster
				var gotNext *string
				var gotErr error
				if err := st.View(ctx, func(tx store.Tx) error {
					gotItems, gotNext, gotErr = pageScan(tx, prefix, id, keep, marker, max)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				where := fmt.Sprintf("%s marker %v max %v", name, aws.ToString(marker), max)
				if (wantErr == nil) != (gotErr == nil) {
					t.Fatalf("%s: error %v, page gives %v", where, gotErr, wantErr)
				}
				if wantErr != nil {
					continue
				}
				if !slices.Equal(ids(gotItems), ids(wantItems)) || aws.ToString(gotNext) != aws.ToString(wantNext) {
					t.Fatalf("%s: %v next %q, page gives %v next %q", where, ids(gotItems), aws.ToString(gotNext), ids(wantItems), aws.ToString(wantNext))
				}
			}
		}
	}
}

func ids(cs []*Cluster) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// DescribeCacheClusters' first page among 1,500 clusters: every record
// decoded then paged (as before pageScan) against pageScan, side by side.
func BenchmarkClusterPage1500(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	const prefix = "elasticache/111122223333/us-east-1/cluster/"
	if err := st.Update(ctx, func(tx store.Tx) error {
		for i := range 1500 {
			c := &Cluster{Account: "111122223333", Region: "us-east-1", ID: fmt.Sprintf("capacity-%05d", i), Engine: "redis",
				EngineVersion: "7.0.15", Family: "redis7", NodeType: "cache.t3.micro", NumNodes: 1, Port: 6379, SubnetGroup: "default",
				VpcID: "vpc-0123456789abcdef0", SecurityGroups: []string{"sg-0123456789abcdef0"}, ParameterGroup: "default.redis7",
				AZMode: "single-az", Maintenance: "sun:05:00-sun:06:00", SnapshotWindow: "03:00-04:00", NetworkType: "ipv4",
				IPDiscovery: "ipv4", Tags: []Tag{{Key: "bench", Value: "capacity"}}, Status: "available", ParamStatus: "in-sync",
				Nodes:      []Node{{ID: "0001", AZ: "us-east-1a", SubnetID: "subnet-0123456789abcdef0", IP: fmt.Sprintf("172.31.%d.%d", i/250, i%250), Status: "available"}},
				Generation: 3, ObservedGeneration: 3}
			if err := store.PutJSON(tx, prefix+c.ID, c); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	id := func(c *Cluster) string { return c.ID }
	keep := func(c *Cluster) bool { return c.ServerlessCache == "" }
	b.Run("decode-all-then-page", func(b *testing.B) {
		for b.Loop() {
			_ = st.View(ctx, func(tx store.Tx) error {
				all, err := store.ListJSON[Cluster](tx, prefix)
				all = slices.DeleteFunc(all, func(c *Cluster) bool { return !keep(c) })
				_, _, err = page(all, id, nil, nil)
				return err
			})
		}
	})
	b.Run("pageScan", func(b *testing.B) {
		for b.Loop() {
			_ = st.View(ctx, func(tx store.Tx) error {
				_, _, err := pageScan(tx, prefix, id, keep, nil, nil)
				return err
			})
		}
	})
}
