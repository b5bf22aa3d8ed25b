// Package stsapi holds the wire contract of the sts API generated from the
// botocore model extract api/models/sts.json: its shapes, the Operations
// interface that the sts domain package implements, the operation table the
// wire codec dispatches through, and constructors for the model's errors.
// Only the wiring package and the sts domain package import it.
package stsapi

//go:generate go run ../gen -model ../../../api/models/sts.json -pkg stsapi -out .
