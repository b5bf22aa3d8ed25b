package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// browserless is a cookie-keeping HTTP client of the web console, sending
// the Origin a browser sends.
type browserless struct {
	t    *testing.T
	base string // the service's URL
	hc   *http.Client
	csrf string // the last page's CSRF token
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func newBrowserless(t *testing.T, base string) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, base: base, hc: &http.Client{Jar: jar}}
}

func (b *browserless) keep(resp *http.Response) (int, string) {
	b.t.Helper()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body)
}

func (b *browserless) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.hc.Get(b.base + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	return b.keep(resp)
}

// post sends a form with the last page's CSRF token (unless form has
// one) and the service's own Origin (unless origin is given).
func (b *browserless) post(path string, form url.Values, origin ...string) (int, string) {
	b.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	if len(origin) > 0 {
		req.Header.Set("Origin", origin[0])
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	return b.keep(resp)
}

// signInKeys signs in with an access key.
func (b *browserless) signInKeys(akid, secret string) {
	b.t.Helper()
	b.get("/console/signin?mode=keys")
	if code, body := b.post("/console/signin", url.Values{"mode": {"keys"}, "access_key": {akid}, "secret_key": {secret}}); code != http.StatusOK || !strings.Contains(body, "caches") {
		b.t.Fatalf("sign in with keys = %d:\n%.400s", code, body)
	}
}

// TestConsoleAuthorization: the console calls the API as the signed-in
// principal. The root sees everything; an IAM user with a password and a
// policy allowing only ElastiCache reads sees the caches but, on the EC2
// instances page, AWS's "You are not authorized…" message and no data.
// Forged or missing CSRF tokens and other origins are refused; bad input
// comes back with the API's message and changes nothing; the password is
// never rendered.
func TestConsoleAuthorization(t *testing.T) {
	env := apptest.Start(t)
	ctx := context.Background()
	root := newBrowserless(t, env.URL)
	if code, body := root.get("/console/elasticache/caches"); code != http.StatusOK || !strings.Contains(body, "Sign in") {
		t.Fatalf("signed out, caches page = %d, want the sign-in page:\n%.300s", code, body)
	}
	if code, _ := root.post("/console/signin", url.Values{"mode": {"keys"}, "access_key": {env.Root.AccessKeyID}, "secret_key": {"wrong"}}); code != http.StatusUnauthorized {
		t.Errorf("sign in with a wrong secret = %d, want 401", code)
	}
	root.signInKeys(env.Root.AccessKeyID, env.Root.SecretAccessKey)

	// Every page renders whole for the root.
	for _, page := range []string{"elasticache/caches?engine=redis", "elasticache/caches?engine=memcached", "elasticache/caches/create?engine=redis",
		"elasticache/caches/create?engine=memcached", "elasticache/serverless", "elasticache/replication-groups", "elasticache/subnet-groups",
		"elasticache/parameter-groups", "elasticache/user-management", "elasticache/security-groups", "elasticache/security-groups/default",
		"elasticache/events", "ec2/instances", "ec2/security-groups", "iam/users", "iam/users/create", "iam/policies?filter=ElastiCache"} {
		code, body := root.get("/console/" + page)
		if code != http.StatusOK || !strings.HasSuffix(strings.TrimSpace(body), "</html>") {
			t.Errorf("GET /console/%s = %d, want 200 and a whole page; ends %q", page, code, body[max(0, len(body)-300):])
		}
	}

	if code, body := root.get("/console/elasticache/caches/no-such-cache?tab=connectivity"); code != http.StatusNotFound || !strings.Contains(body, "CacheClusterNotFound") {
		t.Errorf("details of a cache that does not exist = %d, want 404 with the API's CacheClusterNotFound", code)
	}

	// The region selector: the session's region, kept across pages.
	if code, body := root.post("/console/region", url.Values{"region": {"eu-west-1"}, "next": {"/console/ec2/instances"}}); code != http.StatusOK ||
		!strings.Contains(body, `<option value="eu-west-1" selected>`) {
		t.Errorf("switch to eu-west-1 = %d; the selector does not show it", code)
	}
	root.post("/console/region", url.Values{"region": {"us-east-1"}})

	// Bad input: the API's message next to the field, nothing created.
	code, body := root.post("/console/elasticache/caches", url.Values{"name": {"bad-port"}, "engine": {"redis"}, "node_type": {"cache.t3.micro"}, "port": {"99999"}, "nodes": {"1"}})
	if code != http.StatusBadRequest || !regexp.MustCompile(`id="port" name="port" value="99999"[^>]*aria-invalid="true">\s*<p class="field-error" role="alert">[^<]+</p>`).MatchString(body) {
		i := strings.Index(body, `id="port"`)
		t.Errorf("create with port 99999 = %d, want 400 with the API's message under the port field:\n%.600s", code, body[max(i, 0):])
	}
	ec := elasticache.NewFromConfig(env.Config())
	if out, err := ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil || len(out.CacheClusters) != 0 {
		t.Errorf("caches after a refused create = %v, %v; want none", out, err)
	}
	// Forged and missing CSRF tokens, another origin: refused.
	for name, form := range map[string]url.Values{
		"forged":  {"csrf": {strings.Repeat("0", 64)}, "name": {"user1"}},
		"missing": {"csrf": {""}, "name": {"user1"}},
	} {
		if code, _ := root.post("/console/iam/users", form); code != http.StatusForbidden {
			t.Errorf("%s CSRF token: POST = %d, want 403", name, code)
		}
	}
	if code, _ := root.post("/console/iam/users", url.Values{"name": {"user1"}}, "http://evil.example"); code != http.StatusForbidden {
		t.Errorf("other origin: POST = %d, want 403", code)
	}
	im := iam.NewFromConfig(env.Config())
	if out, _ := im.ListUsers(ctx, &iam.ListUsersInput{}); len(out.Users) != 0 {
		t.Fatalf("users after refused posts = %d, want 0", len(out.Users))
	}

	// An IAM user made through the console, with a password and a policy
	// allowing ElastiCache reads only.
	root.get("/console/iam/users/create")
	const pw = "S3cret-pass-word"
	if code, body := root.post("/console/iam/users", url.Values{"name": {"reader"}, "console_access": {"on"}, "password": {pw}}); code != http.StatusOK || strings.Contains(body, pw) {
		t.Fatalf("create user = %d (password rendered: %v)", code, strings.Contains(body, pw))
	}
	if _, err := im.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("reader"), PolicyName: aws.String("ec-read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["elasticache:Describe*"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	user := newBrowserless(t, env.URL)
	user.get("/console/signin")
	if code, body := user.post("/console/signin", url.Values{"mode": {"password"}, "account": {env.App.AccountID()}, "user": {"reader"}, "password": {"wrong-password"}}); code != http.StatusUnauthorized || !strings.Contains(body, "authentication information is incorrect") {
		t.Errorf("wrong password = %d", code)
	}
	if code, body := user.post("/console/signin", url.Values{"mode": {"password"}, "account": {env.App.AccountID()}, "user": {"reader"}, "password": {pw}}); code != http.StatusOK || !strings.Contains(body, "Valkey and Redis OSS caches") {
		t.Fatalf("password sign-in = %d:\n%.500s", code, body)
	}
	code, body = user.get("/console/ec2/instances")
	if code != http.StatusForbidden || !strings.Contains(body, "You are not authorized to perform this operation.") || strings.Contains(body, "<tbody>") {
		t.Errorf("instances page without ec2:DescribeInstances = %d, want 403 with AWS's message and no table:\n%.800s", code, body)
	}
	// Sign out: the session is gone.
	if code, _ := user.post("/console/signout", url.Values{}); code != http.StatusOK {
		t.Errorf("sign out = %d", code)
	}
	if _, body := user.get("/console/elasticache/caches"); !strings.Contains(body, "Sign in") {
		t.Error("after sign out, the caches page does not ask to sign in")
	}
}
