package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/cli"
)

func run(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestStatusAndWaitReady: status and wait-ready talk to the service of a
// data dir; status counts its caches by status and instances by state; a
// data dir with no service gets one line saying how to start one.
func TestStatusAndWaitReady(t *testing.T) {
	env := apptest.Start(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	dir := env.DataDir
	if out, errs, code := run("wait-ready", "--data-dir", dir); code != 0 || !strings.Contains(out, env.URL) {
		t.Errorf("wait-ready = exit %d, %q %q", code, out, errs)
	}
	out, errs, code := run("status", "--data-dir", dir)
	for _, want := range []string{"endpoint:  " + env.URL, "data dir:  " + dir, "health:    ok", "caches:    none", "instances: none"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status = exit %d, %q %q; want %q", code, out, errs, want)
		}
	}

	ctx := context.Background()
	if _, err := elasticache.NewFromConfig(env.Config()).CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("counted"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ec2.NewFromConfig(env.Config()).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(2), MaxCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := env.App.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	out, errs, code = run("status", "--data-dir", dir)
	for _, want := range []string{"caches:    1 available\n", "instances: 2 running\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status with a cache and two instances = exit %d, %q %q; want %q", code, out, errs, want)
		}
	}

	empty := t.TempDir()
	for _, cmd := range []string{"status", "env"} {
		_, errs, code := run(cmd, "--data-dir", empty)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "no Cachalot service is running for data dir "+empty) || !strings.Contains(errs, "cachalot serve") {
			t.Errorf("%s without a service = exit %d, %q; want one line saying how to start one", cmd, code, errs)
		}
	}
}

// TestEnvServiceGone: env exports the endpoint of a live service, and says
// none runs when the data dir names one that is gone: its runtime file
// names a dead pid, or (killed, its files left behind) its endpoint does
// not answer.
func TestEnvServiceGone(t *testing.T) {
	dir := t.TempDir()
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: dir, Network: app.NetworkLoopback, Logger: slog.New(slog.DiscardHandler)})
	if err := a.Start(context.Background()); err != nil {
		a.Close()
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			a.Close()
		}
	})
	url := a.URL()
	if out, errs, code := run("env", "--data-dir", dir); code != 0 || !strings.Contains(out, "export AWS_ENDPOINT_URL="+url+"\n") {
		t.Fatalf("env with a live service = exit %d, %q %q", code, out, errs)
	}
	gone := func(what, why string) {
		t.Helper()
		out, errs, code := run("env", "--data-dir", dir)
		if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "no Cachalot service is running for data dir "+dir) || !strings.Contains(errs, why) {
			t.Errorf("env when %s = exit %d, %q %q; want one line saying none runs (%q)", what, code, out, errs, why)
		}
	}

	// A runtime file naming a dead pid.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	rt := cli.RuntimeFile(dir)
	if err := os.MkdirAll(filepath.Dir(rt), 0o700); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"endpoint": url, "data_dir": dir, "network": "loopback", "pid": dead.Process.Pid})
	if err := os.WriteFile(rt, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(rt) })
	gone("the runtime file names a dead pid", fmt.Sprintf("pid %d", dead.Process.Pid))
	os.Remove(rt)

	// Killed: the endpoint file stays, nothing answers.
	closed = true
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, app.EndpointFile), []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gone("the endpoint does not answer", url+" does not answer")
}
