// Package cachalot is the module root of Cachalot, a self-hosted,
// AWS-compatible Amazon ElastiCache. It holds no code: the command is
// cmd/cachalot and the packages live under internal/ (docs/architecture.md
// maps them). Its test, deps_test.go, pins the import rules of the whole
// tree.
package cachalot
