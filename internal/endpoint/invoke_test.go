package endpoint_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
)

// onlyAlice allows alice and refuses everyone else, recording the
// requests it was asked about.
type onlyAlice struct{ asked *[]auth.Request }

func (a onlyAlice) Authorize(_ context.Context, r auth.Request) error {
	*a.asked = append(*a.asked, r)
	if r.Principal.Name != "alice" {
		return awserr.WithStatus(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	return nil
}

// TestInvoke: an in-process call (the web console's) goes through the
// same decoding, authorization and dry-run answer as a signed request,
// as the principal given, in the region given.
func TestInvoke(t *testing.T) {
	var asked []auth.Request
	var got *ec2api.DescribeVpcsRequest
	h := endpoint.New(endpoint.Config{Keys: oneKey{}, Authorizer: onlyAlice{&asked}, Services: []endpoint.Binding{
		{Service: ec2api.Metadata, Operations: map[string]awsproto.Operation{"DescribeVpcs": {
			Name:     "DescribeVpcs",
			NewInput: func() any { return new(ec2api.DescribeVpcsRequest) },
			Call: func(ctx context.Context, in any) (any, error) {
				got = in.(*ec2api.DescribeVpcsRequest)
				if p, _ := auth.PrincipalFrom(ctx); p.Name != "alice" || auth.ScopeFrom(ctx).Region != "eu-west-1" {
					t.Errorf("operation runs as %+v in %+v, want alice in eu-west-1", p, auth.ScopeFrom(ctx))
				}
				return &ec2api.DescribeVpcsResult{}, nil
			},
		}}},
	}})
	alice := auth.Principal{Type: auth.User, Name: "alice", AccountID: "000000000000"}
	bob := auth.Principal{Type: auth.User, Name: "bob", AccountID: "000000000000"}
	ctx := context.Background()
	params := url.Values{"Action": {"DescribeVpcs"}, "VpcId.1": {"vpc-1"}}

	out, err := h.Invoke(ctx, alice, "eu-west-1", "ec2", params, "127.0.0.1", false)
	if err != nil || out == nil || got == nil || len(got.VpcIds) != 1 || got.VpcIds[0] != "vpc-1" {
		t.Fatalf("Invoke as alice = %v, %v (input %+v); want the decoded input and a result", out, err, got)
	}
	if len(asked) != 1 || asked[0].Service != "ec2" || asked[0].Action != "DescribeVpcs" || asked[0].Region != "eu-west-1" || asked[0].SourceIP != "127.0.0.1" {
		t.Errorf("authorizer asked %+v", asked)
	}
	got = nil
	if _, err := h.Invoke(ctx, bob, "eu-west-1", "ec2", params, "127.0.0.1", false); !awserr.HasCode(err, "UnauthorizedOperation") || got != nil {
		t.Errorf("Invoke as bob = %v (operation called: %v), want UnauthorizedOperation and no call", err, got != nil)
	}
	dry := url.Values{"Action": {"DescribeVpcs"}, "DryRun": {"true"}}
	if _, err := h.Invoke(ctx, alice, "eu-west-1", "ec2", dry, "", false); !awserr.HasCode(err, "DryRunOperation") {
		t.Errorf("Invoke with DryRun = %v, want DryRunOperation", err)
	}
	if _, err := h.Invoke(ctx, alice, "xx-nowhere-1", "ec2", params, "", false); !awserr.HasCode(err, "AuthFailure") {
		t.Errorf("Invoke in an unknown region = %v, want AuthFailure", err)
	}
	if _, err := h.Invoke(ctx, alice, "eu-west-1", "ec2", url.Values{"Action": {"RunInstances"}}, "", false); !awserr.HasCode(err, "InvalidAction") {
		t.Errorf("Invoke of an unbound action = %v, want InvalidAction", err)
	}
}
