package iamauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cachalot-dev/cachalot/internal/auth"
)

const (
	acct   = "123456789012"
	region = "us-east-1"
)

type keys map[string]auth.Key

func (k keys) ResolveKey(_ context.Context, id string) (auth.Key, error) {
	if key, ok := k[id]; ok {
		return key, nil
	}
	return auth.Key{}, auth.ErrUnknownKey
}

// allow allows Connect to principals by name on the resources listed.
type allow struct {
	who  string
	res  []string
	seen []auth.Request
}

func (a *allow) Authorize(_ context.Context, r auth.Request) error {
	a.seen = append(a.seen, r)
	if r.Principal.Name != a.who || r.Service+":"+r.Action != "elasticache:Connect" {
		return errors.New("AccessDenied")
	}
	for _, res := range r.Resources {
		if !slices.Contains(a.res, res) {
			return errors.New("AccessDenied")
		}
	}
	return nil
}

var emptyHash = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// token generates a token as AWS's examples do with aws-sdk-go-v2.
func token(t *testing.T, cred aws.Credentials, cache, user string, serverless bool, at time.Time, expires int, svc, reg string) string {
	t.Helper()
	q := url.Values{"Action": {"connect"}, "User": {user}}
	if serverless {
		q.Set("ResourceType", "ServerlessCache")
	}
	q.Set("X-Amz-Expires", strconv.Itoa(expires))
	req, err := http.NewRequest(http.MethodGet, "http://"+cache+"/?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), cred, req, emptyHash, svc, reg, at)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u, "http://")
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	alice := aws.Credentials{AccessKeyID: "AKIAALICE", SecretAccessKey: "alice-secret"}
	bob := aws.Credentials{AccessKeyID: "AKIABOB", SecretAccessKey: "bob-secret"}
	sess := aws.Credentials{AccessKeyID: "ASIASESS", SecretAccessKey: "sess-secret", SessionToken: "tok"}
	other := aws.Credentials{AccessKeyID: "AKIAOTHER", SecretAccessKey: "other-secret"}
	ks := keys{
		alice.AccessKeyID: {SecretAccessKey: alice.SecretAccessKey, Principal: auth.Principal{AccountID: acct, Name: "alice", ARN: "arn:aws:iam::" + acct + ":user/alice"}},
		bob.AccessKeyID:   {SecretAccessKey: bob.SecretAccessKey, Principal: auth.Principal{AccountID: acct, Name: "bob"}},
		sess.AccessKeyID: {SecretAccessKey: sess.SecretAccessKey, SessionToken: "tok", Expires: now.Add(time.Hour),
			Principal: auth.Principal{AccountID: acct, Name: "alice"}},
		other.AccessKeyID: {SecretAccessKey: other.SecretAccessKey, Principal: auth.Principal{AccountID: "210987654321", Name: "alice"}},
	}
	az := &allow{who: "alice", res: []string{
		"arn:aws:elasticache:us-east-1:" + acct + ":replicationgroup:my-rg",
		"arn:aws:elasticache:us-east-1:" + acct + ":serverlesscache:my-sl",
		"arn:aws:elasticache:us-east-1:" + acct + ":user:iam-user",
	}}
	v := &Verifier{Keys: ks, Authorizer: az, Now: func() time.Time { return now }}
	rg := Check{Account: acct, Region: region, Cache: "my-rg", User: "iam-user"}
	sl := Check{Account: acct, Region: region, Cache: "my-sl", User: "iam-user", Serverless: true}
	good := token(t, alice, "my-rg", "iam-user", false, now.Add(-time.Minute), 900, "elasticache", region)
	forged := []byte(good)
	forged[len(forged)-1] ^= 1
	if forged[len(forged)-1] > 'f' || forged[len(forged)-1] < '0' {
		forged[len(forged)-1] = '0'
	}
	for _, tc := range []struct {
		name  string
		check Check
		token string
		ok    bool
	}{
		{"valid", rg, good, true},
		{"user-case-insensitive", Check{Account: acct, Region: region, Cache: "my-rg", User: "IAM-User"}, good, true},
		{"session", rg, token(t, sess, "my-rg", "iam-user", false, now, 900, "elasticache", region), true},
		{"serverless", sl, token(t, alice, "my-sl", "iam-user", true, now, 900, "elasticache", region), true},
		{"serverless-without-resource-type", sl, token(t, alice, "my-sl", "iam-user", false, now, 900, "elasticache", region), false},
		{"resource-type-on-group", rg, token(t, alice, "my-rg", "iam-user", true, now, 900, "elasticache", region), false},
		{"expired", rg, token(t, alice, "my-rg", "iam-user", false, now.Add(-16*time.Minute), 900, "elasticache", region), false},
		{"expiry-too-long", rg, token(t, alice, "my-rg", "iam-user", false, now, 901, "elasticache", region), false},
		{"future", rg, token(t, alice, "my-rg", "iam-user", false, now.Add(10*time.Minute), 900, "elasticache", region), false},
		{"other-user", rg, token(t, alice, "my-rg", "someone", false, now, 900, "elasticache", region), false},
		{"other-cache", rg, token(t, alice, "other-rg", "iam-user", false, now, 900, "elasticache", region), false},
		{"other-service", rg, token(t, alice, "my-rg", "iam-user", false, now, 900, "s3", region), false},
		{"other-region", rg, token(t, alice, "my-rg", "iam-user", false, now, 900, "elasticache", "eu-west-1"), false},
		{"forged", rg, string(forged), false},
		{"wrong-secret", rg, token(t, aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: "nope"}, "my-rg", "iam-user", false, now, 900, "elasticache", region), false},
		{"unknown-key", rg, token(t, aws.Credentials{AccessKeyID: "AKIANOBODY", SecretAccessKey: "x"}, "my-rg", "iam-user", false, now, 900, "elasticache", region), false},
		{"session-without-token", rg, token(t, aws.Credentials{AccessKeyID: sess.AccessKeyID, SecretAccessKey: sess.SecretAccessKey}, "my-rg", "iam-user", false, now, 900, "elasticache", region), false},
		{"denied", rg, token(t, bob, "my-rg", "iam-user", false, now, 900, "elasticache", region), false},
		{"other-account", rg, token(t, other, "my-rg", "iam-user", false, now, 900, "elasticache", region), false},
		{"not-a-token", rg, "a-plain-password-0123", false},
		{"empty", rg, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Verify(context.Background(), tc.check, tc.token)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify = %v, not ErrInvalid", err)
			}
		})
	}
	// The authorization asked is elasticache:Connect on the cache and the user.
	last := az.seen[0]
	if last.Action != "Connect" || len(last.Resources) != 2 || !strings.HasSuffix(last.Resources[0], ":replicationgroup:my-rg") || !strings.HasSuffix(last.Resources[1], ":user:iam-user") {
		t.Errorf("authorization asked = %+v", last)
	}
}

// TestVerifyUnsignedPayload: botocore's presigner signs UNSIGNED-PAYLOAD.
func TestVerifyUnsignedPayload(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	alice := aws.Credentials{AccessKeyID: "AKIAALICE", SecretAccessKey: "alice-secret"}
	ks := keys{alice.AccessKeyID: {SecretAccessKey: alice.SecretAccessKey, Principal: auth.Principal{AccountID: acct, Name: "alice"}}}
	v := &Verifier{Keys: ks, Authorizer: &allow{who: "alice", res: []string{
		"arn:aws:elasticache:us-east-1:" + acct + ":replicationgroup:my-rg", "arn:aws:elasticache:us-east-1:" + acct + ":user:u"}},
		Now: func() time.Time { return now }}
	req, _ := http.NewRequest(http.MethodGet, "http://my-rg/?Action=connect&User=u&X-Amz-Expires=900", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), alice, req, "UNSIGNED-PAYLOAD", "elasticache", region, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), Check{Account: acct, Region: region, Cache: "my-rg", User: "u"}, strings.TrimPrefix(u, "http://")); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyBotocore: a token generated by botocore's SigV4QueryAuth (the
// AWS CLI's and boto3's presigner, as the README shows) verifies.
func TestVerifyBotocore(t *testing.T) {
	const script = `
from botocore.credentials import Credentials
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
req = AWSRequest(method="GET", url="http://my-rg/?Action=connect&User=u")
SigV4QueryAuth(Credentials("AKIAALICE", "alice-secret"), "elasticache", "us-east-1", expires=900).add_auth(req)
print(req.url[len("http://"):])
`
	out, err := exec.Command("python3", "-c", script).Output()
	if err != nil {
		t.Skipf("python3 with botocore: %v", err)
	}
	ks := keys{"AKIAALICE": {SecretAccessKey: "alice-secret", Principal: auth.Principal{AccountID: acct, Name: "alice"}}}
	v := &Verifier{Keys: ks, Authorizer: &allow{who: "alice", res: []string{
		"arn:aws:elasticache:us-east-1:" + acct + ":replicationgroup:my-rg", "arn:aws:elasticache:us-east-1:" + acct + ":user:u"}}}
	if err := v.Verify(context.Background(), Check{Account: acct, Region: region, Cache: "my-rg", User: "u"}, strings.TrimSpace(string(out))); err != nil {
		t.Fatalf("botocore token: %v", err)
	}
}
