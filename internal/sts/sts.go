// Package sts owns the AWS Security Token Service API: who the caller is
// (GetCallerIdentity, GetAccessKeyInfo) and temporary credentials
// (GetSessionToken, AssumeRole). The credentials themselves, MFA devices and
// roles are iam's; sts validates requests as STS does and asks iam to check
// trust and MFA and to issue sessions. Imported by the wiring package only.
package sts

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
)

// Service implements stsapi.Operations.
type Service struct {
	stsapi.Unimplemented
	iam *iam.Service
	now func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithIAM gives the service the IAM it issues credentials through; without
// it only GetCallerIdentity works.
func WithIAM(s *iam.Service) Option { return func(x *Service) { x.iam = s } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(x *Service) { x.now = now } }

// New returns the STS service.
func New(opts ...Option) *Service {
	s := &Service{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Duration bounds (seconds).
const (
	minDuration          = 900
	maxSessionToken      = 129600
	defaultSessionToken  = 43200
	maxRootSessionToken  = 3600
	defaultAssumeRole    = 3600
	maxRoleChaining      = 3600
	maxSessionPolicySize = 2048
	maxSessionPolicyARNs = 10
)

var (
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRe  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	tokenCodeRe   = regexp.MustCompile(`^[\d]*$`)
	serialRe      = regexp.MustCompile(`^[\w+=/:,.@-]*$`)
)

func validation(value, member, constraint string) error {
	return awserr.New("ValidationError", "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint)
}

func (s *Service) ready() error {
	if s.iam == nil {
		return awserr.NotImplemented("STS", "temporary credentials")
	}
	return nil
}

// GetCallerIdentity returns the verified caller.
func (s *Service) GetCallerIdentity(ctx context.Context, _ *stsapi.GetCallerIdentityRequest) (*stsapi.GetCallerIdentityResponse, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, awserr.Internal()
	}
	return &stsapi.GetCallerIdentityResponse{
		Account: aws.String(p.AccountID),
		Arn:     aws.String(p.ARN),
		UserId:  aws.String(p.UserID),
	}, nil
}

// GetAccessKeyInfo returns the account that owns an access key.
func (s *Service) GetAccessKeyInfo(ctx context.Context, in *stsapi.GetAccessKeyInfoRequest) (*stsapi.GetAccessKeyInfoResponse, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	akid := aws.ToString(in.AccessKeyId)
	if len(akid) < 16 || len(akid) > 128 {
		return nil, validation(akid, "accessKeyId", "Member must have length greater than or equal to 16")
	}
	acct, ok, err := s.iam.AccessKeyAccount(ctx, akid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, awserr.WithStatus(400, "InvalidParameterValue", "The access key %s does not exist in this installation.", akid)
	}
	return &stsapi.GetAccessKeyInfoResponse{Account: aws.String(acct)}, nil
}

// checkMFA validates SerialNumber/TokenCode and verifies the code against
// the caller's device. It reports whether MFA was proved.
func (s *Service) checkMFA(ctx context.Context, p auth.Principal, serial, code *string) (bool, error) {
	if serial == nil && code == nil {
		return false, nil
	}
	if v := aws.ToString(serial); len(v) < 9 || len(v) > 256 || !serialRe.MatchString(v) {
		return false, validation(v, "serialNumber", "Member must have length greater than or equal to 9")
	}
	if v := aws.ToString(code); len(v) != 6 || !tokenCodeRe.MatchString(v) {
		return false, validation(v, "tokenCode", "Member must have length greater than or equal to 6")
	}
	user := ""
	switch p.Type {
	case auth.User:
		user = p.Name
	case auth.Root:
	default:
		return false, awserr.WithStatus(403, "AccessDenied", "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user.")
	}
	if err := s.iam.VerifyMFA(ctx, p.AccountID, user, *serial, *code); err != nil {
		return false, err
	}
	return true, nil
}

func credentialsOut(k auth.Key) *stsapi.Credentials {
	return &stsapi.Credentials{AccessKeyId: aws.String(k.AccessKeyID), SecretAccessKey: aws.String(k.SecretAccessKey),
		SessionToken: aws.String(k.SessionToken), Expiration: aws.Time(k.Expires.UTC())}
}

// GetSessionToken returns temporary credentials for the calling user (or
// root), MFA-authenticated when SerialNumber and TokenCode are given.
func (s *Service) GetSessionToken(ctx context.Context, in *stsapi.GetSessionTokenRequest) (*stsapi.GetSessionTokenResponse, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	p, _ := auth.PrincipalFrom(ctx)
	if p.Temporary || (p.Type != auth.User && p.Type != auth.Root) {
		return nil, awserr.WithStatus(403, "AccessDenied", "Cannot call GetSessionToken with session credentials")
	}
	d := int32(defaultSessionToken)
	if in.DurationSeconds != nil {
		d = *in.DurationSeconds
		if d < minDuration {
			return nil, validation(itoa(d), "durationSeconds", "Member must have value greater than or equal to 900")
		}
		if d > maxSessionToken {
			return nil, validation(itoa(d), "durationSeconds", "Member must have value less than or equal to 129600")
		}
	}
	if p.Type == auth.Root && d > maxRootSessionToken {
		d = maxRootSessionToken // root sessions are limited to one hour
	}
	mfa, err := s.checkMFA(ctx, p, in.SerialNumber, in.TokenCode)
	if err != nil {
		return nil, err
	}
	spec := iam.SessionSpec{Kind: iam.SessionToken, AccountID: p.AccountID, MFA: mfa, Duration: time.Duration(d) * time.Second}
	if p.Type == auth.User {
		spec.UserName, spec.UserID = p.Name, p.UserID
	}
	issued, err := s.iam.IssueSession(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &stsapi.GetSessionTokenResponse{Credentials: credentialsOut(issued.Key)}, nil
}

// AssumeRole returns temporary credentials for a role whose trust policy
// allows the caller (in its account or, when the trust policy names it,
// another account of the installation).
func (s *Service) AssumeRole(ctx context.Context, in *stsapi.AssumeRoleRequest) (*stsapi.AssumeRoleResponse, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	p, _ := auth.PrincipalFrom(ctx)
	roleARN, name := aws.ToString(in.RoleArn), aws.ToString(in.RoleSessionName)
	if len(roleARN) < 20 || len(roleARN) > 2048 {
		return nil, validation(roleARN, "roleArn", "Member must have length greater than or equal to 20")
	}
	if len(name) < 2 {
		return nil, validation(name, "roleSessionName", "Member must have length greater than or equal to 2")
	}
	if len(name) > 64 {
		return nil, validation(name, "roleSessionName", "Member must have length less than or equal to 64")
	}
	if !sessionNameRe.MatchString(name) {
		return nil, validation(name, "roleSessionName", `Member must satisfy regular expression pattern: [\w+=,.@-]*`)
	}
	d := int32(defaultAssumeRole)
	if in.DurationSeconds != nil {
		d = *in.DurationSeconds
		if d < minDuration {
			return nil, validation(itoa(d), "durationSeconds", "Member must have value greater than or equal to 900")
		}
		if d > 43200 {
			return nil, validation(itoa(d), "durationSeconds", "Member must have value less than or equal to 43200")
		}
	}
	rctx := map[string][]string{"sts:RoleSessionName": {name}}
	if in.ExternalId != nil {
		x := *in.ExternalId
		if len(x) < 2 || len(x) > 1224 || !externalIDRe.MatchString(x) {
			return nil, validation(x, "externalId", `Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`)
		}
		rctx["sts:ExternalId"] = []string{x}
	}
	if in.SourceIdentity != nil {
		rctx["sts:SourceIdentity"] = []string{*in.SourceIdentity}
	}
	var packed *int32
	if in.Policy != nil {
		doc := *in.Policy
		if _, err := policy.Parse(doc, policy.KindIdentity); err != nil {
			var m *policy.MalformedError
			if errors.As(err, &m) {
				return nil, stsapi.ErrMalformedPolicyDocumentException("%s", m.Message)
			}
			return nil, stsapi.ErrMalformedPolicyDocumentException("%s", err.Error())
		}
		size, _ := policy.CanonicalSize(doc)
		if size > maxSessionPolicySize {
			return nil, stsapi.ErrPackedPolicyTooLargeException("Packed policy consumes %d%% of allotted space, please use smaller policy.", size*100/maxSessionPolicySize)
		}
		packed = aws.Int32(int32(size * 100 / maxSessionPolicySize))
	}
	var arns []string
	if len(in.PolicyArns) > maxSessionPolicyARNs {
		return nil, validation("", "policyArns", "Member must have length less than or equal to 10")
	}
	for _, pa := range in.PolicyArns {
		arns = append(arns, aws.ToString(pa.Arn))
	}
	mfa, err := s.checkMFA(ctx, p, in.SerialNumber, in.TokenCode)
	if err != nil {
		return nil, err
	}
	scope := auth.ScopeFrom(ctx)
	role, err := s.iam.AuthorizeAssumeRole(ctx, auth.Request{Principal: p, Service: "sts", Action: "AssumeRole",
		Resources: []string{roleARN}, Region: scope.Region, Time: s.now(), Context: rctx}, mfa || p.MFAAuthenticated)
	if err != nil {
		return nil, err
	}
	for _, a := range arns {
		if err := s.iam.CheckPolicyARN(ctx, role.AccountID, a); err != nil {
			return nil, awserr.New("InvalidParameterValue", "Policy %s does not exist or is not attachable.", a)
		}
	}
	if time.Duration(d)*time.Second > role.MaxSession {
		return nil, awserr.New("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	if p.Type == auth.AssumedRole && d > maxRoleChaining {
		return nil, awserr.New("ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	issued, err := s.iam.IssueSession(ctx, iam.SessionSpec{Kind: iam.AssumedRoleSession, AccountID: role.AccountID,
		RoleName: role.Name, RoleID: role.ID, SessionName: name, MFA: mfa || p.MFAAuthenticated, Duration: time.Duration(d) * time.Second,
		Policy: aws.ToString(in.Policy), PolicyARNs: arns, SourceIdentity: aws.ToString(in.SourceIdentity)})
	if err != nil {
		return nil, err
	}
	return &stsapi.AssumeRoleResponse{
		AssumedRoleUser: &stsapi.AssumedRoleUser{Arn: aws.String(issued.Key.Principal.ARN), AssumedRoleId: aws.String(issued.Key.Principal.UserID)},
		Credentials:     credentialsOut(issued.Key), PackedPolicySize: packed, SourceIdentity: in.SourceIdentity,
	}, nil
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
