package sts

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam"
	"github.com/cachalot-dev/cachalot/internal/store"
)

const acct = "123456789012"

func setup(t *testing.T) (*Service, context.Context, time.Time) {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accts := account.New(st)
	creds, _ := account.NewCredentials()
	if _, err := accts.Ensure(context.Background(), acct, creds); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	svc, err := iam.New(iam.Config{Store: st, Accounts: accts, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := auth.WithPrincipal(context.Background(), account.RootPrincipal(acct, creds.AccessKeyID))
	ctx = auth.WithScope(ctx, auth.Scope{AccountID: acct, Region: "us-east-1"})
	if _, err := svc.CreateRole(ctx, &iamapi.CreateRoleRequest{RoleName: aws.String("r"), MaxSessionDuration: aws.Int32(7200),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	return New(WithIAM(svc), WithClock(clock)), ctx, now
}

func errCode(err error) string {
	if e, ok := awserr.As(err); ok {
		return e.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func TestAssumeRoleValidation(t *testing.T) {
	s, ctx, now := setup(t)
	role := aws.String("arn:aws:iam::" + acct + ":role/r")
	tests := []struct {
		name string
		in   stsapi.AssumeRoleRequest
		want string
		exp  time.Duration
	}{
		{"ok default hour", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok")}, "", time.Hour},
		{"ok max session", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(7200)}, "", 2 * time.Hour},
		{"over max session", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(7201)}, "ValidationError", 0},
		{"over 12h", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok"), DurationSeconds: aws.Int32(43201)}, "ValidationError", 0},
		{"short name", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("a")}, "ValidationError", 0},
		{"long name", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("a234567890123456789012345678901234567890123456789012345678901234x")}, "ValidationError", 0},
		{"bad external id", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok"), ExternalId: aws.String("a")}, "ValidationError", 0},
		{"bad arn", stsapi.AssumeRoleRequest{RoleArn: aws.String("arn:aws:iam::" + acct + ":user/x"), RoleSessionName: aws.String("ok")}, "ValidationError", 0},
		{"session policy arn unknown", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok"), PolicyArns: []stsapi.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/Nope")}}}, "InvalidParameterValue", 0},
		{"session policy arn", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok"), PolicyArns: []stsapi.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}}}, "", time.Hour},
		{"mfa code without device", stsapi.AssumeRoleRequest{RoleArn: role, RoleSessionName: aws.String("ok"), SerialNumber: aws.String("arn:aws:iam::" + acct + ":mfa/none"), TokenCode: aws.String("123456")}, "AccessDenied", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.AssumeRole(ctx, &tt.in)
			if got := errCode(err); got != tt.want {
				t.Fatalf("AssumeRole = %q, want %q", got, tt.want)
			}
			if err == nil && !out.Credentials.Expiration.Equal(now.Add(tt.exp)) {
				t.Errorf("Expiration = %v, want now+%v", out.Credentials.Expiration, tt.exp)
			}
		})
	}
}

func TestGetSessionTokenDurations(t *testing.T) {
	s, ctx, now := setup(t)
	tests := []struct {
		name string
		d    *int32
		want string
		exp  time.Duration
	}{
		{"root default is one hour", nil, "", time.Hour},
		{"root capped", aws.Int32(129600), "", time.Hour},
		{"minimum", aws.Int32(900), "", 15 * time.Minute},
		{"too short", aws.Int32(899), "ValidationError", 0},
		{"too long", aws.Int32(129601), "ValidationError", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := s.GetSessionToken(ctx, &stsapi.GetSessionTokenRequest{DurationSeconds: tt.d})
			if got := errCode(err); got != tt.want {
				t.Fatalf("GetSessionToken = %q, want %q", got, tt.want)
			}
			if err == nil && !out.Credentials.Expiration.Equal(now.Add(tt.exp)) {
				t.Errorf("Expiration = %v, want now+%v", out.Credentials.Expiration, tt.exp)
			}
		})
	}
	// Role chaining is limited to one hour.
	out, err := s.AssumeRole(ctx, &stsapi.AssumeRoleRequest{RoleArn: aws.String("arn:aws:iam::" + acct + ":role/r"), RoleSessionName: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.iam.ResolveKey(context.Background(), *out.Credentials.AccessKeyId)
	if err != nil {
		t.Fatal(err)
	}
	chained := auth.WithPrincipal(ctx, k.Principal)
	if _, err := s.GetSessionToken(chained, &stsapi.GetSessionTokenRequest{}); errCode(err) != "AccessDenied" {
		t.Errorf("GetSessionToken from a role session = %v", err)
	}
}
