package policy

import "errors"

// ErrMalformed matches (errors.Is) every error Parse returns for a document
// IAM would reject with MalformedPolicyDocument.
var ErrMalformed = errors.New("malformed policy document")

// MalformedError is a policy document IAM would reject. Message is worded like
// IAM's MalformedPolicyDocument message and is meant to go on the wire as is.
type MalformedError struct {
	Message string
}

func (e *MalformedError) Error() string { return "MalformedPolicyDocument: " + e.Message }

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(msg string) error { return &MalformedError{Message: msg} }

// IAM's messages, gathered so tests and callers can compare against them.
const (
	MsgSyntax             = "Syntax errors in policy."
	MsgLegacyParsing      = "The policy failed legacy parsing"
	MsgPrincipalForbidden = "Policy document should not specify a principal."
	MsgMissingStatement   = "Missing required field Statement"
	MsgMissingEffect      = "Missing required field Effect"
	MsgMissingAction      = "Missing required field Action"
	MsgMissingResource    = "Missing required field Resource"
	MsgMissingPrincipal   = "Missing required field Principal"
	MsgNoActions          = "Policy statement must contain actions."
	MsgNoResources        = "Policy statement must contain resources."
	MsgVendorPrefix       = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	MsgSidUnique          = "Statement IDs (SID) in a single policy must be unique."
	MsgSidAlnum           = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
	MsgResourceProhibited = "Has prohibited field Resource"
	MsgActionAndNot       = "Statement must not contain both Action and NotAction"
	MsgResourceAndNot     = "Statement must not contain both Resource and NotResource"
	MsgPrincipalAndNot    = "Statement must not contain both Principal and NotPrincipal"
)
