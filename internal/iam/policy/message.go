package policy

import "strings"

// Message renders the AccessDenied / UnauthorizedOperation message AWS
// returns for a denied request, in the wording of IAM's "access denied error
// messages" (caller, action, resource, and which kind of policy is missing or
// denies). It is empty for an allowed request.
func (d Decision) Message(req *Request) string {
	if d.Allowed {
		return ""
	}
	var b strings.Builder
	b.WriteString("User: ")
	b.WriteString(req.Caller.ARN)
	b.WriteString(" is not authorized to perform: ")
	b.WriteString(req.Action)
	if req.Resource != "" && req.Resource != "*" {
		b.WriteString(" on resource: ")
		b.WriteString(req.Resource)
	}
	kind := func(s Source) string {
		switch s {
		case SourceResource:
			return "a resource-based policy"
		case SourceBoundary:
			return "a permissions boundary"
		case SourceSession:
			return "a session policy"
		}
		return "an identity-based policy"
	}
	switch d.Reason {
	case ReasonExplicitDeny:
		b.WriteString(" with an explicit deny in ")
		b.WriteString(kind(d.Matched.Source))
	case ReasonBoundary:
		b.WriteString(" because no permissions boundary allows the ")
		b.WriteString(req.Action)
		b.WriteString(" action")
	case ReasonSession:
		b.WriteString(" because no session policy allows the ")
		b.WriteString(req.Action)
		b.WriteString(" action")
	case ReasonTrust:
		// AWS says no more for a role that does not trust the caller.
	default:
		b.WriteString(" because no identity-based policy allows the ")
		b.WriteString(req.Action)
		b.WriteString(" action")
	}
	return b.String()
}
