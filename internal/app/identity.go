package app

import (
	"context"
	"log/slog"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/iam"
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
	// svc is the IAM service itself, for services that need more than the
	// API (ElastiCache calls svc.EnsureServiceLinkedRole).
	svc *iam.Service
}

// buildIdentity wires IAM and STS: one iam.Service resolves every key (root
// keys through accounts, IAM users' keys, STS sessions), authorizes every
// request of every service and names the resources of each operation.
func buildIdentity(_ context.Context, st store.Store, accounts *account.Accounts, log *slog.Logger) (*identity, error) {
	svc, err := iam.New(iam.Config{Store: st, Accounts: accounts, Logger: log})
	if err != nil {
		return nil, err
	}
	return &identity{
		keys:       svc,
		authorizer: svc,
		resources:  svc.Resources,
		iam:        svc,
		sts:        sts.New(sts.WithIAM(svc)),
		svc:        svc,
	}, nil
}
