package app

import (
	"context"
	"errors"
	"time"

	"github.com/cachalot-dev/cachalot/internal/iam"
	"github.com/cachalot-dev/cachalot/internal/imds"
)

// Instance profiles and the instance metadata service, wired over IAM.

// instanceProfiles resolves the profiles EC2 requests name (ec2.Config.Profiles).
// iam is set once IAM is built, before any request is served.
type instanceProfiles struct{ iam *iam.Service }

// FindInstanceProfile finds the profile and requires the caller to be
// allowed to pass its role to EC2 (iam:PassRole).
func (p *instanceProfiles) FindInstanceProfile(ctx context.Context, account, arn, name string) (string, string, bool, error) {
	ref, ok, err := p.iam.FindInstanceProfile(ctx, account, arn, name)
	if err != nil || !ok {
		return "", "", ok, err
	}
	if err := p.iam.AuthorizePassRole(ctx, account, ref); err != nil {
		return "", "", false, err
	}
	return ref.ARN, ref.ID, true, nil
}

// instanceRoles is imds.Roles over IAM.
type instanceRoles struct{ iam *iam.Service }

func (r instanceRoles) ProfileRole(ctx context.Context, account, profile, id string) (string, bool, error) {
	return r.iam.InstanceProfileRole(ctx, account, profile, id)
}

func (r instanceRoles) RoleCredentials(ctx context.Context, account, role, instance string, d time.Duration) (imds.Credentials, error) {
	is, err := r.iam.InstanceRoleCredentials(ctx, account, role, instance, d)
	if errors.Is(err, iam.ErrEC2CannotAssume) {
		return imds.Credentials{}, imds.ErrCannotAssume
	}
	if err != nil {
		return imds.Credentials{}, err
	}
	k := is.Key
	return imds.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Token: k.SessionToken, Expires: k.Expires}, nil
}
