package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
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

// TestEngineRestartMetric: an engine killed under the supervisor is
// restarted, and the restart is counted on its own.
func TestEngineRestartMetric(t *testing.T) {
	env := apptest.Start(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := elasticache.NewFromConfig(env.Config()).CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("restarter"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if err := env.App.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		resp, err := http.Get(env.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if body := scrape(); !strings.Contains(body, "cachalot_engine_restarts_total 0\n") || strings.Contains(body, "cachalot_failovers_total{") {
		t.Fatalf("metrics before a crash:\n%s", body)
	}
	files, _ := filepath.Glob(filepath.Join(app.EnginesDir(env.DataDir), "*.restarter.0001", "cachalot-node.json"))
	if len(files) != 1 {
		t.Fatalf("engine state files = %q", files)
	}
	b, err := os.ReadFile(files[0])
	var st struct {
		PID int `json:"pid"`
	}
	if err != nil || json.Unmarshal(b, &st) != nil || st.PID <= 0 {
		t.Fatalf("engine state %s: %s %v", files[0], b, err)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(scrape(), "cachalot_engine_restarts_total 1\n") {
		select {
		case <-ctx.Done():
			t.Fatalf("no restart counted after killing the engine:\n%s", scrape())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
