package app

import (
	"context"
	"log/slog"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
	"github.com/cachalot-dev/cachalot/internal/sts"
)

// identity is who may call and what they may do: key resolution for SigV4,
// authorization, the resources an operation acts on, and the IAM and STS
// services.
type identity struct {
	keys       auth.KeyResolver
	authorizer auth.Authorizer
	resources  func(ctx context.Context, service, action string, in any) []string
	iam        iamapi.Operations
	sts        stsapi.Operations
}

func buildIdentity(_ context.Context, _ store.Store, accounts *account.Accounts, _ *slog.Logger) (*identity, error) {
	return &identity{
		keys:       accounts,
		authorizer: rootOnly{},
		iam:        iamapi.Unimplemented{},
		sts:        sts.New(),
	}, nil
}

// rootOnly allows an account's root user everything in its account.
type rootOnly struct{}

func (rootOnly) Authorize(_ context.Context, r auth.Request) error {
	if r.Principal.Type == auth.Root {
		return nil
	}
	if r.Service == "ec2" {
		return awserr.WithStatus(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	return awserr.WithStatus(403, "AccessDenied", "User: %s is not authorized to perform: %s:%s", r.Principal.ARN, r.Service, r.Action)
}
