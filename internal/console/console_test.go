package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	ec "github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/console"
	"github.com/cachalot-dev/cachalot/internal/console/consoletest"
)

// records is an Invoker holding cache records only, as the API would
// list them with no controller running: DescribeCacheClusters pages
// through them by Marker; anything else is refused.
type records struct {
	caches []ec.CacheCluster
}

func (f *records) Invoke(_ context.Context, p auth.Principal, region, service string, params url.Values, _ string, _ bool) (any, error) {
	if service != "elasticache" || params.Get("Action") != "DescribeCacheClusters" {
		return nil, awserr.WithStatus(http.StatusForbidden, "AccessDenied", "User: %s is not authorized to perform: %s:%s", p.ARN, service, params.Get("Action"))
	}
	start, _ := strconv.Atoi(params.Get("Marker"))
	n, _ := strconv.Atoi(params.Get("MaxRecords"))
	if n == 0 {
		n = 100
	}
	end := min(start+n, len(f.caches))
	out := &ec.CacheClusterMessage{CacheClusters: f.caches[start:end]}
	if end < len(f.caches) {
		m := strconv.Itoa(end)
		out.Marker = &m
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func newRecords(n int) *records {
	f := &records{}
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		status := "available"
		if i%10 == 0 {
			status = "creating"
		}
		f.caches = append(f.caches, ec.CacheCluster{CacheClusterId: ptr(fmt.Sprintf("cache-%04d", i)), CacheClusterStatus: ptr(status),
			Engine: ptr("valkey"), EngineVersion: ptr("8.0"), CacheNodeType: ptr("cache.t3.micro"), NumCacheNodes: ptr(int32(1)),
			CacheClusterCreateTime: &created})
	}
	return f
}

type keys map[string]auth.Key

func (k keys) ResolveKey(_ context.Context, id string) (auth.Key, error) {
	if key, ok := k[id]; ok {
		return key, nil
	}
	return auth.Key{}, auth.ErrUnknownKey
}

const akid, secret = "AKIAROOTROOTROOTROOT", "root-secret"

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func serve(t testing.TB, inv console.Invoker, clk *clock) *httptest.Server {
	t.Helper()
	root := auth.Principal{Type: auth.Root, AccountID: "000000000000", ARN: "arn:aws:iam::000000000000:root", Name: "root", AccessKeyID: akid}
	cfg := console.Config{API: inv, Keys: keys{akid: {AccessKeyID: akid, SecretAccessKey: secret, Principal: root}},
		Password: func(context.Context, string, string, string, string) (auth.Principal, error) {
			return auth.Principal{}, fmt.Errorf("no users")
		}, SessionTTL: time.Hour}
	if clk != nil {
		cfg.Now = clk.Now
	}
	c, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// signIn signs in with the root key through an HTTP client and returns
// it with the session's CSRF token.
func signIn(t *testing.T, base string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	body := get(t, hc, base+"/console/signin?mode=keys")
	tok := csrfRE.FindStringSubmatch(body)[1]
	resp, err := hc.PostForm(base+"/console/signin", url.Values{"csrf": {tok}, "mode": {"keys"}, "access_key": {akid}, "secret_key": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(t, resp)
	m := csrfRE.FindStringSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("sign in = %d:\n%.300s", resp.StatusCode, b)
	}
	return hc, m[1]
}

func get(t *testing.T, hc *http.Client, u string) string {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, resp)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSessionExpires: past its TTL a session sends GETs to the sign-in
// page saying it expired, and refuses POSTs.
func TestSessionExpires(t *testing.T) {
	// The fake clock starts at the real time: the client's cookie jar
	// drops cookies by the real clock, so a session issued in the past
	// would never be sent.
	clk := &clock{now: time.Now()}
	srv := serve(t, newRecords(3), clk)
	hc, tok := signIn(t, srv.URL)
	if body := get(t, hc, srv.URL+"/console/elasticache/caches"); !strings.Contains(body, "cache-0001") {
		t.Fatalf("caches page lacks cache-0001:\n%.300s", body)
	}
	clk.add(time.Hour)
	if body := get(t, hc, srv.URL+"/console/elasticache/caches"); !strings.Contains(body, "Your session has expired") {
		t.Errorf("after the TTL, caches page = %.300s; want the sign-in page saying the session expired", body)
	}
	resp, err := hc.PostForm(srv.URL+"/console/region", url.Values{"csrf": {tok}, "region": {"eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST with an expired session = %d, want 401", resp.StatusCode)
	}
}

// TestSessionCookie: the session cookie is HTTP-only, same-site strict,
// scoped to the console, with an expiry.
func TestSessionCookie(t *testing.T) {
	srv := serve(t, newRecords(1), nil)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tok := csrfRE.FindStringSubmatch(get(t, hc, srv.URL+"/console/signin"))[1]
	resp, err := hc.PostForm(srv.URL+"/console/signin", url.Values{"csrf": {tok}, "mode": {"keys"}, "access_key": {akid}, "secret_key": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	i := slices.IndexFunc(resp.Cookies(), func(c *http.Cookie) bool { return c.Name == "cachalot-console" && c.Value != "" })
	if i < 0 {
		t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	}
	c := resp.Cookies()[i]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Expires.IsZero() {
		t.Errorf("session cookie = %+v; want HttpOnly, SameSite=Strict, Path=/console/, an expiry", c)
	}
}

// TestCachesPagePaint measures, in headless Chromium, the caches page
// with 1,000 caches: time to first contentful paint and to interactive
// (DOMContentLoaded end), from the Performance API, median of runs.
// The caches are records served by a fake API (no engine, no
// controller): the figure is the console's and the browser's.
func TestCachesPagePaint(t *testing.T) {
	srv := serve(t, newRecords(1000), nil)
	ctx := consoletest.Browser(t, 2*time.Minute)
	consoletest.Do(t, ctx, "sign in",
		chromedp.Navigate(srv.URL+"/console/signin?mode=keys"),
		chromedp.SendKeys(chromedp.ID("access_key"), akid),
		chromedp.SendKeys(chromedp.ID("secret_key"), secret),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.CSS("table.grid")))
	caches := paintTimes(t, ctx, srv.URL+"/console/elasticache/caches", ".pager")
	text := consoletest.Text(t, ctx, "h1")
	if !strings.Contains(text, "(1000)") {
		t.Errorf("caches page title = %q, want the count of 1000 caches", text)
	}
	t.Logf("caches page, 1000 caches, median of %d: first contentful paint %.0f ms, interactive %.0f ms, load %.0f ms", paintRuns, caches.FCP, caches.Interactive, caches.Load)
	// The same figures for a page that calls no API (the parameter groups
	// page answers AccessDenied at once), as the browser's own baseline.
	base := paintTimes(t, ctx, srv.URL+"/console/elasticache/parameter-groups", ".alert")
	t.Logf("baseline page (no data), median of %d: first contentful paint %.0f ms, interactive %.0f ms, load %.0f ms", paintRuns, base.FCP, base.Interactive, base.Load)
	consoletest.Screenshot(t, ctx, consoletest.Artifacts(t), "caches-1000")
}

// timing is what the Performance API tells of a page load, in ms from
// the navigation's start.
type timing struct{ FCP, Interactive, Load float64 }

const paintRuns = 7

// paintTimes loads url paintRuns times and returns the medians.
func paintTimes(t *testing.T, ctx context.Context, url, ready string) timing {
	t.Helper()
	var runs []timing
	for range paintRuns {
		consoletest.Do(t, ctx, "open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready)))
		tm, err := chromedp.Run(ctx, chromedp.Poll[timing](`(function(){
			var n = performance.getEntriesByType("navigation")[0];
			var p = performance.getEntriesByName("first-contentful-paint")[0];
			if (!n || !p || !n.loadEventEnd) { return null; }
			return {FCP: p.startTime, Interactive: n.domContentLoadedEventEnd, Load: n.loadEventEnd};
		})()`))
		if err != nil {
			t.Fatalf("performance timing: %v", err)
		}
		runs = append(runs, tm)
	}
	median := func(f func(timing) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return timing{median(func(r timing) float64 { return r.FCP }), median(func(r timing) float64 { return r.Interactive }), median(func(r timing) float64 { return r.Load })}
}
