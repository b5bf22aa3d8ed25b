// Package ec2api holds the wire contract of the ec2 API generated from the
// botocore model extract api/models/ec2.json: its shapes, the Operations
// interface that the ec2 domain package implements, the operation table the
// wire codec dispatches through, and constructors for the model's errors.
// Only the wiring package and the ec2 domain package import it.
package ec2api

//go:generate go run ../gen -model ../../../api/models/ec2.json -pkg ec2api -out .
