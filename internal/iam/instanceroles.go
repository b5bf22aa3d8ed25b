package iam

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Instance profiles as EC2 uses them: RunInstances and
// AssociateIamInstanceProfile name a profile (FindInstanceProfile), and the
// instance metadata service hands the instance temporary credentials of
// the profile's role (InstanceRoleCredentials), issued as AWS issues them:
// the role is assumed by the service principal ec2.amazonaws.com, which
// its trust policy must allow, with the instance id as the session name.

// EC2ServicePrincipal is the principal instance roles are assumed by.
const EC2ServicePrincipal = "ec2.amazonaws.com"

// ProfileRef is an instance profile as EC2 records it.
type ProfileRef struct {
	ARN, ID, Name string
}

// FindInstanceProfile returns the profile of account named by arn (its
// full ARN, path included) or by name; ok is false when there is none.
func (s *Service) FindInstanceProfile(ctx context.Context, account, arn, name string) (ref ProfileRef, ok bool, err error) {
	if arn != "" {
		a, err := policy.ParseARN(arn)
		if err != nil || a.Service != "iam" || a.AccountID != account {
			return ref, false, nil
		}
		typ, _, n := policy.IAMPathName(a)
		if typ != policy.IAMInstanceProfile || n == "" {
			return ref, false, nil
		}
		name = n
	}
	var p profileRec
	err = s.view(ctx, func(tx store.Tx) error { return get(tx, account, kindProfile, name, &p, noProfile(name)) })
	if awserr.HasCode(err, "NoSuchEntity") {
		return ref, false, nil
	}
	if err != nil {
		return ref, false, err
	}
	ref = ProfileRef{ARN: policy.IAMARN(account, policy.IAMInstanceProfile, p.Path, p.Name), ID: p.ID, Name: p.Name}
	if arn != "" && arn != ref.ARN {
		return ProfileRef{}, false, nil // another path: not this profile
	}
	return ref, true, nil
}

// InstanceProfileRole returns the name of the role of the profile with id
// in account ("" when it has none); ok is false when the profile is gone
// (deleted, or replaced by another of the same name).
func (s *Service) InstanceProfileRole(ctx context.Context, account, name, id string) (role string, ok bool, err error) {
	var p profileRec
	err = s.view(ctx, func(tx store.Tx) error { return get(tx, account, kindProfile, name, &p, noProfile(name)) })
	if awserr.HasCode(err, "NoSuchEntity") {
		return "", false, nil
	}
	if err != nil || p.ID != id {
		return "", false, err
	}
	if len(p.Roles) == 0 {
		return "", true, nil
	}
	return p.Roles[0], true, nil
}

// ErrEC2CannotAssume: the role's trust policy does not let
// ec2.amazonaws.com assume it.
var ErrEC2CannotAssume = errors.New("the role's trust policy does not allow ec2.amazonaws.com")

// InstanceRoleCredentials issues temporary credentials of role (in
// account) for an instance: an assumed-role session named after the
// instance, valid for d, with the role's permissions. It fails with
// ErrEC2CannotAssume when the trust policy does not allow EC2.
func (s *Service) InstanceRoleCredentials(ctx context.Context, account, role, instanceID string, d time.Duration) (*Issued, error) {
	var r *roleRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { r, err = s.getRole(tx, account, role); return }); err != nil {
		return nil, err
	}
	trust, err := policy.Parse(r.Trust, policy.KindTrust)
	if err != nil {
		return nil, fmt.Errorf("trust policy of %s: %w", role, err)
	}
	now := s.now()
	arn := roleARN(account, r)
	req := policy.Request{Action: "sts:AssumeRole", Resource: arn, Time: now,
		Caller: policy.Caller{Type: policy.PrincipalService, Service: EC2ServicePrincipal, ARN: EC2ServicePrincipal}}
	if d := policy.Evaluate(&req, policy.Set{Resource: &policy.Named{Name: arn, Policy: trust}}); !d.Allowed {
		return nil, ErrEC2CannotAssume
	}
	return s.IssueSession(ctx, SessionSpec{Kind: AssumedRoleSession, AccountID: account, RoleName: r.Name, RoleID: r.ID,
		SessionName: instanceID, Duration: d})
}

// AuthorizePassRole decides whether the caller of ctx may pass the role
// of the instance profile ref to EC2 (iam:PassRole, with
// iam:PassedToService ec2.amazonaws.com), as RunInstances,
// AssociateIamInstanceProfile and ReplaceIamInstanceProfileAssociation
// require on AWS. A profile without a role passes nothing. A denial is
// EC2's UnauthorizedOperation naming iam:PassRole and the role.
func (s *Service) AuthorizePassRole(ctx context.Context, account string, ref ProfileRef) error {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil // not a signed request (in-process callers)
	}
	role, found, err := s.InstanceProfileRole(ctx, account, ref.Name, ref.ID)
	if err != nil || !found || role == "" {
		return err
	}
	var r *roleRec
	if err := s.view(ctx, func(tx store.Tx) (err error) { r, err = s.getRole(tx, account, role); return }); err != nil {
		return err
	}
	err = s.Authorize(ctx, auth.Request{Principal: p, Service: "iam", Action: "PassRole", Resources: []string{roleARN(account, r)},
		Region: auth.ScopeFrom(ctx).Region, Time: s.now(), Context: map[string][]string{"iam:PassedToService": {EC2ServicePrincipal}}})
	if e, ok := awserr.As(err); ok && e.Code == "AccessDenied" {
		return awserr.WithStatus(403, "UnauthorizedOperation", "You are not authorized to perform this operation. %s", e.Message)
	}
	return err
}
