package elasticache

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// TestModifyMemberClusterRefusals: on a member cluster of a replication
// group, ModifyCacheCluster refuses what is changed through the group
// (node count, node type, engine version) with
// InvalidParameterCombination and leaves the record as it was; the same
// values as now, and settings of the cluster's own, pass.
func TestModifyMemberClusterRefusals(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	names, err := dnsname.New(dnsname.DefaultDomain, dnsname.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, Config{Network: ec2.New(st, ec2.Config{}), Names: names})
	scope := auth.Scope{AccountID: "000000000000", Region: "us-east-1"}
	ctx := auth.WithScope(context.Background(), scope)
	member := &Cluster{Account: scope.AccountID, Region: scope.Region, ID: "g-002", Engine: "redis", EngineVersion: "7.0.15",
		Family: "redis7", NodeType: "cache.t3.micro", NumNodes: 1, Port: 6379, Status: StatusAvailable,
		ReplicationGroupID: "g", ReplicaOf: "g-001"}
	if err := st.Update(ctx, func(tx store.Tx) error { return putCluster(tx, member) }); err != nil {
		t.Fatal(err)
	}
	stored := func() Cluster {
		var c Cluster
		if err := st.View(ctx, func(tx store.Tx) error {
			cc, err := getCluster(tx, scope, "g-002")
			if err == nil {
				c = *cc
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	before := stored()
	msg := func(f func(*elasticacheapi.ModifyCacheClusterMessage)) *elasticacheapi.ModifyCacheClusterMessage {
		in := &elasticacheapi.ModifyCacheClusterMessage{CacheClusterId: aws.String("g-002"), ApplyImmediately: aws.Bool(true)}
		f(in)
		return in
	}
	refused := []struct {
		name string
		in   *elasticacheapi.ModifyCacheClusterMessage
	}{
		{"NumCacheNodes", msg(func(in *elasticacheapi.ModifyCacheClusterMessage) { in.NumCacheNodes = aws.Int32(2) })},
		{"CacheNodeType", msg(func(in *elasticacheapi.ModifyCacheClusterMessage) { in.CacheNodeType = aws.String("cache.m5.large") })},
		{"CacheNodeType pending", msg(func(in *elasticacheapi.ModifyCacheClusterMessage) {
			in.CacheNodeType, in.ApplyImmediately = aws.String("cache.m5.large"), aws.Bool(false)
		})},
		{"EngineVersion", msg(func(in *elasticacheapi.ModifyCacheClusterMessage) { in.EngineVersion = aws.String("7.1") })},
		{"node type with an allowed setting", msg(func(in *elasticacheapi.ModifyCacheClusterMessage) {
			in.CacheNodeType, in.SnapshotRetentionLimit = aws.String("cache.m5.large"), aws.Int32(3)
		})},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.ModifyCacheCluster(ctx, tc.in)
			if e, ok := awserr.As(err); !ok || e.Code != "InvalidParameterCombination" {
				t.Fatalf("ModifyCacheCluster(%s) on a member = %v, want InvalidParameterCombination", tc.name, err)
			}
			if after := stored(); !reflect.DeepEqual(after, before) {
				t.Fatalf("refused modification changed the record:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	// The current values are no change, and a setting of the cluster's own
	// applies.
	in := msg(func(in *elasticacheapi.ModifyCacheClusterMessage) {
		in.NumCacheNodes, in.CacheNodeType, in.EngineVersion = aws.Int32(1), aws.String("cache.t3.micro"), aws.String("7.0.15")
		in.SnapshotRetentionLimit = aws.Int32(3)
	})
	if _, err := svc.ModifyCacheCluster(ctx, in); err != nil {
		t.Fatalf("ModifyCacheCluster with the current values = %v", err)
	}
	if after := stored(); after.SnapshotRetain != 3 || after.NodeType != before.NodeType || after.EngineVersion != before.EngineVersion {
		t.Fatalf("after an allowed modification: %+v", after)
	}
}
