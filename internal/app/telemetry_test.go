package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
)

// TestProbesAndMetrics: the API listener answers /health, /ready and
// /metrics without credentials, and the scrape counts the API requests
// without naming the account.
func TestProbesAndMetrics(t *testing.T) {
	env := apptest.Start(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sts.NewFromConfig(env.Config()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if err := env.App.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(env.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/health"); code != 200 {
		t.Errorf("GET /health = %d %q", code, body)
	}
	if code, body := get("/ready"); code != 200 {
		t.Errorf("GET /ready after WaitIdle = %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `cachalot_api_requests_total{action="GetCallerIdentity",code="",service="sts"} 1`) ||
		!strings.Contains(body, "cachalot_reconcile_runs_total") {
		t.Errorf("GET /metrics = %d:\n%s", code, body)
	}
	if strings.Contains(body, env.App.AccountID()) || strings.Contains(body, env.Root.AccessKeyID) {
		t.Errorf("metrics reveal account data:\n%s", body)
	}
}
