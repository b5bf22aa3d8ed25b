package elasticache

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Serverless caches (Valkey and Redis OSS). A serverless cache is realised
// by a replication group with cluster mode enabled that the API never
// shows: one shard of two member clusters, a primary listening on 6379 and
// a replica on 6380, both in one network interface, so that the cache has
// one address — the endpoint — and its reader endpoint is the same name on
// 6380. The group is stored as ServerlessGroupPrefix+name and carries the
// serverless settings (ReplicationGroup.Serverless); its members carry the
// cache's name (Cluster.ServerlessCache) and the second shares the first's
// interface (Cluster.InterfaceOf). Everything else is what cluster-mode
// groups already do: the cache controller starts the engines with TLS and
// the installation CA's certificate for the endpoint name, the group
// controller meshes them into one Redis Cluster with all 16384 slots on
// the primary, replaces a lost engine (the replica is promoted, the lost
// one comes back as a replica) and then fails back so that writes stay on
// 6379. The group's and members' events are rewritten into events of the
// serverless cache (putEvent), and the group, its members and their node
// names are hidden from the node-based API.
//
// Honoured: engine and major version, description, subnets and security
// groups (kernel-enforced on both ports), the data storage maximum
// (maxmemory of each engine, noeviction: writes beyond it get the OOM
// error), snapshot retention settings (recorded), tags, KMS key id
// (recorded; no encryption at rest), the ECPU/s maximum (members'
// ECPULimit: the engines' fronts meter commands, cachectl/ecpu.go).
// Recorded but not enforced: the data storage and ECPU minimums.
// Refused: user groups, NetworkType other than ipv4.
// Snapshots and restores: serverlesssnap.go. Memcached: serverlessmc.go.

// ServerlessGroupPrefix starts the id of the replication group realising
// a serverless cache: two consecutive hyphens, which no identifier a
// customer gives may contain.
const ServerlessGroupPrefix = "serverless--"

// Serverless ports: writes and strongly consistent reads, and reads from
// replicas.
const (
	ServerlessPort       = 6379
	ServerlessReaderPort = 6380
)

// Serverless data storage and ECPU limits as ElastiCache bounds them.
const (
	minDataStorageGB = 1
	maxDataStorageGB = 5000
	minECPU          = 1000
	maxECPU          = 15000000
)

// Serverless is what a serverless cache's group records beyond the group.
type Serverless struct {
	Name, Description string
	MajorVersion      string
	SubnetIDs         []string
	KmsKeyID          string `json:",omitempty"`
	DailySnapshotTime string
	SnapshotRetain    int
	// DataMaxGB and DataMinGB are CacheUsageLimits.DataStorage (GB); 0 is
	// not set. ECPUMax and ECPUMin are CacheUsageLimits.ECPUPerSecond,
	// recorded only.
	DataMaxGB, DataMinGB int32 `json:",omitempty"`
	ECPUMax, ECPUMin     int32 `json:",omitempty"`
	// FinalSnapshot names the final snapshot DeleteServerlessCache asked
	// for: while it is taken, the cache shows deleting.
	FinalSnapshot string `json:",omitempty"`
}

// serverlessStatus is the cache's status as shown: deleting while its
// final snapshot is taken.
func serverlessStatus(g *ReplicationGroup) string {
	if f := g.Serverless.FinalSnapshot; f != "" && g.Snapshotting == ServerlessGroupID(f) {
		return GroupDeleting
	}
	return g.Status
}

// ServerlessGroupID is the id of the group realising serverless cache name.
func ServerlessGroupID(name string) string { return ServerlessGroupPrefix + name }

// hiddenID reports whether a cluster or group id belongs to a serverless
// cache's realisation.
func hiddenID(id string) bool { return strings.HasPrefix(id, ServerlessGroupPrefix) }

// dataStorageUnit is the bytes of a GB of CacheUsageLimits.DataStorage
// (Config.DataStorageUnit).
func (s *Service) dataStorageUnit() int64 {
	if s.cfg.DataStorageUnit > 0 {
		return s.cfg.DataStorageUnit
	}
	return 1 << 30
}

// serverlessEvent rewrites an event of a serverless cache's group or
// members into one of the cache (source type serverless-cache), or drops
// it (ok false): the cache's creation and deletion are its events, the
// nodes' lives are not shown, as ElastiCache shows none of them.
func serverlessEvent(e Event) (Event, bool) {
	name := strings.TrimPrefix(e.SourceID, ServerlessGroupPrefix) // the group's id
	switch {
	case e.SourceType != "replication-group":
		return e, false
	case e.Message == GroupCreatedMessage(e.SourceID):
		e.Message = "Serverless cache " + name + " created"
	case e.Message == GroupDeletedMessage(e.SourceID):
		e.Message = "Serverless cache " + name + " deleted"
	case strings.HasPrefix(e.Message, "Failover from primary node"):
		e.Message = "Serverless cache " + name + ": a cache node was replaced"
	default:
		e.Message = "Serverless cache " + name + ": " + strings.ReplaceAll(e.Message, ServerlessGroupPrefix, "")
	}
	e.SourceType, e.SourceID = "serverless-cache", name
	return e, true
}

// serverlessSpec is a validated CreateServerlessCache request.
type serverlessSpec struct {
	name, eng, major string
	inst             catalog.Installed
	limits           Serverless
	tags             []Tag
	restore          string // the stored name of the snapshot restored, "" for none
	userGroup        string // UserGroupId, "" for none
}

// CreateServerlessCache validates the request and records the cache — its
// group and two member clusters — creating, in one transaction.
func (s *Service) CreateServerlessCache(ctx context.Context, in *elasticacheapi.CreateServerlessCacheRequest) (*elasticacheapi.CreateServerlessCacheResponse, error) {
	scope := auth.ScopeFrom(ctx)
	sp, err := s.serverlessSpecOf(ctx, in)
	if err != nil {
		return nil, err
	}
	vpc, subnets, err := s.serverlessSubnets(ctx, scope, in.SubnetIds)
	if err != nil {
		return nil, err
	}
	groups := slices.Clone(in.SecurityGroupIds)
	if len(groups) == 0 {
		def, err := s.cfg.Network.DefaultSecurityGroup(ctx, scope.AccountID, scope.Region, vpc)
		if err != nil {
			return nil, fmt.Errorf("default security group of %s: %w", vpc, err)
		}
		groups = []string{def}
	} else if len(groups) > 5 {
		return nil, invalid("A serverless cache may have at most 5 security groups.")
	} else if err := s.cfg.Network.ValidateGroups(ctx, scope.AccountID, scope.Region, vpc, groups); err != nil {
		return nil, networkError(err)
	}
	if s.cfg.Roles != nil {
		p, _ := auth.PrincipalFrom(ctx)
		if err := s.cfg.Roles.EnsureServiceLinkedRole(ctx, p, scope.AccountID); err != nil {
			return nil, err
		}
	}
	sv := sp.limits
	sv.Name, sv.MajorVersion = sp.name, sp.major
	for _, sn := range subnets {
		sv.SubnetIDs = append(sv.SubnetIDs, sn.ID)
	}
	g := &ReplicationGroup{
		Account: scope.AccountID, Region: scope.Region, ID: ServerlessGroupID(sp.name), Description: sv.Description,
		Engine: sp.eng, EngineVersion: sp.inst.EngineVersion, Family: sp.inst.Family, NodeType: serverlessNodeType, Port: ServerlessPort,
		VpcID: vpc, SecurityGroups: groups, Maintenance: "sun:05:00-sun:06:00", SnapshotWindow: sv.DailySnapshotTime,
		AutoMinor: true, NetworkType: "ipv4", IPDiscovery: "ipv4", AutomaticFailover: FailoverEnabled, MultiAZ: true,
		ClusterMode: ClusterModeEnabled, TransitEncryptionMode: TransitRequired,
		Tags: sp.tags, CreatedAt: s.cfg.Now().UTC(), Status: GroupCreating, Generation: 1, Serverless: &sv,
	}
	g.ParameterGroup = clusterParamGroupName(g.Family)
	if sp.eng == catalog.Memcached {
		memcachedServerlessGroup(g)
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(g.Account, g.Region, g.ID)); err == nil {
			return elasticacheapi.ErrServerlessCacheAlreadyExistsFault("Serverless cache %s already exists.", sp.name)
		}
		if sp.eng == catalog.Memcached {
			m := s.memcachedServerlessMember(g, subnets[0], int64(sv.DataMaxGB)*s.dataStorageUnit())
			if sp.restore != "" {
				// The engine is seeded with the snapshot's dump.
				g.RestoreSnapshot = sp.restore
				if err := startRestore(tx, scope, sp.restore, m); err != nil {
					return err
				}
			}
			return putNewGroup(tx, g, []*Cluster{m})
		}
		if sp.userGroup != "" {
			// The engines' ACL is the user group's, as for a replication
			// group (usergroups.go): the members take it from the group.
			if err := attachUserGroup(tx, scope, g, sp.userGroup); err != nil {
				return err
			}
		}
		sh := Shard{ID: NodeGroupID, Slots: "0-16383"}
		var members []*Cluster
		for k, port := range []int{ServerlessPort, ServerlessReaderPort} {
			id := fmt.Sprintf("%s-%s-%03d", g.ID, NodeGroupID, k+1)
			c := s.newMember(g, id, subnets[0])
			c.Port, c.ServerlessCache, c.DataLimit, c.ECPULimit = port, sp.name, int64(sv.DataMaxGB)*s.dataStorageUnit(), sv.ECPUMax
			if k > 0 {
				c.InterfaceOf = members[0].ID
			}
			members = append(members, c)
			sh.Members = append(sh.Members, id)
			g.Members = append(g.Members, id)
		}
		sh.Primary = sh.Members[0]
		g.Shards = []Shard{sh}
		applyRoles(g, members)
		if sp.restore != "" {
			g.RestoreSnapshot = sp.restore
			if err := startRestore(tx, scope, sp.restore, members[0]); err != nil {
				return err
			}
		}
		return putNewGroup(tx, g, members)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.serverlessToAPI(scope, g, nil)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateServerlessCacheResponse{ServerlessCache: out}, nil
}

// serverlessNodeType is the node type a serverless cache's engines are
// sized by when no data storage maximum limits them.
const serverlessNodeType = "cache.r7g.large"

// serverlessSpecOf validates what a CreateServerlessCache request says by
// itself, before anything is looked up.
func (s *Service) serverlessSpecOf(ctx context.Context, in *elasticacheapi.CreateServerlessCacheRequest) (serverlessSpec, error) {
	sp := serverlessSpec{name: strings.ToLower(aws.ToString(in.ServerlessCacheName))}
	if err := checkIdentifier("ServerlessCacheName", sp.name, 40); err != nil {
		return sp, err
	}
	sp.eng = strings.ToLower(aws.ToString(in.Engine))
	var err error
	if sp.major, sp.inst, err = s.serverlessEngine(sp.eng, aws.ToString(in.MajorEngineVersion)); err != nil {
		return sp, err
	}
	switch {
	case in.UserGroupId != nil && sp.eng == catalog.Memcached:
		return sp, memcachedUserGroup()
	case in.UserGroupId != nil:
		if sp.userGroup = strings.ToLower(aws.ToString(in.UserGroupId)); sp.userGroup == "" {
			return sp, invalid("The parameter UserGroupId must not be empty.")
		}
	case in.NetworkType != nil && *in.NetworkType != "ipv4":
		return sp, invalid("NetworkType %s is not supported by Cachalot yet; serverless caches use ipv4.", *in.NetworkType)
	}
	sp.limits.Description = aws.ToString(in.Description)
	if len(sp.limits.Description) > 255 {
		return sp, invalid("Description must be at most 255 characters.")
	}
	sp.limits.KmsKeyID = aws.ToString(in.KmsKeyId)
	if err := setUsageLimits(&sp.limits, in.CacheUsageLimits); err != nil {
		return sp, err
	}
	if err := setSnapshotSettings(&sp.limits, in.SnapshotRetentionLimit, in.DailySnapshotTime); err != nil {
		return sp, err
	}
	if sp.tags, err = fromAPITags(in.Tags); err != nil {
		return sp, err
	}
	if sp.restore, err = s.serverlessRestore(ctx, in.SnapshotArnsToRestore, sp); err != nil {
		return sp, err
	}
	return sp, nil
}

// serverlessMajors are the major engine versions ElastiCache offers for
// serverless caches, newest first.
func serverlessMajors(eng string) []string {
	switch eng {
	case catalog.Valkey:
		return []string{"8", "7"}
	case catalog.Redis:
		return []string{"7"}
	case catalog.Memcached:
		return []string{"1.6"}
	}
	return nil
}

// serverlessEngine validates the engine and major version (default: the
// newest this host can serve) and finds the installed engine.
func (s *Service) serverlessEngine(eng, major string) (string, catalog.Installed, error) {
	switch eng {
	case catalog.Redis, catalog.Valkey, catalog.Memcached:
	case "":
		return "", catalog.Installed{}, invalid("The parameter Engine must be provided and must not be blank.")
	default:
		return "", catalog.Installed{}, invalid("Invalid value for Engine: %s. Valid values are valkey, redis and memcached.", eng)
	}
	majors := serverlessMajors(eng)
	if major == "" {
		for _, m := range majors {
			if inst, err := s.cfg.Engines.Find(eng, m); err == nil {
				return m, inst, nil
			}
		}
		major = majors[0]
	}
	if !slices.Contains(majors, major) {
		return "", catalog.Installed{}, invalid("Specified engine does not support major engine version %s. Valid major versions for %s are %s.", major, eng, strings.Join(majors, ", "))
	}
	inst, err := s.resolveEngine(eng, major)
	if err != nil {
		return "", catalog.Installed{}, err
	}
	return major, inst, nil
}

// setUsageLimits validates CacheUsageLimits into sv.
func setUsageLimits(sv *Serverless, l *elasticacheapi.CacheUsageLimits) error {
	if l == nil {
		return nil
	}
	if d := l.DataStorage; d != nil {
		if aws.ToString(d.Unit) != "GB" {
			return invalid("Invalid value for CacheUsageLimits.DataStorage.Unit: %s. Valid value is GB.", aws.ToString(d.Unit))
		}
		if d.Maximum == nil && d.Minimum == nil {
			return invalid("CacheUsageLimits.DataStorage must have a Maximum or a Minimum.")
		}
		for _, v := range []*int32{d.Maximum, d.Minimum} {
			if v != nil && (*v < minDataStorageGB || *v > maxDataStorageGB) {
				return invalid("Invalid data storage limit %d GB: the limit must be between %d and %d GB.", *v, minDataStorageGB, maxDataStorageGB)
			}
		}
		if d.Maximum != nil && d.Minimum != nil && *d.Minimum > *d.Maximum {
			return combination("The data storage minimum (%d GB) cannot be greater than the maximum (%d GB).", *d.Minimum, *d.Maximum)
		}
		sv.DataMaxGB, sv.DataMinGB = aws.ToInt32(d.Maximum), aws.ToInt32(d.Minimum)
	}
	if e := l.ECPUPerSecond; e != nil {
		if e.Maximum == nil && e.Minimum == nil {
			return invalid("CacheUsageLimits.ECPUPerSecond must have a Maximum or a Minimum.")
		}
		for _, v := range []*int32{e.Maximum, e.Minimum} {
			if v != nil && (*v < minECPU || *v > maxECPU) {
				return invalid("Invalid ECPU per second limit %d: the limit must be between %d and %d.", *v, minECPU, maxECPU)
			}
		}
		if e.Maximum != nil && e.Minimum != nil && *e.Minimum > *e.Maximum {
			return combination("The ECPU per second minimum (%d) cannot be greater than the maximum (%d).", *e.Minimum, *e.Maximum)
		}
		sv.ECPUMax, sv.ECPUMin = aws.ToInt32(e.Maximum), aws.ToInt32(e.Minimum)
	}
	return nil
}

// setSnapshotSettings validates SnapshotRetentionLimit and
// DailySnapshotTime into sv: the snapshot controller takes the daily
// snapshot (internal/snapctl, auto.go).
func setSnapshotSettings(sv *Serverless, retain *int32, daily *string) error {
	if retain != nil {
		if *retain < 0 || *retain > 35 {
			return invalid("Invalid SnapshotRetentionLimit %d: the limit must be between 0 and 35 days.", *retain)
		}
		sv.SnapshotRetain = int(*retain)
	}
	if daily != nil {
		if _, err := time.Parse("15:04", *daily); err != nil || len(*daily) != 5 {
			return invalid("Invalid DailySnapshotTime %s: the time must be in the format HH:MM (UTC).", *daily)
		}
		sv.DailySnapshotTime = *daily
	}
	if sv.DailySnapshotTime == "" {
		sv.DailySnapshotTime = "06:00"
	}
	return nil
}

// serverlessSubnets resolves the cache's subnets: the ones named (one
// VPC), else the default VPC's.
func (s *Service) serverlessSubnets(ctx context.Context, scope auth.Scope, ids []string) (string, []SubnetRef, error) {
	if len(ids) == 0 {
		vpc, err := s.cfg.Network.DefaultVPC(ctx, scope.AccountID, scope.Region)
		if err != nil {
			return "", nil, invalid("The account has no default VPC; specify SubnetIds.")
		}
		var refs []SubnetRef
		for _, sn := range vpc.Subnets {
			refs = append(refs, SubnetRef{ID: sn.ID, AZ: sn.AZ})
		}
		if len(refs) == 0 {
			return "", nil, invalid("The default VPC %s has no subnets; specify SubnetIds.", vpc.ID)
		}
		slices.SortFunc(refs, func(a, b SubnetRef) int { return strings.Compare(a.AZ+a.ID, b.AZ+b.ID) })
		return vpc.ID, refs, nil
	}
	if len(ids) > 20 {
		return "", nil, invalid("A serverless cache may have at most 20 subnets.")
	}
	var vpc string
	var refs []SubnetRef
	for _, id := range ids {
		if slices.ContainsFunc(refs, func(r SubnetRef) bool { return r.ID == id }) {
			continue
		}
		sn, err := s.cfg.Network.Subnet(ctx, scope.AccountID, scope.Region, id)
		if err != nil {
			return "", nil, invalid("The subnet ID %s does not exist.", id)
		}
		if vpc != "" && sn.VpcID != vpc {
			return "", nil, invalid("Subnets %s and %s are in different VPCs; a serverless cache's subnets must share one VPC.", refs[0].ID, id)
		}
		vpc = sn.VpcID
		refs = append(refs, SubnetRef{ID: sn.ID, AZ: sn.AZ})
	}
	return vpc, refs, nil
}

// getServerless reads a serverless cache's group or returns
// ServerlessCacheNotFound.
func getServerless(tx store.Tx, s auth.Scope, name string) (*ReplicationGroup, error) {
	var g ReplicationGroup
	name = strings.ToLower(name)
	err := store.GetJSON(tx, groupKey(s.AccountID, s.Region, ServerlessGroupID(name)), &g)
	if errors.Is(err, store.ErrNotFound) || err == nil && g.Serverless == nil {
		return nil, elasticacheapi.ErrServerlessCacheNotFoundFault("Serverless cache %s not found.", name)
	}
	if err != nil {
		return nil, fmt.Errorf("read serverless cache %s: %w", name, err)
	}
	return &g, nil
}

// DescribeServerlessCaches lists the caller's serverless caches, by name.
func (s *Service) DescribeServerlessCaches(ctx context.Context, in *elasticacheapi.DescribeServerlessCachesRequest) (*elasticacheapi.DescribeServerlessCachesResponse, error) {
	scope := auth.ScopeFrom(ctx)
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, invalid("Invalid value for MaxResults: %d. Valid values are between 1 and 100.", *in.MaxResults)
		}
		limit = int(*in.MaxResults)
	}
	type entry struct {
		g       *ReplicationGroup
		members []*Cluster
	}
	var entries []entry
	err := s.st.View(ctx, func(tx store.Tx) error {
		var groups []*ReplicationGroup
		if name := aws.ToString(in.ServerlessCacheName); name != "" {
			g, err := getServerless(tx, scope, name)
			if err != nil {
				return err
			}
			groups = []*ReplicationGroup{g}
		} else {
			all, err := store.ListJSON[ReplicationGroup](tx, groupKey(scope.AccountID, scope.Region, ServerlessGroupPrefix))
			if err != nil {
				return err
			}
			for _, g := range all {
				if g.Serverless != nil {
					groups = append(groups, g)
				}
			}
		}
		for _, g := range groups {
			m, err := groupMembers(tx, g)
			if err != nil {
				return err
			}
			entries = append(entries, entry{g, m})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	start := 0
	if tok := aws.ToString(in.NextToken); tok != "" {
		start = slices.IndexFunc(entries, func(e entry) bool { return e.g.Serverless.Name >= tok })
		if start < 0 {
			start = len(entries)
		}
	}
	end := min(start+limit, len(entries))
	out := &elasticacheapi.DescribeServerlessCachesResponse{ServerlessCaches: []elasticacheapi.ServerlessCache{}}
	if end < len(entries) {
		out.NextToken = aws.String(entries[end].g.Serverless.Name)
	}
	for _, e := range entries[start:end] {
		sc, err := s.serverlessToAPI(scope, e.g, e.members)
		if err != nil {
			return nil, err
		}
		out.ServerlessCaches = append(out.ServerlessCaches, *sc)
	}
	return out, nil
}

// ModifyServerlessCache changes an available cache's description, usage
// limits, security groups and snapshot settings, in one transaction; the
// cache is modifying until its members follow.
func (s *Service) ModifyServerlessCache(ctx context.Context, in *elasticacheapi.ModifyServerlessCacheRequest) (*elasticacheapi.ModifyServerlessCacheResponse, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.ServerlessCacheName))
	var sv Serverless
	if err := setUsageLimits(&sv, in.CacheUsageLimits); err != nil {
		return nil, err
	}
	if err := setSnapshotSettings(&sv, in.SnapshotRetentionLimit, in.DailySnapshotTime); err != nil {
		return nil, err
	}
	if in.Description != nil && len(*in.Description) > 255 {
		return nil, invalid("Description must be at most 255 characters.")
	}
	var cur *ReplicationGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		cur, err = getServerless(tx, scope, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case (in.UserGroupId != nil || aws.ToBool(in.RemoveUserGroup)) && cur.Engine == catalog.Memcached:
		return nil, memcachedUserGroup()
	case in.UserGroupId != nil && aws.ToBool(in.RemoveUserGroup):
		return nil, combination("UserGroupId and RemoveUserGroup cannot be specified together.")
	case in.UserGroupId != nil && aws.ToString(in.UserGroupId) == "":
		return nil, invalid("The parameter UserGroupId must not be empty.")
	}
	if eng := strings.ToLower(aws.ToString(in.Engine)); eng != "" && eng != cur.Engine {
		return nil, invalid("Changing the engine of serverless cache %s from %s to %s is not supported by Cachalot yet.", name, cur.Engine, eng)
	}
	if m := aws.ToString(in.MajorEngineVersion); m != "" && m != cur.Serverless.MajorVersion {
		if _, _, err := s.serverlessEngine(cur.Engine, m); err != nil {
			return nil, err
		}
		return nil, invalid("Upgrading serverless cache %s to major version %s is not supported by Cachalot yet.", name, m)
	}
	if len(in.SecurityGroupIds) > 5 {
		return nil, invalid("A serverless cache may have at most 5 security groups.")
	}
	if len(in.SecurityGroupIds) > 0 {
		if err := s.cfg.Network.ValidateGroups(ctx, scope.AccountID, scope.Region, cur.VpcID, in.SecurityGroupIds); err != nil {
			return nil, networkError(err)
		}
	}
	var g *ReplicationGroup
	var members []*Cluster
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = getServerless(tx, scope, name); err != nil {
			return err
		}
		if st := serverlessStatus(g); st != GroupAvailable || g.Failover != nil {
			return elasticacheapi.ErrInvalidServerlessCacheStateFault("Serverless cache %s is not in the available state (it is %s).", name, st)
		}
		if members, err = groupMembers(tx, g); err != nil {
			return err
		}
		p := g.Serverless
		var ecpuChanged []*Cluster // members whose fronts meter another maximum
		if in.Description != nil {
			p.Description, g.Description = *in.Description, *in.Description
		}
		if l := in.CacheUsageLimits; l != nil {
			if l.DataStorage != nil {
				if sv.DataMaxGB != p.DataMaxGB {
					return invalid("Changing the data storage maximum of serverless cache %s (from %d to %d GB) is not supported by Cachalot yet: the engines' limit is set when the cache is created.", name, p.DataMaxGB, sv.DataMaxGB)
				}
				p.DataMinGB = sv.DataMinGB
			}
			if l.ECPUPerSecond != nil {
				p.ECPUMax, p.ECPUMin = sv.ECPUMax, sv.ECPUMin
				for _, c := range members {
					if c.ECPULimit != sv.ECPUMax && c.Engine != catalog.Memcached {
						c.ECPULimit = sv.ECPUMax
						c.Generation++
						ecpuChanged = append(ecpuChanged, c)
					}
				}
			}
		}
		if in.SnapshotRetentionLimit != nil {
			p.SnapshotRetain = sv.SnapshotRetain
		}
		if in.DailySnapshotTime != nil {
			p.DailySnapshotTime, g.SnapshotWindow = sv.DailySnapshotTime, sv.DailySnapshotTime
		}
		if err := s.modifyServerlessUserGroup(tx, scope, g, in); err != nil {
			return err
		}
		groups := g.SecurityGroups
		if len(in.SecurityGroupIds) > 0 {
			groups = slices.Clone(in.SecurityGroupIds)
		}
		if !slices.Equal(groups, g.SecurityGroups) {
			g.SecurityGroups, g.Status = groups, GroupModifying
			g.Generation++
			for _, c := range members {
				c.SecurityGroups = slices.Clone(groups)
				c.Generation++
				if c.Status == StatusAvailable {
					c.Status = StatusModifying
				}
				if err := putCluster(tx, c); err != nil {
					return err
				}
			}
		}
		for _, c := range ecpuChanged {
			if err := putCluster(tx, c); err != nil {
				return err
			}
		}
		return putGroup(tx, g)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.serverlessToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.ModifyServerlessCacheResponse{ServerlessCache: out}, nil
}

// DeleteServerlessCache marks the cache and its members deleting, in one
// transaction; the controllers stop its engines, release its interface and
// remove it.
func (s *Service) DeleteServerlessCache(ctx context.Context, in *elasticacheapi.DeleteServerlessCacheRequest) (*elasticacheapi.DeleteServerlessCacheResponse, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.ServerlessCacheName))
	final := strings.ToLower(aws.ToString(in.FinalSnapshotName))
	if in.FinalSnapshotName != nil {
		if err := checkIdentifier("FinalSnapshotName", final, 255); err != nil {
			return nil, err
		}
	}
	var g *ReplicationGroup
	var members []*Cluster
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = getServerless(tx, scope, name); err != nil {
			return err
		}
		if members, err = groupMembers(tx, g); err != nil {
			return err
		}
		if in.FinalSnapshotName != nil {
			// Deleted once the snapshot is taken (endSnapshotting).
			sn, err := s.beginServerlessSnapshot(tx, scope, name, final, SourceManual, nil)
			if err != nil {
				return err
			}
			sn.FinalFor = true
			if g, err = getServerless(tx, scope, name); err != nil {
				return err
			}
			g.Serverless.FinalSnapshot = final
			if err := putGroup(tx, g); err != nil {
				return err
			}
			return putSnapshot(tx, sn)
		}
		switch g.Status {
		case GroupAvailable, GroupFailed, GroupCreating:
		case GroupDeleting:
			return nil
		default:
			return elasticacheapi.ErrInvalidServerlessCacheStateFault("Serverless cache %s is not in a valid state to be deleted (it is %s).", name, g.Status)
		}
		return deleteGroupTx(tx, g, members, false)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.serverlessToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.DeleteServerlessCacheResponse{ServerlessCache: out}, nil
}

// serverlessToAPI renders a serverless cache as Describe shows it: its
// endpoints once its interface has an address.
func (s *Service) serverlessToAPI(scope auth.Scope, g *ReplicationGroup, members []*Cluster) (*elasticacheapi.ServerlessCache, error) {
	p := g.Serverless
	t := g.CreatedAt
	out := &elasticacheapi.ServerlessCache{
		ARN: aws.String(ARN(scope, "serverlesscache", p.Name)), ServerlessCacheName: aws.String(p.Name),
		CreateTime: &t, Description: aws.String(p.Description), Engine: aws.String(g.Engine),
		MajorEngineVersion: aws.String(p.MajorVersion), FullEngineVersion: aws.String(g.EngineVersion),
		NetworkType: aws.String("ipv4"), SecurityGroupIds: slices.Clone(g.SecurityGroups), SubnetIds: slices.Clone(p.SubnetIDs),
		SnapshotRetentionLimit: aws.Int32(int32(p.SnapshotRetain)), DailySnapshotTime: aws.String(p.DailySnapshotTime),
		Status: aws.String(serverlessStatus(g)),
	}
	if g.UserGroupID != "" {
		out.UserGroupId = aws.String(g.UserGroupID)
	}
	if out.SecurityGroupIds == nil {
		out.SecurityGroupIds = []string{}
	}
	if p.KmsKeyID != "" {
		out.KmsKeyId = aws.String(p.KmsKeyID)
	}
	if p.DataMaxGB != 0 || p.DataMinGB != 0 || p.ECPUMax != 0 || p.ECPUMin != 0 {
		l := &elasticacheapi.CacheUsageLimits{}
		opt := func(v int32) *int32 {
			if v == 0 {
				return nil
			}
			return aws.Int32(v)
		}
		if p.DataMaxGB != 0 || p.DataMinGB != 0 {
			l.DataStorage = &elasticacheapi.DataStorage{Maximum: opt(p.DataMaxGB), Minimum: opt(p.DataMinGB), Unit: aws.String("GB")}
		}
		if p.ECPUMax != 0 || p.ECPUMin != 0 {
			l.ECPUPerSecond = &elasticacheapi.ECPUPerSecond{Maximum: opt(p.ECPUMax), Minimum: opt(p.ECPUMin)}
		}
		out.CacheUsageLimits = l
	}
	if len(members) > 0 && len(members[0].Nodes) > 0 && members[0].Nodes[0].IP != "" && g.Status != GroupDeleting {
		sc, err := s.nameScope(g.Account, g.Region)
		if err != nil {
			return nil, err
		}
		wport, readerPort := serverlessPorts(g.Engine)
		host, port, rport := sc.Serverless(p.Name), wport, readerPort
		if s.cfg.HostAddrs != nil {
			n := members[0].Nodes[0]
			if hip, hp, ok := s.cfg.HostAddrs.HostAddr(n.InterfaceID, wport); ok {
				host, port = hip, hp
			}
			if _, hp, ok := s.cfg.HostAddrs.HostAddr(n.InterfaceID, readerPort); ok {
				rport = hp
			}
		}
		out.Endpoint = &elasticacheapi.Endpoint{Address: aws.String(host), Port: aws.Int32(int32(port))}
		out.ReaderEndpoint = &elasticacheapi.Endpoint{Address: aws.String(host), Port: aws.Int32(int32(rport))}
	}
	return out, nil
}

// serverlessNames are the names of a serverless cache: its endpoint, at
// the address of its one interface, on both ports.
func (s *Service) serverlessNames(g *ReplicationGroup, members []*Cluster) ([]EndpointName, error) {
	if len(members) == 0 || len(members[0].Nodes) == 0 || members[0].Nodes[0].IP == "" || g.Status == GroupDeleting {
		return nil, nil
	}
	sc, err := s.nameScope(g.Account, g.Region)
	if err != nil {
		return nil, err
	}
	n := members[0].Nodes[0]
	addr, err := netip.ParseAddr(n.IP)
	if err != nil || !addr.Is4() {
		return nil, fmt.Errorf("serverless cache %s: address %q is not IPv4", g.Serverless.Name, n.IP)
	}
	var out []EndpointName
	wport, rport := serverlessPorts(g.Engine)
	for _, port := range []int{wport, rport} {
		out = append(out, EndpointName{Name: sc.Serverless(g.Serverless.Name), Account: g.Account, Region: g.Region, Cache: g.Serverless.Name,
			Node: n.ID, VpcID: g.VpcID, InterfaceID: n.InterfaceID, IP: addr, Port: port})
	}
	return out, nil
}

// isServerless reports whether id names a serverless cache.
func (s *Service) isServerless(ctx context.Context, scope auth.Scope, id string) bool {
	err := s.st.View(ctx, func(tx store.Tx) error {
		_, err := getServerless(tx, scope, id)
		return err
	})
	return err == nil
}

// serverlessCache is serverlessCacheOf with the endpoint's DNS name.
func (s *Service) serverlessCache(g *ReplicationGroup, members []*Cluster) access.Cache {
	out := serverlessCacheOf(g, members)
	if names, err := s.serverlessNames(g, members); err == nil {
		nameEndpoints(out.Endpoints, names)
	}
	return out
}

// serverlessCacheOf is a serverless cache as the access flows see it: one
// endpoint (its interface) on 6379 and 6380 (Memcached: 11211 and 11212),
// which a compute connection opens both of.
func serverlessCacheOf(g *ReplicationGroup, members []*Cluster) access.Cache {
	port, toPort := serverlessPorts(g.Engine)
	out := access.Cache{Account: g.Account, Region: g.Region, ID: g.Serverless.Name, Kind: access.KindServerlessCache,
		CreatedAt: g.CreatedAt, Engine: g.Engine, Status: g.Status,
		VpcID: g.VpcID, Port: port, ToPort: toPort, SecurityGroups: slices.Clone(g.SecurityGroups)}
	if len(members) > 0 && len(members[0].Nodes) > 0 && members[0].Nodes[0].InterfaceID != "" && g.Status != GroupDeleting {
		n := members[0].Nodes[0]
		out.Endpoints = []access.Endpoint{{Name: "endpoint", InterfaceID: n.InterfaceID, Address: n.IP}}
	}
	return out
}

// modifyServerlessUserGroup applies ModifyServerlessCache's UserGroupId
// (attach or replace) and RemoveUserGroup inside tx: the group's ACL, which
// its members' engines take live (setGroupACL; the cache is modifying
// until they have).
func (s *Service) modifyServerlessUserGroup(tx store.Tx, scope auth.Scope, g *ReplicationGroup, in *elasticacheapi.ModifyServerlessCacheRequest) error {
	next := g.UserGroupID
	switch {
	case aws.ToBool(in.RemoveUserGroup):
		if g.UserGroupID == "" {
			return combination("The serverless cache %s has no user group to remove.", g.Serverless.Name)
		}
		next = ""
	case in.UserGroupId != nil:
		next = strings.ToLower(aws.ToString(in.UserGroupId))
	}
	if next == g.UserGroupID {
		return nil
	}
	if next == "" {
		g.UserGroupID, g.ACL = "", nil
	} else if err := attachUserGroup(tx, scope, g, next); err != nil {
		return err
	}
	return setGroupACL(tx, g, g.ACL)
}
