// Package catalog is the leaf both the ElastiCache domain and the engines
// import: what ElastiCache knows about engines, as data and pure look-ups.
// It owns the engine names (redis, valkey, memcached), an installed
// engine and the set of them with their version matching (Installed,
// Catalog.Find, ParseVersion), the parameter group families and their
// parameter tables with the validation of a value (Families, Parameters,
// LookupParameter, Defaults, MergeDefaults, ValidateChanges), and the
// memory of each cache node type (NodeTypeMemory, EffectiveMaxMemory).
//
// It imports nothing of Cachalot's and runs nothing: finding the installed
// binaries (engine.Discover) runs programs and lives with the supervisor;
// how a parameter reaches an engine (a redis.conf directive, a memcached
// flag) lives in that engine's package under internal/engine. Anyone may
// import it.
//
// Files: engines.go (engine names, installed engines, version look-up),
// versions.go (the versions ElastiCache offers and which binary serves each),
// params.go (families, validation), params_redis.go and
// params_memcached.go (the tables), nodetype.go (memory per node type).
package catalog
