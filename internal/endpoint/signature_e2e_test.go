package endpoint_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
)

// The regression tests of issue 21's signature bypasses, against the real
// HTTP endpoint: whatever reaches an operation is exactly what was signed,
// for the service it was signed for.

func loopback(c *app.Config) { c.Network = app.NetworkLoopback }

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// answer is an HTTP answer and the AWS error in it, if any.
type answer struct {
	status    int
	code, msg string
}

func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	a, err := sdktest.Send(req)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: a.Status, code: a.Code, msg: a.Msg}
}

// signed builds a POST of body to env signed by the root user for service
// the way aws-sdk-go-v2 signs, with payloadHash as the signed payload hash;
// headers are set before signing (so they are signed).
func signed(t *testing.T, env *apptest.Env, service, body, payloadHash string, headers map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	creds := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, service, apptest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// swap replaces the body of a signed request, keeping its signature.
func swap(t *testing.T, req *http.Request, body string) *http.Request {
	t.Helper()
	if int64(len(body)) != req.ContentLength {
		t.Fatalf("swapped body has %d bytes, the signed one %d (Content-Length is signed)", len(body), req.ContentLength)
	}
	req.Body = io.NopCloser(strings.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	return req
}

func groupExists(t *testing.T, env *apptest.Env, name string) bool {
	t.Helper()
	out, err := ec2.NewFromConfig(env.Config()).DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range out.SecurityGroups {
		if aws.ToString(g.GroupName) == name {
			return true
		}
	}
	return false
}

// A signed DescribeSecurityGroups whose body is swapped for a
// CreateSecurityGroup must not be executed, however the request vouches
// for the body's hash.
func TestSwappedBodyIsRefused(t *testing.T) {
	env := apptest.Start(t, loopback)
	const orig = "Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=group-name&Filter.1.Value.1=default"
	// evil(n) creates the group evil<n>, with the body length of orig.
	evil := func(n int) string {
		b := fmt.Sprintf("Action=CreateSecurityGroup&Version=2016-11-15&GroupName=evil%d&GroupDescription=", n)
		return b + strings.Repeat("x", len(orig)-len(b))
	}
	const want = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	tests := []struct {
		name     string
		headers  map[string]string // signed
		payload  string            // the signed payload hash
		unsigned string            // X-Amz-Content-Sha256 added after signing
	}{
		{"unsigned header naming the signed hash", nil, sha(orig), sha(orig)},
		{"no header", nil, sha(orig), ""},
		{"signed header naming the signed hash", map[string]string{"X-Amz-Content-Sha256": sha(orig)}, sha(orig), ""},
		{"signed UNSIGNED-PAYLOAD", map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"}, "UNSIGNED-PAYLOAD", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := swap(t, signed(t, env, "ec2", orig, tt.payload, tt.headers), evil(i))
			if tt.unsigned != "" {
				req.Header.Set("X-Amz-Content-Sha256", tt.unsigned)
			}
			got := send(t, req)
			if got != (answer{http.StatusForbidden, "SignatureDoesNotMatch", want}) {
				t.Errorf("swapped body: %+v, want 403 SignatureDoesNotMatch %q", got, want)
			}
			if groupExists(t, env, fmt.Sprintf("evil%d", i)) {
				t.Fatal("the swapped CreateSecurityGroup was executed")
			}
		})
	}
	// UNSIGNED-PAYLOAD is refused even with the body it was sent with, as
	// AWS's services other than S3 refuse it.
	req := signed(t, env, "ec2", orig, "UNSIGNED-PAYLOAD", map[string]string{"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"})
	if got := send(t, req); got.code != "SignatureDoesNotMatch" {
		t.Errorf("UNSIGNED-PAYLOAD: %+v, want SignatureDoesNotMatch", got)
	}
	// The same request, intact and signed as the SDK signs it, works.
	if got := send(t, signed(t, env, "ec2", orig, sha(orig), nil)); got.status != http.StatusOK {
		t.Errorf("intact request: %+v, want 200", got)
	}
}

// A request signed for another service is not executed by ours, whatever
// its Version names: the signing key was derived for the other service.
func TestCredentialScopedToAnotherService(t *testing.T) {
	env := apptest.Start(t, loopback)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	tests := []struct {
		name, scope, body string
		want              answer
	}{
		{"ec2 action signed for s3", "s3", form("Action", "CreateSecurityGroup", "Version", "2016-11-15", "GroupName", "evil", "GroupDescription", "x"),
			answer{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'ec2'. "}},
		{"iam action signed for s3", "s3", form("Action", "CreateUser", "Version", "2010-05-08", "UserName", "evil"),
			answer{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'iam'. "}},
		{"elasticache action signed for sqs", "sqs", form("Action", "CreateCacheParameterGroup", "Version", "2015-02-02",
			"CacheParameterGroupName", "evil", "CacheParameterGroupFamily", "redis7", "Description", "x"),
			answer{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'elasticache'. "}},
		{"no service of ours", "s3", form("Action", "ListBuckets"),
			answer{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid service: 's3'."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := send(t, signed(t, env, tt.scope, tt.body, sha(tt.body), nil)); got != tt.want {
				t.Errorf("%s signed for %s: %+v, want %+v", tt.body, tt.scope, got, tt.want)
			}
		})
	}
	if groupExists(t, env, "evil") {
		t.Error("the CreateSecurityGroup signed for s3 was executed")
	}
	// Signed for its own service, the same request is executed.
	body := form("Action", "CreateSecurityGroup", "Version", "2016-11-15", "GroupName", "mine", "GroupDescription", "x")
	if got := send(t, signed(t, env, "ec2", body, sha(body), nil)); got.status != http.StatusOK || !groupExists(t, env, "mine") {
		t.Errorf("CreateSecurityGroup signed for ec2: %+v, want 200 and a group", got)
	}
}

// An SDK configured for a region AWS does not have is refused as AWS
// refuses it, and does nothing in that region's name (on EC2, the first
// call in a region creates its default VPC); a served region works.
func TestUnknownRegionRefused(t *testing.T) {
	env := apptest.Start(t, loopback, func(c *app.Config) { c.Regions = []string{"us-east-1", "eu-west-1"} })
	ctx := context.Background()
	for _, region := range []string{"xx-fake-1", "us-west-2"} {
		cfg := env.Config()
		cfg.Region = region
		_, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		if code := errorCode(err); code != "AuthFailure" {
			t.Errorf("ec2 DescribeVpcs in %s: %v, want AuthFailure", region, err)
		}
		_, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if code := errorCode(err); code != "SignatureDoesNotMatch" || !strings.Contains(err.Error(), "Credential should be scoped to a valid region, not '"+region+"'") {
			t.Errorf("sts GetCallerIdentity in %s: %v, want SignatureDoesNotMatch", region, err)
		}
	}
	cfg := env.Config()
	cfg.Region = "eu-west-1"
	out, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(out.Vpcs) != 1 {
		t.Fatalf("DescribeVpcs in eu-west-1: %v, %v; want its default VPC", out, err)
	}
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
