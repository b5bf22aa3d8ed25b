// Package elasticacheapi holds the wire contract of the elasticache API generated from the
// botocore model extract api/models/elasticache.json: its shapes, the Operations
// interface that the elasticache domain package implements, the operation table the
// wire codec dispatches through, and constructors for the model's errors.
// Only the wiring package and the elasticache domain package import it.
package elasticacheapi

//go:generate go run ../gen -model ../../../api/models/elasticache.json -pkg elasticacheapi -out .
