// Package policy owns the IAM policy language: parsing and validating policy
// documents as IAM accepts them, evaluating a request against identity,
// resource (or role trust), permissions-boundary and session policies the way
// AWS does (explicit deny, then allow, then implicit deny), the AWS managed
// policies Cachalot ships, and helpers for the ARNs of the resources Cachalot
// serves.
//
// It is pure: no I/O, no clock, no package-level mutable state. Anything may
// import it; it imports nothing of Cachalot's except internal/auth, and only in
// authreq.go to translate an auth.Request (the rest works without it).
//
// The usual flow is Parse once when a policy is stored or loaded (patterns are
// compiled then), keep the *Policy, and call Evaluate per request:
//
//	p, err := policy.Parse(doc, policy.KindIdentity)
//	var m *policy.MalformedError
//	if errors.As(err, &m) { /* MalformedPolicyDocument: m.Message */ }
//	d := policy.Evaluate(&req, policy.Set{Identity: []policy.Named{{Name: arn, Policy: p}}})
//
// A *Policy is immutable after Parse and safe for concurrent use.
package policy
