// Package iamapi holds the wire contract of the iam API generated from the
// botocore model extract api/models/iam.json: its shapes, the Operations
// interface that the iam domain package implements, the operation table the
// wire codec dispatches through, and constructors for the model's errors.
// Only the wiring package and the iam domain package import it.
package iamapi

//go:generate go run ../gen -model ../../../api/models/iam.json -pkg iamapi -out .
