// Package cloudwatchapi holds the wire contract of the CloudWatch API generated from the
// botocore model extract api/models/cloudwatch.json: its shapes, the Operations
// interface that the cloudwatch domain package implements, the operation table the
// wire codec dispatches through, and constructors for the model's errors.
// Only the wiring package and the cloudwatch domain package import it.
package cloudwatchapi

//go:generate go run ../gen -model ../../../api/models/cloudwatch.json -pkg cloudwatchapi -out .
