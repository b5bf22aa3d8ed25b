package app

import (
	"context"
	"log/slog"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/ec2"
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
	resources  func(ctx context.Context, service, action string, in any) ([]string, error)
	iam        iamapi.Operations
	sts        stsapi.Operations
	// svc is the IAM service itself, for services that need more than the
	// API (ElastiCache calls svc.EnsureServiceLinkedRole).
	svc *iam.Service
}

// buildIdentity wires IAM and STS: one iam.Service resolves every key (root
// keys through accounts, IAM users' keys, STS sessions) and authorizes every
// request of every service. The resources of each operation are named by
// the service that will act on them, the way it resolves its input: EC2
// through its model (group names, Elastic IPs, associations), ElastiCache,
// IAM and STS through IAM's table of input members.
func buildIdentity(_ context.Context, st store.Store, accounts *account.Accounts, ec2Svc *ec2.Service, log *slog.Logger) (*identity, error) {
	svc, err := iam.New(iam.Config{Store: st, Accounts: accounts, Logger: log})
	if err != nil {
		return nil, err
	}
	return &identity{
		keys:       svc,
		authorizer: svc,
		resources: func(ctx context.Context, service, action string, in any) ([]string, error) {
			if service == "ec2" {
				return ec2Svc.ResourceARNs(ctx, in)
			}
			return svc.Resources(ctx, service, action, in)
		},
		iam: svc,
		sts: sts.New(sts.WithIAM(svc)),
		svc: svc,
	}, nil
}
