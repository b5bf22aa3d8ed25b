// Package engine supervises the cache engine processes behind ElastiCache
// nodes, one process per cache node: start and readiness, re-adoption of
// a running process by a new supervisor after the Cachalot daemon
// restarts, restart on crash with backoff, stop, reboot, live parameter
// changes, status. It also finds the installed engine binaries (Discover),
// because that too means running them.
//
// What an engine is, as data (engine names, installed engines and their
// versions, parameter families and tables, node types), is the leaf
// internal/catalog's. What is specific to one engine kind is its
// sub-package's: internal/engine/redis (Redis OSS and Valkey: redis.conf,
// CONFIG SET, RESP client) and internal/engine/memcached (argv, text
// client). This package reaches them through a small driver interface per
// kind (driver.go: render the command line and files, ping, apply
// parameters live); replication, cluster slots, ACLs and TLS land in the
// sub-packages, and in the driver where they touch a process's lifecycle.
//
// Of Cachalot's packages it imports only internal/catalog and its own
// sub-packages (the root deps_test.go pins it); the elasticache controllers and the
// wiring import it, the elasticache domain does not. How a process is
// started inside a node's network namespace is injected as a Launcher, and
// how it is reached as a DialFunc, so this package never switches
// namespace itself.
//
// Processes outlive the daemon: they are started in their own session
// (Setsid) with their node's data directory as working directory, and each
// node directory holds a state file (pid and kernel start time) by which a
// later supervisor recognises the very process it started, never a
// recycled pid. An engine working in a node directory that no state file
// records (its daemon was killed between launching and recording it) is
// stopped by Stop of that node and before the node's next launch.
//
// Engines are confined as ElastiCache confines them (sandbox.go): when the
// daemon runs as root, each node's engine runs as a uid and gid of its
// own (allocated by the leaf internal/engine/identity, which the instance
// controller may use for user data too), with no capabilities and
// no_new_privs, and writes only its data directory; clients cannot run
// the commands ElastiCache restricts, which the supervisor still runs as
// the node's private admin user (internal/engine/redis, restrict.go; the
// node's secrets: secrets.go); memcached's memory is capped by the
// kernel (memcached.DataLimit). Engines started by a Cachalot before
// this are re-adopted as they are and confined at their next start.
//
// Files: supervisor.go (the Supervisor: API, stop, teardown, state file),
// node.go (one node's actor: launch, adopt, readiness, crash restarts,
// reboot, live parameters), restarts.go (the pure restart policy),
// driver.go (the per-kind drivers), role.go (a node's role in a
// replication group: the primary a replica follows, rendered into its
// configuration and changed live with SetRole; nodes held on crash, whose
// engine is not restarted so a replica can be promoted instead;
// Replication, the INFO replication health check), sandbox.go (confinement: identity,
// data directory, the setpriv and prlimit wrappers), secrets.go (the
// node's admin password and command suffix), discover.go (installed
// engines), proc_linux.go (the /proc and signal realisation;
// proc_other.go stubs it elsewhere).
package engine
