package store

// SchemaVersion is the layout version of the store this binary reads and
// writes. Every change of key layout or value encoding bumps it and appends a
// migration; this file is the one place where both are declared.
const SchemaVersion = 2

// migrations[v] brings a store from schema v to v+1, inside the transaction
// that opens the store. A fresh store runs every migration from 0.
var migrations = []func(Tx) error{
	// 0 -> 1: the initial layout; nothing to convert.
	func(Tx) error { return nil },
	// 1 -> 2: loopback-mode host ports move out of the ElastiCache records
	// into the VPC-network controller's keys (migrate_hostports.go).
	moveHostPorts,
}
