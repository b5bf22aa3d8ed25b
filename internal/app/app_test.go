package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an API error", err)
	}
	return ae.ErrorCode()
}

func TestSDKRootCalls(t *testing.T) {
	env := apptest.Start(t)
	ctx := context.Background()

	id, err := sts.NewFromConfig(env.Config()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity = %v", err)
	}
	if aws.ToString(id.Account) != "000000000000" || aws.ToString(id.Arn) != "arn:aws:iam::000000000000:root" || aws.ToString(id.UserId) != "000000000000" {
		t.Errorf("GetCallerIdentity = %s %s %s, want the root of 000000000000", aws.ToString(id.Account), aws.ToString(id.Arn), aws.ToString(id.UserId))
	}

	cc, err := elasticache.NewFromConfig(env.Config()).DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	if err != nil || len(cc.CacheClusters) != 0 {
		t.Errorf("DescribeCacheClusters = %v, %v; want empty", cc, err)
	}
}

func TestNotImplementedIsClear(t *testing.T) {
	env := apptest.Start(t)
	_, err := iam.NewFromConfig(env.Config()).GetCredentialReport(context.Background(), &iam.GetCredentialReportInput{})
	if code := apiCode(t, err); code != "NotImplemented" {
		t.Errorf("code = %s, want NotImplemented", code)
	}
	if !strings.Contains(err.Error(), "IAM.GetCredentialReport is not implemented") {
		t.Errorf("message = %v", err)
	}
}

func TestAuthenticationErrors(t *testing.T) {
	env := apptest.Start(t)
	ctx := context.Background()
	wrongSecret := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: "wrong"}
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}
	withToken := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey, SessionToken: "bogus"}

	tests := []struct {
		name  string
		creds aws.Credentials
		call  func(aws.Config) error
		want  string
	}{
		{"sts wrong secret", wrongSecret, stsCall, "SignatureDoesNotMatch"},
		{"sts unknown key", unknown, stsCall, "InvalidClientTokenId"},
		{"sts token on long-term key", withToken, stsCall, "InvalidClientTokenId"},
		{"elasticache unknown key", unknown, ecCall, "InvalidClientTokenId"},
		{"ec2 unknown key", unknown, ec2Call, "AuthFailure"},
		{"ec2 wrong secret", wrongSecret, ec2Call, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(env.Config(tt.creds))
			if code := apiCode(t, err); code != tt.want {
				t.Errorf("code = %s, want %s (%v)", code, tt.want, err)
			}
		})
	}
	_ = ctx
}

func stsCall(c aws.Config) error {
	_, err := sts.NewFromConfig(c).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	return err
}

func ecCall(c aws.Config) error {
	_, err := elasticache.NewFromConfig(c).DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{})
	return err
}

func ec2Call(c aws.Config) error {
	_, err := ec2.NewFromConfig(c).DescribeAccountAttributes(context.Background(), &ec2.DescribeAccountAttributesInput{})
	return err
}

// raw sends a form body signed by the SDK's signer at the given time.
func raw(t *testing.T, env *apptest.Env, service, body string, at time.Time, sign bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", env.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if sign {
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, apptest.Region, at); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWireErrors(t *testing.T) {
	env := apptest.Start(t)
	now := time.Now()
	tests := []struct {
		name, service, body string
		at                  time.Time
		sign                bool
		status              int
		want                []string // substrings of the body
	}{
		{"unsigned", "sts", "Action=GetCallerIdentity&Version=2011-06-15", now, false, 403,
			[]string{"<ErrorResponse", "<Type>Sender</Type>", "<Code>MissingAuthenticationToken</Code>", "<RequestId>"}},
		{"unsigned ec2", "ec2", "Action=DescribeVpcs&Version=2016-11-15", now, false, 401,
			[]string{"<Response><Errors><Error><Code>AuthFailure</Code>", "<RequestID>"}},
		{"skewed sts", "sts", "Action=GetCallerIdentity&Version=2011-06-15", now.Add(-20 * time.Minute), true, 403,
			[]string{"<Code>SignatureDoesNotMatch</Code>", "Signature expired"}},
		{"skewed ec2", "ec2", "Action=DescribeVpcs&Version=2016-11-15", now.Add(-20 * time.Minute), true, 400,
			[]string{"<Code>RequestExpired</Code>"}},
		{"future ec2 within 15m", "ec2", "Action=DescribeRegions&Version=2016-11-15", now.Add(10 * time.Minute), true, 0, nil},
		{"unknown action", "elasticache", "Action=MakeCoffee&Version=2015-02-02", now, true, 400,
			[]string{"<Code>InvalidAction</Code>", "MakeCoffee"}},
		{"missing action", "elasticache", "Version=2015-02-02", now, true, 400, []string{"<Code>MissingAction</Code>"}},
		{"bad integer", "elasticache", "Action=DescribeCacheClusters&Version=2015-02-02&MaxRecords=many", now, true, 400,
			[]string{"<Code>InvalidParameterValue</Code>", "MaxRecords"}},
		{"missing required", "elasticache", "Action=DeleteCacheCluster&Version=2015-02-02", now, true, 400,
			[]string{"<Code>MissingParameter</Code>", "CacheClusterId"}},
		{"iam missing required", "iam", "Action=GetRole&Version=2010-05-08", now, true, 400,
			[]string{"<Code>ValidationError</Code>", "'roleName'"}},
		{"ec2 unknown parameter", "ec2", "Action=DescribeVpcs&Version=2016-11-15&Bogus=1", now, true, 400,
			[]string{"<Code>UnknownParameter</Code>", "Bogus"}},
		{"bad form", "sts", "Action=GetCallerIdentity&Version=2011-06-15&%zz", now, true, 400,
			[]string{"<Code>MalformedQueryString</Code>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := raw(t, env, tt.service, tt.body, tt.at, tt.sign)
			if tt.status == 0 {
				if strings.Contains(body, "RequestExpired") || strings.Contains(body, "AuthFailure") {
					t.Errorf("within skew: body = %s", body)
				}
				return
			}
			if status != tt.status {
				t.Errorf("status = %d, want %d; body %s", status, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body = %s, want it to contain %q", body, w)
				}
			}
		})
	}
}

func TestPresignedGetCallerIdentity(t *testing.T) {
	env := apptest.Start(t)
	ps := sts.NewPresignClient(sts.NewFromConfig(env.Config()))
	req, err := ps.PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	hreq, _ := http.NewRequest(req.Method, req.URL, nil)
	for k, v := range req.SignedHeader {
		hreq.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte("<Arn>arn:aws:iam::000000000000:root</Arn>")) {
		t.Errorf("presigned GetCallerIdentity = %d %s", resp.StatusCode, b)
	}
}

func TestCLI(t *testing.T) {
	env := apptest.Start(t)
	var id struct{ Account, Arn, UserId string }
	env.CLIJSON(t, &id, "sts", "get-caller-identity")
	if id.Account != "000000000000" || id.Arn != "arn:aws:iam::000000000000:root" {
		t.Errorf("get-caller-identity = %+v", id)
	}
	var cc struct{ CacheClusters []any }
	env.CLIJSON(t, &cc, "elasticache", "describe-cache-clusters")
	if cc.CacheClusters == nil || len(cc.CacheClusters) != 0 {
		t.Errorf("describe-cache-clusters = %+v, want an empty list", cc)
	}
	_, stderr, code := env.CLI(t, &account.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: "nope"}, "sts", "get-caller-identity")
	if code == 0 || !strings.Contains(stderr, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: exit %d, stderr %q; want SignatureDoesNotMatch", code, stderr)
	}
}

func TestRestartKeepsCredentialsAndNeverLogsSecrets(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { app.Teardown(context.Background(), dir, slog.New(slog.DiscardHandler)) })
	var logs apptest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	start := func() *app.App {
		a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: logger})
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := start()
	first := a.RootCredentials()
	env := &apptest.Env{App: a, URL: a.URL(), Root: first}
	if err := stsCall(env.Config()); err != nil {
		t.Fatal(err)
	}
	stsCall(env.Config(aws.Credentials{AccessKeyID: first.AccessKeyID, SecretAccessKey: "bad"}))
	a.Close()

	fi, err := os.Stat(filepath.Join(dir, app.CredentialsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v, mode %v; want 0600", err, fi.Mode())
	}
	// The IAM authentication secret: 0600, kept across restarts, never logged.
	secretPath := filepath.Join(dir, app.IAMSecretFile)
	secret, err := os.ReadFile(secretPath)
	if fi, serr := os.Stat(secretPath); err != nil || serr != nil || fi.Mode().Perm() != 0o600 || len(secret) != 32 {
		t.Errorf("IAM secret file: %v, %v, %d bytes; want 32 bytes, mode 0600", err, serr, len(secret))
	}
	b := start()
	defer b.Close()
	if again, _ := os.ReadFile(secretPath); !bytes.Equal(again, secret) {
		t.Errorf("after restart the IAM secret changed")
	}
	if strings.Contains(logs.String(), hex.EncodeToString(secret)) || strings.Contains(logs.String(), base64.StdEncoding.EncodeToString(secret)) {
		t.Errorf("logs contain the IAM secret")
	}
	if b.RootCredentials() != first {
		t.Errorf("after restart credentials changed")
	}
	if err := stsCall((&apptest.Env{URL: b.URL(), Root: first}).Config()); err != nil {
		t.Errorf("after restart: %v", err)
	}
	if strings.Contains(logs.String(), first.SecretAccessKey) {
		t.Errorf("logs contain the secret access key")
	}
	if !strings.Contains(logs.String(), "request") {
		t.Errorf("debug logs have no request lines: %s", logs.String())
	}
}

func TestCredentialsFromEnvironmentConfig(t *testing.T) {
	creds := &account.Credentials{AccessKeyID: "AKIAFIXEDFIXEDFIXED1", SecretAccessKey: "fixed-secret"}
	env := apptest.Start(t, func(c *app.Config) { c.RootCredentials = creds; c.AccountID = "123456789012" })
	id, err := sts.NewFromConfig(env.Config(aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey})).
		GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != "123456789012" {
		t.Errorf("GetCallerIdentity = %v, %v; want account 123456789012", id, err)
	}
}
