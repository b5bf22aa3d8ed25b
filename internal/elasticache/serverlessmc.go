package elasticache

import (
	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// Serverless Memcached caches. ElastiCache serves one with TLS only, on
// 11211 (Endpoint) and 11212 (ReaderEndpoint), at the same name as a
// Valkey or Redis OSS serverless cache. Cachalot realises it, like those,
// by a hidden group (ServerlessGroupPrefix+name, carrying the serverless
// settings) with Engine memcached, but of one member cluster: one memcached
// engine listening on both ports of the cache's one interface
// (Cluster.ReaderPort; the same cache on both, TLS on both), limited to
// the data storage maximum (memcached -m: at the maximum, memcached evicts
// the least recently used items, as ElastiCache documents for serverless
// Memcached). The member has no configuration endpoint (clients connect to
// the one endpoint) and the group neither replicates nor fails over: the
// engine supervisor restarts a crashed engine in place, and the group
// controller (cachectl) makes the group available when its member is and
// removes it when the member is gone.
//
// Refused: UserGroupId and RemoveUserGroup (ElastiCache takes user groups
// on Valkey and Redis OSS serverless caches only).
//
// Snapshots (serverlesssnap.go) work as for the other engines, the file
// being a dump of the engine's items (internal/engine/memcached, dump.go:
// memcached has no persistence; its items are read out and written back)
// instead of an RDB. A Memcached snapshot restores into a Memcached cache
// only, and only Memcached snapshots do.

// Serverless Memcached ports: the endpoint and the reader endpoint.
const (
	ServerlessMemcachedPort       = 11211
	ServerlessMemcachedReaderPort = 11212
)

// serverlessPorts are the ports of a serverless cache of engine eng: its
// endpoint's and its reader endpoint's.
func serverlessPorts(eng string) (port, reader int) {
	if eng == catalog.Memcached {
		return ServerlessMemcachedPort, ServerlessMemcachedReaderPort
	}
	return ServerlessPort, ServerlessReaderPort
}

// memcachedServerlessGroup turns the group of a new serverless cache into
// one realising a Memcached cache: not cluster mode, no failover, the
// family's default parameter group.
func memcachedServerlessGroup(g *ReplicationGroup) {
	g.Port, g.ClusterMode, g.AutomaticFailover, g.MultiAZ = ServerlessMemcachedPort, "", FailoverDisabled, false
	g.ParameterGroup = "default." + g.Family
	g.Primary = memberID(g.ID, 1)
	g.Members = []string{g.Primary}
}

// memcachedServerlessMember is the one member of a serverless Memcached
// cache's group: its engine listens on 11211 and 11212, with TLS, limited
// to dataLimit bytes (0: the node type's memory).
func (s *Service) memcachedServerlessMember(g *ReplicationGroup, zone SubnetRef, dataLimit int64) *Cluster {
	c := s.newMember(g, g.Primary, zone)
	c.ReaderPort, c.ServerlessCache, c.DataLimit = ServerlessMemcachedReaderPort, g.Serverless.Name, dataLimit
	applyRoles(g, []*Cluster{c})
	return c
}

// MemcachedServerless reports whether g realises a serverless Memcached
// cache (the group controller converges it apart: no replication).
func (g *ReplicationGroup) MemcachedServerless() bool {
	return g.Serverless != nil && g.Engine == catalog.Memcached
}

// memcachedUserGroup refuses a user group on a serverless Memcached cache.
func memcachedUserGroup() error {
	return combination("User groups are available for Valkey and Redis OSS serverless caches only; a memcached serverless cache takes no UserGroupId.")
}

// MemcachedSnapshotSuffix ends the file name of a Memcached snapshot (a
// dump of its items) in the snapshot store; an RDB file's is ".rdb".
const MemcachedSnapshotSuffix = ".mcdump"
