package iam_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// Authorization coverage (issue 21), over every implemented operation of
// every service, each called the ways the resource table above names its
// resources:
//   - a principal without policies is denied every operation but those
//     AWS lets anyone call (GetCallerIdentity, GetSessionToken);
//   - another account's root sees and changes nothing of the first
//     account: what the first account's Describe/List/Get calls return is
//     the same before and after, and no answer to the other account
//     carries an id of the first it was not given;
//   - an EC2 DryRun answers DryRunOperation to whoever may act and
//     UnauthorizedOperation to whoever may not, acting on nothing;
//   - no secret (secret access keys, session tokens, passwords, auth
//     tokens) appears in a log line or in an answer other than the one
//     issuing it.

// noResourceParams are parameters the operations without a case need to
// get past decoding and validation.
var noResourceParams = map[string]string{
	"ec2.CreateVpc":               "CidrBlock=10.7.0.0/16",
	"iam.CreateAccountAlias":      "AccountAlias=some-alias",
	"iam.DeleteAccountAlias":      "AccountAlias=some-alias",
	"sts.GetAccessKeyInfo":        "AccessKeyId=${vkey}",
	"elasticache.DescribeEvents":  "Duration=60",
	"ec2.CreateLaunchTemplate":    "LaunchTemplateName=coverage-lt&LaunchTemplateData.ImageId=ami-12345678",
	"ec2.RegisterImage":           "Name=coverage-image",
	"ec2.CreateManagedPrefixList": "PrefixListName=coverage-pl&AddressFamily=IPv4&MaxEntries=5",
	"ec2.CreateDhcpOptions":       "DhcpConfiguration.1.Key=domain-name&DhcpConfiguration.1.Value.1=coverage.internal",
	// Without a template, only $Latest and $Default versions are listed.
	"ec2.DescribeLaunchTemplateVersions": "LaunchTemplateVersion.1=$Latest",
	// Its family is required and checked before authorization.
	"elasticache.DescribeEngineDefaultParameters": "CacheParameterGroupFamily=redis7",
}

// documentRe matches the policy documents of an answer: the other account's
// own words, which may name the first account (a trust policy may).
var documentRe = regexp.MustCompile(`<(AssumeRolePolicyDocument|PolicyDocument|Document)>[^<]*</(AssumeRolePolicyDocument|PolicyDocument|Document)>`)

// needNoPermission are the operations AWS lets a principal without
// policies call.
var needNoPermission = map[string]bool{"sts.GetCallerIdentity": true, "sts.GetSessionToken": true}

// issuesSecrets are the operations whose answer carries a new secret.
var issuesSecrets = map[string]bool{"iam.CreateAccessKey": true, "sts.GetSessionToken": true, "sts.AssumeRole": true}

// coverageCalls returns one call per case of the resource tables and one
// per operation without a case, in a stable order.
func coverageCalls(t *testing.T) []authzCase {
	t.Helper()
	cases := slices.Concat(elasticacheCases(), ec2Cases(), iamCases(), stsCases())
	for _, op := range slices.Sorted(maps.Keys(noResource)) {
		service, action, _ := strings.Cut(op, ".")
		cases = append(cases, authzCase{service, action, "no resource", noResourceParams[op]})
	}
	return cases
}

// syncBuffer is a log sink the app writes to from many goroutines.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// exchange is one call and its answer.
type exchange struct {
	op, query string
	status    int
	code      string
	body      string
}

// caller sends signed calls and keeps every exchange.
type caller struct {
	env *apptest.Env
	mu  sync.Mutex // guards log
	log []exchange
}

var (
	requestIDRe = regexp.MustCompile(`<(RequestId|requestId|RequestID)>[^<]*</(RequestId|requestId|RequestID)>`)
)

func (c *caller) call(t *testing.T, creds aws.Credentials, service, action, query string) exchange {
	t.Helper()
	a := rawCall(t, c.env, creds, service, action, query)
	x := exchange{op: service + "." + action, query: query, status: a.Status, body: a.Body, code: a.Code}
	c.mu.Lock()
	c.log = append(c.log, x)
	c.mu.Unlock()
	return x
}

func isRead(action string) bool {
	return strings.HasPrefix(action, "Describe") || strings.HasPrefix(action, "List") || strings.HasPrefix(action, "Get")
}

// view is what an account sees: the answers of its read calls, without
// request ids.
func (c *caller) view(t *testing.T, creds aws.Credentials, calls []authzCase, fx map[string]string) map[string]string {
	t.Helper()
	if err := c.env.App.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range calls {
		// GetSessionToken issues new credentials each time; GetAccessKeyInfo
		// and GetAccessKeyLastUsed read what other calls change by design.
		if k.service == "sts" || !isRead(k.action) || k.action == "GetAccessKeyLastUsed" {
			continue
		}
		x := c.call(t, creds, k.service, k.action, expand(k.query, fx))
		out[k.service+"."+k.action+" "+k.query] = requestIDRe.ReplaceAllString(x.body, "")
	}
	return out
}

func randomSecret(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func TestAuthorizationCoverage(t *testing.T) {
	logs := &syncBuffer{}
	env := apptest.Start(t, loopback, func(c *app.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := &caller{env: env}
	fx := authzFixtures(t, env)
	calls := coverageCalls(t)
	covered := map[string]bool{}
	for _, k := range calls {
		covered[k.service+"."+k.action] = true
	}
	for _, op := range implementedOperations(t) {
		if !covered[op] {
			t.Errorf("%s is implemented but not called", op)
		}
	}
	root := aws.Credentials{AccessKeyID: env.Root.AccessKeyID, SecretAccessKey: env.Root.SecretAccessKey}
	iamc := iam.NewFromConfig(env.Config())
	bare := newUser(t, iamc, "bare")
	secrets := []string{env.Root.SecretAccessKey, bare.SecretAccessKey}
	password := randomSecret("Pw-1!")
	must[*iam.CreateLoginProfileOutput](t)(iamc.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("bare"), Password: aws.String(password)}))
	secrets = append(secrets, password)

	t.Run("without policies", func(t *testing.T) {
		for _, k := range calls {
			x := c.call(t, bare, k.service, k.action, expand(k.query, fx))
			op := k.service + "." + k.action
			want, status := "AccessDenied", http.StatusForbidden
			if k.service == "ec2" {
				want = "UnauthorizedOperation"
			}
			if needNoPermission[op] {
				want, status = "", http.StatusOK
			}
			if x.code != want || x.status != status {
				t.Errorf("%s %s by a user without policies: %d %s, want %d %s", op, k.query, x.status, x.code, status, want)
			}
		}
	})

	before := c.view(t, root, calls, fx)
	other, err := env.App.Accounts().Create(ctx, "other", "other@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := aws.Credentials{AccessKeyID: other.RootAccessKeyID, SecretAccessKey: other.RootSecretAccessKey}
	secrets = append(secrets, other.RootSecretAccessKey)

	t.Run("another account", func(t *testing.T) {
		ids := []string{env.App.AccountID()}
		for k, v := range fx {
			if k != "acct" && k != "doc" && k != "trust" {
				ids = append(ids, v)
			}
		}
		for _, k := range calls {
			q := expand(k.query, fx)
			x := c.call(t, otherRoot, k.service, k.action, q)
			// GetAccessKeyInfo tells the account of any key, as on AWS.
			if x.status != http.StatusOK || !isRead(k.action) || k.action == "GetAccessKeyInfo" {
				continue
			}
			body := documentRe.ReplaceAllString(x.body, "")
			for _, id := range ids {
				if strings.Contains(body, id) && !strings.Contains(q, id) {
					t.Errorf("%s.%s %s by another account shows %s of the first:\n%s", k.service, k.action, q, id, x.body)
				}
			}
		}
		after := c.view(t, root, calls, fx)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s changed after the other account's calls:\nbefore %s\nafter  %s", k, v, after[k])
			}
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		ops := ec2api.OperationTable(ec2api.Unimplemented{})
		n := 0
		for _, k := range calls {
			op, ok := ops[k.action]
			if k.service != "ec2" || !ok || op.NewInput == nil || !hasDryRun(op.NewInput()) {
				continue
			}
			n++
			q := expand(k.query, fx) + "&DryRun=true"
			if x := c.call(t, root, "ec2", k.action, q); x.status != http.StatusPreconditionFailed || x.code != "DryRunOperation" {
				t.Errorf("%s %s DryRun by root: %d %s, want 412 DryRunOperation", k.action, q, x.status, x.code)
			}
			if x := c.call(t, bare, "ec2", k.action, q); x.status != http.StatusForbidden || x.code != "UnauthorizedOperation" {
				t.Errorf("%s %s DryRun by a user without policies: %d %s, want 403 UnauthorizedOperation", k.action, q, x.status, x.code)
			}
		}
		if n < 40 {
			t.Errorf("%d DryRun calls made, want one per case of every EC2 operation with DryRun (40 or more)", n)
		}
		after := c.view(t, root, calls, fx)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s changed after DryRun calls:\nbefore %s\nafter  %s", k, v, after[k])
			}
		}
	})

	t.Run("secrets", func(t *testing.T) {
		// Calls carrying secrets the service must not repeat.
		token := randomSecret("tok-")
		pw2 := randomSecret("Pw-2!")
		secrets = append(secrets, token, pw2)
		c.call(t, root, "elasticache", "CreateCacheCluster", "CacheClusterId=tokened&Engine=redis&CacheNodeType=cache.t3.micro&NumCacheNodes=1&AuthToken="+token)
		c.call(t, root, "elasticache", "ModifyCacheCluster", "CacheClusterId=nonexistent&AuthToken="+token)
		c.call(t, root, "iam", "UpdateLoginProfile", "UserName=bare&Password="+pw2)
		c.call(t, root, "iam", "UpdateLoginProfile", "UserName=nobody&Password=x"+pw2)
		c.call(t, root, "iam", "CreateLoginProfile", "UserName=bare&Password=short")
		sess := c.call(t, bare, "sts", "GetSessionToken", "DurationSeconds=900")
		for _, re := range []*regexp.Regexp{regexp.MustCompile(`<SecretAccessKey>([^<]+)<`), regexp.MustCompile(`<SessionToken>([^<]+)<`)} {
			if m := re.FindStringSubmatch(sess.body); m != nil {
				secrets = append(secrets, m[1])
			}
		}
		// A wrong secret for a known key, and a bad session token.
		c.call(t, aws.Credentials{AccessKeyID: bare.AccessKeyID, SecretAccessKey: "wrong" + bare.SecretAccessKey}, "sts", "GetCallerIdentity", "")
		c.call(t, aws.Credentials{AccessKeyID: bare.AccessKeyID, SecretAccessKey: bare.SecretAccessKey, SessionToken: token}, "sts", "GetCallerIdentity", "")

		if len(secrets) < 8 {
			t.Fatalf("collected %d secrets, want 8", len(secrets))
		}
		l := logs.String()
		for _, s := range secrets {
			if strings.Contains(l, s) {
				t.Errorf("the log holds the secret %s…", s[:6])
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, x := range c.log {
			if issuesSecrets[x.op] {
				continue
			}
			for _, s := range secrets {
				if strings.Contains(x.body, s) {
					t.Errorf("%s %s answered with the secret %s…: %s", x.op, x.query, s[:6], x.body)
				}
			}
		}
		if len(c.log) < 500 {
			t.Errorf("%d calls made, want the whole coverage (500 or more)", len(c.log))
		}
	})
}

func hasDryRun(in any) bool {
	v := reflect.ValueOf(in)
	return v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct && v.Elem().FieldByName("DryRun").IsValid()
}
