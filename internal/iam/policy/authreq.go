package policy

import "github.com/cachalot-dev/cachalot/internal/auth"

// CallerFromAuth maps a verified auth.Principal onto the Caller that policies
// see (aws:PrincipalType, aws:PrincipalArn, aws:username, MFA keys, ...).
func CallerFromAuth(p auth.Principal) Caller {
	c := Caller{
		ARN:         p.ARN,
		AccountID:   p.AccountID,
		UserID:      p.UserID,
		Temporary:   p.Temporary,
		MFA:         p.MFAAuthenticated,
		TokenIssued: p.TokenIssued,
	}
	if p.MFAAuthenticated {
		// STS records MFA at issue time.
		c.MFAAuthTime = p.TokenIssued
	}
	switch p.Type {
	case auth.Root:
		c.Type = PrincipalAccount
		if c.ARN == "" {
			c.ARN = AccountRootARN(p.AccountID)
		}
	case auth.User:
		c.Type = PrincipalUser
		c.Username = p.Name
	case auth.AssumedRole:
		c.Type = PrincipalAssumedRole
		c.PrincipalARN = p.RoleARN
	case auth.FederatedUser:
		c.Type = PrincipalFederatedUser
	default:
		c.Type = string(p.Type)
	}
	return c
}

// RequestsFromAuth returns one Request per resource of r ("*" when it lists
// none). The Context map is shared with r, not copied.
func RequestsFromAuth(r auth.Request) []Request {
	base := Request{
		Action:          r.Service + ":" + r.Action,
		Resource:        "*",
		Caller:          CallerFromAuth(r.Principal),
		Time:            r.Time,
		SourceIP:        r.SourceIP,
		SecureTransport: r.SecureTransport,
		Region:          r.Region,
		Context:         r.Context,
	}
	if len(r.Resources) == 0 {
		return []Request{base}
	}
	out := make([]Request, len(r.Resources))
	for i, res := range r.Resources {
		out[i] = base
		out[i].Resource = res
	}
	return out
}
