// Package memcached owns what is specific to the memcached engine:
// rendering its command line from a node's parameters (args.go, golden
// files under testdata, rewritten with -update; memcached has no
// configuration file and no live configuration, so a parameter change
// means a restart), a minimal text-protocol client with the readiness
// ping (client.go), and the memory limit the kernel holds it to
// (DataLimit: memcached's cache_memlimit command, which any client may
// send, cannot be turned off).
//
// It imports only internal/catalog (the parameter tables) and the
// standard library; internal/engine, which supervises the processes,
// imports it, as do tools and tests that need a client. It starts no
// process and knows no network namespace: connections go through the dial
// function it is given.
//
// Memcached has no replication, cluster slots or ACLs (ElastiCache's
// Memcached clusters are independent nodes behind a configuration
// endpoint). In-transit encryption, when it comes, belongs in tls.go
// here: the -Z/ssl_* options rendered into Config, certificate files in
// the node directory.
package memcached
