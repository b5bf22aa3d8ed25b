package cli_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/cli"
)

// TestLogs: `cachalot logs CACHE` prints what a real engine logged, one
// node or all of them (prefixed), follows with -f, and refuses an unknown
// cache or node with a line saying what it looked for.
func TestLogs(t *testing.T) {
	env := apptest.Start(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ec := elasticache.NewFromConfig(env.Config())
	ctx := context.Background()
	if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("Logged"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := env.App.WaitIdle(wctx); err != nil {
		t.Fatal(err)
	}
	// Redis logs "Ready to accept connections" once it serves.
	out, errs, code := run("logs", "Logged", "--data-dir", env.DataDir, "--node", "0001")
	if code != 0 || !strings.Contains(out, "Ready to accept connections") {
		t.Fatalf("logs Logged --node 0001 = exit %d, %q %q; want the engine's log", code, out, errs)
	}
	out, _, code = run("logs", "logged", "--data-dir", env.DataDir)
	if code != 0 || !strings.Contains(out, "0001 | ") {
		t.Errorf("logs logged = exit %d, %q; want every node's lines prefixed with its id", code, out)
	}

	for _, args := range [][]string{{"logs", "nosuch"}, {"logs", "logged", "--node", "0009"}, {"logs", "logged", "--region", "eu-west-1"}, {"logs"}} {
		_, errs, code := run(append(args, "--data-dir", env.DataDir)...)
		if code == 0 || errs == "" {
			t.Errorf("%q = exit %d, %q; want an error", args, code, errs)
		}
	}

	// -f prints what is appended later.
	dirs, _ := filepath.Glob(filepath.Join(env.DataDir, "engines", "*.logged.0001"))
	if len(dirs) != 1 {
		t.Fatalf("node dirs = %q", dirs)
	}
	fctx, stop := context.WithCancel(ctx)
	var buf apptest.Buffer
	done := make(chan int)
	go func() { done <- cliRun(fctx, &buf, "logs", "logged", "--data-dir", env.DataDir, "-f") }()
	f, err := os.OpenFile(filepath.Join(dirs[0], "engine.out"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("appended by the test\n")
	f.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "appended by the test") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if code := <-done; code != 0 || !strings.Contains(buf.String(), "appended by the test") {
		t.Errorf("logs -f = exit %d, %q; want the appended line", code, buf.String())
	}
}

func cliRun(ctx context.Context, stdout io.Writer, args ...string) int {
	return cli.Run(ctx, args, stdout, io.Discard)
}
