package cloudwatch

// The metrics of the AWS/ElastiCache namespace Cachalot publishes, with
// CloudWatch's units. Redis OSS and Valkey nodes publish the Redis names,
// Memcached nodes the Memcached ones, as on AWS.
const (
	CPUUtilization                 = "CPUUtilization"
	EngineCPUUtilization           = "EngineCPUUtilization"
	CurrConnections                = "CurrConnections"
	NewConnections                 = "NewConnections"
	DatabaseMemoryUsagePercentage  = "DatabaseMemoryUsagePercentage"
	BytesUsedForCache              = "BytesUsedForCache"
	BytesUsedForCacheItems         = "BytesUsedForCacheItems"
	CacheHits                      = "CacheHits"
	CacheMisses                    = "CacheMisses"
	CacheHitRate                   = "CacheHitRate"
	GetHits                        = "GetHits"
	GetMisses                      = "GetMisses"
	Evictions                      = "Evictions"
	CurrItems                      = "CurrItems"
	ReplicationLag                 = "ReplicationLag"
	NetworkBytesIn                 = "NetworkBytesIn"
	NetworkBytesOut                = "NetworkBytesOut"
	CommandsPerSecond              = "CommandsPerSecond" // not AWS's: the Prometheus ops/s; never published
	DimensionCacheClusterID        = "CacheClusterId"
	DimensionCacheNodeID           = "CacheNodeId"
	unitPercent, unitCount, unitBy = "Percent", "Count", "Bytes"
)

// units are the published metrics and their CloudWatch units.
var units = map[string]string{
	CPUUtilization:                unitPercent,
	EngineCPUUtilization:          unitPercent,
	CurrConnections:               unitCount,
	NewConnections:                unitCount,
	DatabaseMemoryUsagePercentage: unitPercent,
	BytesUsedForCache:             unitBy,
	BytesUsedForCacheItems:        unitBy,
	CacheHits:                     unitCount,
	CacheMisses:                   unitCount,
	CacheHitRate:                  unitPercent,
	GetHits:                       unitCount,
	GetMisses:                     unitCount,
	Evictions:                     unitCount,
	CurrItems:                     unitCount,
	ReplicationLag:                "Seconds",
	NetworkBytesIn:                unitBy,
	NetworkBytesOut:               unitBy,
	CommandsPerSecond:             "Count/Second",
}

// Published reports whether name is a metric the API lists and answers.
func Published(name string) bool { _, ok := units[name]; return ok && name != CommandsPerSecond }

// Unit is a metric's CloudWatch unit, "" for a name not published.
func Unit(name string) string { return units[name] }
