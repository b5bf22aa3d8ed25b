package elasticache

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Serverless cache snapshots are snapshots (snapmodel.go) of the group
// realising the cache, taken from its primary by the snapshot controller
// like any other (a Memcached cache's: a dump of its items, see
// serverlessmc.go): the record is stored under ServerlessGroupPrefix + the
// snapshot's name (a namespace of its own, hidden from the node-based
// API) and names its cache (Snapshot.ServerlessCache). Copies share the
// RDB file; deleting is the controller's; a final snapshot
// (DeleteServerlessCache FinalSnapshotName) deletes the cache once taken
// (endSnapshotting); a new cache restores one (SnapshotArnsToRestore)
// by seeding its primary's engine with the file. Exporting to Amazon S3
// is refused: Cachalot has no S3.

func serverlessSnapshotNotFound(name string) error {
	return elasticacheapi.ErrServerlessCacheSnapshotNotFoundFault("Serverless cache snapshot %s not found.", name)
}

// getServerlessSnapshot reads serverless snapshot name.
func getServerlessSnapshot(tx store.Tx, s auth.Scope, name string) (*Snapshot, error) {
	name = strings.ToLower(name)
	sn, err := getSnapshot(tx, s, ServerlessGroupID(name))
	if err != nil && !awserr.HasCode(err, "SnapshotNotFoundFault") {
		return nil, err
	}
	if err != nil || sn.ServerlessCache == "" {
		return nil, serverlessSnapshotNotFound(name)
	}
	return sn, nil
}

// checkNewServerlessSnapshot refuses a serverless snapshot name in use and
// one over the quota (Config.SnapshotQuota, as for node-based ones).
func (s *Service) checkNewServerlessSnapshot(tx store.Tx, scope auth.Scope, name string) error {
	if _, err := tx.Get(snapshotKey(scope.AccountID, scope.Region, ServerlessGroupID(name))); err == nil {
		return elasticacheapi.ErrServerlessCacheSnapshotAlreadyExistsFault("Serverless cache snapshot %s already exists.", name)
	}
	quota := s.cfg.SnapshotQuota
	if quota <= 0 {
		quota = defaultSnapshotQuota
	}
	n := 0
	err := store.ScanJSON(tx, snapshotPrefix(scope), func(_ string, sn *Snapshot) error {
		if sn.ServerlessCache != "" {
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n >= quota {
		return elasticacheapi.ErrServerlessCacheSnapshotQuotaExceededFault("The request cannot be processed because it would exceed the maximum number of serverless cache snapshots (%d).", quota)
	}
	return nil
}

// beginServerlessSnapshot records snapshot name of serverless cache
// cache, creating, inside tx and marks the cache's group and primary
// snapshotting; the snapshot controller takes the primary's RDB file.
// source is SourceManual or SourceAutomated (the daily snapshot).
func (s *Service) beginServerlessSnapshot(tx store.Tx, scope auth.Scope, cache, name, source string, tags []Tag) (*Snapshot, error) {
	if err := s.checkNewServerlessSnapshot(tx, scope, name); err != nil {
		return nil, err
	}
	g, err := getServerless(tx, scope, cache)
	if err != nil {
		return nil, err
	}
	// The primary and node group: a Memcached cache's group has no
	// shards, its one member is the primary.
	primary, shard := g.Primary, NodeGroupID
	if len(g.Shards) == 1 {
		primary, shard = g.Shards[0].Primary, g.Shards[0].ID
	}
	if g.Status != GroupAvailable || g.Failover != nil || g.Snapshotting != "" || len(g.Shards) != 1 && !g.MemcachedServerless() {
		st := g.Status
		if g.Snapshotting != "" {
			st = StatusSnapshotting
		}
		return nil, elasticacheapi.ErrInvalidServerlessCacheStateFault("Serverless cache %s is not in the available state (it is %s).", g.Serverless.Name, st)
	}
	members, err := groupMembers(tx, g)
	if err != nil {
		return nil, err
	}
	var p *Cluster
	for _, c := range members {
		if c.ID == primary {
			p = c
		}
	}
	if p == nil || len(p.Nodes) == 0 || p.Status != StatusAvailable {
		return nil, elasticacheapi.ErrInvalidServerlessCacheStateFault("Serverless cache %s is not in the available state (its primary is not).", g.Serverless.Name)
	}
	now := s.cfg.Now().UTC()
	id := ServerlessGroupID(name)
	sn := snapshotOf(p, id, source, now)
	sn.GroupID, sn.GroupDescription, sn.AutomaticFailover, sn.SourceCreatedAt = g.ID, g.Description, g.AutomaticFailover, g.CreatedAt
	sn.ServerlessCache, sn.ServerlessMajor, sn.Tags = g.Serverless.Name, g.Serverless.MajorVersion, tags
	file := snapshotFile(g.Account, g.Region, id, shard, now)
	if g.MemcachedServerless() {
		file = strings.TrimSuffix(file, ".rdb") + MemcachedSnapshotSuffix
	}
	sn.Nodes = []SnapshotNode{{ClusterID: p.ID, NodeID: p.Nodes[0].ID, NodeGroupID: shard, NodeCreatedAt: p.Nodes[0].CreatedAt,
		File: file, PrimaryAZ: p.Nodes[0].AZ}}
	g.Snapshotting, p.Snapshotting = id, id
	if err := putCluster(tx, p); err != nil {
		return nil, err
	}
	if err := putGroup(tx, g); err != nil {
		return nil, err
	}
	return sn, putSnapshot(tx, sn)
}

// serverlessSnapshotToAPI renders a serverless snapshot.
func serverlessSnapshotToAPI(scope auth.Scope, sn *Snapshot) *elasticacheapi.ServerlessCacheSnapshot {
	name := strings.TrimPrefix(sn.Name, ServerlessGroupPrefix)
	t := sn.CreatedAt
	var size int64
	for _, n := range sn.Nodes {
		size += n.Size
	}
	return &elasticacheapi.ServerlessCacheSnapshot{
		ARN: aws.String(ARN(scope, "serverlesscachesnapshot", name)), ServerlessCacheSnapshotName: aws.String(name),
		CreateTime: &t, SnapshotType: aws.String(sn.Source), Status: aws.String(sn.Status),
		BytesUsedForCache: aws.String(strconv.FormatInt(size, 10)),
		ServerlessCacheConfiguration: &elasticacheapi.ServerlessCacheConfiguration{
			ServerlessCacheName: aws.String(sn.ServerlessCache), Engine: aws.String(sn.Engine), MajorEngineVersion: aws.String(sn.ServerlessMajor)},
	}
}

// CreateServerlessCacheSnapshot records a manual snapshot of an available
// serverless cache, creating.
func (s *Service) CreateServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.CreateServerlessCacheSnapshotRequest) (*elasticacheapi.CreateServerlessCacheSnapshotResponse, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.ServerlessCacheSnapshotName))
	if err := checkIdentifier("ServerlessCacheSnapshotName", name, 255); err != nil {
		return nil, err
	}
	if in.KmsKeyId != nil {
		return nil, invalid("Encryption at rest (KmsKeyId) of serverless cache snapshots is not supported by Cachalot yet.")
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	var sn *Snapshot
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		sn, err = s.beginServerlessSnapshot(tx, scope, aws.ToString(in.ServerlessCacheName), name, SourceManual, tags)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateServerlessCacheSnapshotResponse{ServerlessCacheSnapshot: serverlessSnapshotToAPI(scope, sn)}, nil
}

// DescribeServerlessCacheSnapshots lists the caller's serverless
// snapshots, by name, filtered by name, cache and type.
func (s *Service) DescribeServerlessCacheSnapshots(ctx context.Context, in *elasticacheapi.DescribeServerlessCacheSnapshotsRequest) (*elasticacheapi.DescribeServerlessCacheSnapshotsResponse, error) {
	scope := auth.ScopeFrom(ctx)
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, invalid("Invalid value for MaxResults: %d. Valid values are between 1 and 50.", *in.MaxResults)
		}
		limit = int(*in.MaxResults)
	}
	typ := aws.ToString(in.SnapshotType)
	switch typ {
	case "", SourceAutomated, SourceManual:
	default:
		return nil, invalid("Invalid value for SnapshotType: %s. Valid values are automated and manual.", typ)
	}
	cache := strings.ToLower(aws.ToString(in.ServerlessCacheName))
	var snaps []*Snapshot
	err := s.st.View(ctx, func(tx store.Tx) error {
		if name := aws.ToString(in.ServerlessCacheSnapshotName); name != "" {
			sn, err := getServerlessSnapshot(tx, scope, name)
			if err != nil {
				return err
			}
			snaps = []*Snapshot{sn}
			return nil
		}
		all, err := store.ListJSON[Snapshot](tx, snapshotPrefix(scope)+ServerlessGroupPrefix)
		if err != nil {
			return err
		}
		snaps = all
		if cache != "" && !slices.ContainsFunc(all, func(sn *Snapshot) bool { return sn.ServerlessCache == cache }) {
			_, err := getServerless(tx, scope, cache) // an unknown cache is ServerlessCacheNotFound
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	snaps = slices.DeleteFunc(snaps, func(sn *Snapshot) bool {
		return sn.ServerlessCache == "" || cache != "" && sn.ServerlessCache != cache || typ != "" && sn.Source != typ
	})
	slices.SortFunc(snaps, func(a, b *Snapshot) int { return strings.Compare(a.Name, b.Name) })
	start := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		start = slices.IndexFunc(snaps, func(sn *Snapshot) bool { return sn.Name >= ServerlessGroupID(tok) })
		if start < 0 {
			start = len(snaps)
		}
	}
	end := min(start+limit, len(snaps))
	out := &elasticacheapi.DescribeServerlessCacheSnapshotsResponse{ServerlessCacheSnapshots: []elasticacheapi.ServerlessCacheSnapshot{}}
	if end < len(snaps) {
		out.NextToken = aws.String(strings.TrimPrefix(snaps[end].Name, ServerlessGroupPrefix))
	}
	for _, sn := range snaps[start:end] {
		out.ServerlessCacheSnapshots = append(out.ServerlessCacheSnapshots, *serverlessSnapshotToAPI(scope, sn))
	}
	return out, nil
}

// CopyServerlessCacheSnapshot makes a manual copy of an available
// serverless snapshot, available at once: it shares the source's file.
func (s *Service) CopyServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.CopyServerlessCacheSnapshotRequest) (*elasticacheapi.CopyServerlessCacheSnapshotResponse, error) {
	scope := auth.ScopeFrom(ctx)
	dst := strings.ToLower(aws.ToString(in.TargetServerlessCacheSnapshotName))
	if err := checkIdentifier("TargetServerlessCacheSnapshotName", dst, 255); err != nil {
		return nil, err
	}
	if in.KmsKeyId != nil {
		return nil, invalid("Encryption at rest (KmsKeyId) of serverless cache snapshots is not supported by Cachalot yet.")
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	var cp *Snapshot
	err = s.st.Update(ctx, func(tx store.Tx) error {
		sn, err := getServerlessSnapshot(tx, scope, aws.ToString(in.SourceServerlessCacheSnapshotName))
		if err != nil {
			return err
		}
		if sn.Status != SnapshotAvailable && sn.Status != SnapshotRestoring {
			return elasticacheapi.ErrInvalidServerlessCacheSnapshotStateFault("Serverless cache snapshot %s is not in the available state (it is %s).", strings.TrimPrefix(sn.Name, ServerlessGroupPrefix), sn.Status)
		}
		if err := s.checkNewServerlessSnapshot(tx, scope, dst); err != nil {
			return err
		}
		c := *sn
		c.Name, c.Source, c.Status, c.CreatedAt, c.Tags = ServerlessGroupID(dst), SourceManual, SnapshotAvailable, s.cfg.Now().UTC(), tags
		c.Nodes = slices.Clone(sn.Nodes)
		c.FinalFor, c.LastError = false, ""
		cp = &c
		return putSnapshot(tx, cp)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CopyServerlessCacheSnapshotResponse{ServerlessCacheSnapshot: serverlessSnapshotToAPI(scope, cp)}, nil
}

// DeleteServerlessCacheSnapshot marks an available serverless snapshot
// deleting; the snapshot controller removes it.
func (s *Service) DeleteServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.DeleteServerlessCacheSnapshotRequest) (*elasticacheapi.DeleteServerlessCacheSnapshotResponse, error) {
	scope := auth.ScopeFrom(ctx)
	var sn *Snapshot
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if sn, err = getServerlessSnapshot(tx, scope, aws.ToString(in.ServerlessCacheSnapshotName)); err != nil {
			return err
		}
		if sn.Status != SnapshotAvailable {
			return elasticacheapi.ErrInvalidServerlessCacheSnapshotStateFault("Serverless cache snapshot %s is not in the available state (it is %s).", strings.TrimPrefix(sn.Name, ServerlessGroupPrefix), sn.Status)
		}
		sn.Status = SnapshotDeleting
		return putSnapshot(tx, sn)
	})
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.DeleteServerlessCacheSnapshotResponse{ServerlessCacheSnapshot: serverlessSnapshotToAPI(scope, sn)}, nil
}

// ExportServerlessCacheSnapshot is refused: Cachalot has no S3.
func (s *Service) ExportServerlessCacheSnapshot(ctx context.Context, in *elasticacheapi.ExportServerlessCacheSnapshotRequest) (*elasticacheapi.ExportServerlessCacheSnapshotResponse, error) {
	err := s.st.View(ctx, func(tx store.Tx) error {
		_, err := getServerlessSnapshot(tx, auth.ScopeFrom(ctx), aws.ToString(in.ServerlessCacheSnapshotName))
		return err
	})
	if err != nil {
		return nil, err
	}
	return nil, invalid("Exporting a serverless cache snapshot to Amazon S3 (S3BucketName %s) is not supported by Cachalot: there is no S3; restore it with CreateServerlessCache SnapshotArnsToRestore.", aws.ToString(in.S3BucketName))
}

// serverlessRestore resolves SnapshotArnsToRestore: one ARN of a
// serverless snapshot of the caller, available, whose file the new
// cache's engine can load.
// It returns the snapshot's stored name ("" for none).
func (s *Service) serverlessRestore(ctx context.Context, arns []string, sp serverlessSpec) (string, error) {
	switch len(arns) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", invalid("Restoring a serverless cache from %d snapshots is not supported by Cachalot: give one ARN in SnapshotArnsToRestore.", len(arns))
	}
	scope := auth.ScopeFrom(ctx)
	prefix := ARN(scope, "", "")
	prefix = prefix[:len(prefix)-1] // arn:aws:elasticache:<region>:<account>:
	kind, name, ok := strings.Cut(strings.TrimPrefix(arns[0], prefix), ":")
	switch {
	case strings.HasPrefix(arns[0], prefix) && ok && kind == "snapshot":
		// Its engine may hold keys in databases other than 0, which a
		// cluster-mode engine refuses to start with.
		return "", invalid("Restoring a serverless cache from a node-based snapshot (%s) is not supported by Cachalot yet; give a serverless cache snapshot's ARN.", arns[0])
	case !strings.HasPrefix(arns[0], prefix) || !ok || name == "" || kind != "serverlesscachesnapshot":
		return "", invalid("Invalid snapshot ARN %s in SnapshotArnsToRestore: expected %sserverlesscachesnapshot:<name>.", arns[0], prefix)
	}
	var sn *Snapshot
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		sn, err = getServerlessSnapshot(tx, scope, name)
		return err
	})
	if err != nil {
		return "", err
	}
	switch {
	case sn.Status != SnapshotAvailable && sn.Status != SnapshotRestoring:
		return "", elasticacheapi.ErrInvalidServerlessCacheSnapshotStateFault("Snapshot %s is not in the available state (it is %s).", name, sn.Status)
	case len(sn.Nodes) != 1:
		return "", combination("Snapshot %s has %d node groups; a serverless cache is restored from a snapshot of one.", name, len(sn.Nodes))
	case (sn.Engine == catalog.Memcached) != (sp.eng == catalog.Memcached):
		return "", combination("Snapshot %s is of %s; it cannot be restored into a %s cache.", name, engineTitle(sn.Engine), engineTitle(sp.eng))
	case sn.Engine == catalog.Valkey && sp.eng != catalog.Valkey:
		return "", combination("Snapshot %s is of Valkey; it cannot be restored into a %s cache.", name, engineTitle(sp.eng))
	case sn.Engine == sp.eng && versionLess(sp.inst.EngineVersion, sn.EngineVersion):
		return "", combination("Snapshot %s was taken of %s %s; it cannot be restored into the older version %s.", name, engineTitle(sn.Engine), sn.EngineVersion, sp.inst.EngineVersion)
	}
	return sn.Name, nil
}
