// Package dnsname owns the DNS names Cachalot hands out, spelt the way AWS
// spells them: ElastiCache endpoint names (node, Memcached configuration,
// replication group primary and reader, the TLS shapes, serverless), the
// region short codes in them (us-east-1 -> use1), the per-account-and-region
// six-character id, EC2 private DNS names (ip-10-0-1-5.ec2.internal) and the
// validation of the configurable endpoint domain (serve --dns-domain).
//
// It is pure — no I/O (NewSecret aside), no clock, no global state; the
// installation secret the ids are derived from is a parameter. Any package
// may import it (the ElastiCache and EC2 domains to name endpoints and
// instances, the wiring to validate the flag, the resolver for the EC2
// search domain); it imports only the standard library.
package dnsname
