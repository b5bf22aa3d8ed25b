// Package redis owns what is specific to the Redis OSS and Valkey engines
// (they share a protocol and a configuration language): rendering
// redis.conf from a node's parameters (conf.go, golden files under
// testdata, rewritten with -update), turning parameter changes into
// CONFIG SET commands for a running engine (live.go), the restrictions
// clients run under and the admin access Cachalot keeps (restrict.go),
// replication (replication.go: the replicaof directives of a replica,
// REPLICAOF and INFO replication through the admin connection), and a
// minimal RESP2 client with the readiness ping (client.go).
//
// Clients of a node cannot run the commands ElastiCache restricts
// (CONFIG, BGSAVE, REPLICAOF, SHUTDOWN... and MODULE, ACL, PSYNC): they
// get the same errors as on ElastiCache. Cachalot manages a node as its
// private admin user, with the renamed command names, through Admin
// (Admin.Dial, Admin.Do, Admin.Ping). That is the one way for what is
// still to come to run a restricted command: replication (REPLICAOF by
// Admin.Name, and replicas authenticating to their primary as AdminUser
// with masteruser/masterauth, since PSYNC is denied to the default user),
// cluster mode (CLUSTER, MIGRATE for resharding), snapshots (BGSAVE). An
// AUTH token, when it comes, is the default user's password in place of
// nopass (restrict.go renders that user); the admin user is unaffected.
//
// It imports only internal/catalog (the parameter tables) and the
// standard library; internal/engine, which supervises the processes,
// imports it and is its only non-test importer besides tools and tests
// that need a client. It starts no process and knows no network
// namespace: connections go through the dial function it is given.
//
// Where the capabilities still to come belong, each in a file of its own
// beside these: cluster mode (slot
// assignment, CLUSTER MEET/ADDSLOTS, nodes.conf, which conf.go already
// names when cluster-enabled is yes) in cluster.go; users and ACLs
// (user directives, AUTH token) in acl.go; in-transit encryption (tls-*
// directives, certificate files in the node directory) in tls.go. Each
// renders into Config or issues commands through Conn; none runs
// processes.
package redis
