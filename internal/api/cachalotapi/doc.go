// Package cachalotapi holds the wire contract of Cachalot's own actions on the
// ElastiCache endpoint (docs/api-extensions.md), generated from the model
// api/models/cachalot.json, which is written by hand in the format of the
// botocore extracts: the shapes, the Operations interface that internal/access
// implements, the operation table the wire codec dispatches through, and a
// Client over an awsproto.Caller that the cachalot command uses, so the server
// and its client share one definition.
// Only internal/access (the server) and internal/cli (the client) import it.
package cachalotapi

//go:generate go run ../gen -model ../../../api/models/cachalot.json -pkg cachalotapi -out . -client
