// Package engine owns the cache engine processes behind ElastiCache nodes:
// which engines are installed (redis-server, valkey-server, memcached) and
// how they map to ElastiCache engine names, versions and parameter group
// families; the parameter tables of those families and the validation of a
// value; the rendering of an engine's configuration (redis.conf, memcached
// argv) from a node's spec; and the supervision of one process per cache
// node: start, readiness, restart on crash with backoff, stop, reboot, live
// parameter changes, and re-adoption of a running process by a new
// supervisor after the Cachalot daemon restarts.
//
// It imports nothing of Cachalot's; the elasticache domain and its
// reconcilers import it. How a process is started inside a node's network
// namespace is injected as a Launcher, so this package never switches
// namespace itself.
//
// Processes outlive the daemon: they are started in their own session
// (Setsid) with their node directory as working directory, and each node
// directory holds a state file (pid and kernel start time) by which a later
// supervisor recognises the very process it started, never a recycled pid.
//
// Files: discover.go (installed engines), params*.go (parameter tables),
// nodetype.go (memory per node type), render.go (configs), client.go
// (minimal RESP and memcached clients), supervisor.go (the Supervisor:
// API, stop, teardown, state file), node.go (one node's actor: launch,
// readiness, crash restarts, reboot, live parameters), proc_linux.go (the
// /proc and signal realisation; proc_other.go stubs it elsewhere).
package engine
