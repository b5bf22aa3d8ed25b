// Package sts owns the AWS Security Token Service API: who the caller is and,
// with iam, temporary credentials. Imported by the wiring package only.
package sts

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Service implements stsapi.Operations.
type Service struct {
	stsapi.Unimplemented
}

// New returns the STS service.
func New() *Service { return &Service{} }

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
