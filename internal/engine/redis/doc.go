// Package redis owns what is specific to the Redis OSS and Valkey engines
// (they share a protocol and a configuration language): rendering
// redis.conf from a node's parameters (conf.go, golden files under
// testdata, rewritten with -update), turning parameter changes into
// CONFIG SET commands for a running engine (live.go), and a minimal RESP2
// client with the readiness ping (client.go).
//
// It imports only internal/catalog (the parameter tables) and the
// standard library; internal/engine, which supervises the processes,
// imports it and is its only non-test importer besides tools and tests
// that need a client. It starts no process and knows no network
// namespace: connections go through the dial function it is given.
//
// Where the capabilities still to come belong, each in a file of its own
// beside these: replication (replicaof, the primary's address and the
// replication state read from INFO) in replication.go; cluster mode (slot
// assignment, CLUSTER MEET/ADDSLOTS, nodes.conf, which conf.go already
// names when cluster-enabled is yes) in cluster.go; users and ACLs
// (user directives, AUTH token) in acl.go; in-transit encryption (tls-*
// directives, certificate files in the node directory) in tls.go. Each
// renders into Config or issues commands through Conn; none runs
// processes.
package redis
