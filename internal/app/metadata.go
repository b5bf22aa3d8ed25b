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

func (p *instanceProfiles) FindInstanceProfile(ctx context.Context, account, arn, name string) (string, string, bool, error) {
	ref, ok, err := p.iam.FindInstanceProfile(ctx, account, arn, name)
	return ref.ARN, ref.ID, ok, err
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
