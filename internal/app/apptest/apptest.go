// Package apptest starts a whole Cachalot in-process for end-to-end tests:
// a fresh data dir, a random loopback port, root credentials, and helpers
// that build aws-sdk-go-v2 configurations and run the AWS CLI against it.
// Everything is torn down in t.Cleanup, even when the test fails. For
// tests that kill the daemon and start it again, Daemon runs the built
// binary (`cachalot serve`) instead.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/cachalot-dev/cachalot/internal/account"
	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
)

// Region every Env uses unless told otherwise.
const Region = "us-east-1"

// AWSCLI is Debian's AWS CLI v2 (the `aws` on a developer's PATH may be v1).
const AWSCLI = "/usr/bin/aws"

// Env is a running Cachalot.
type Env struct {
	App     *app.App
	URL     string
	DataDir string
	Root    account.Credentials
}

// Option changes the app's configuration before it starts.
type Option func(*app.Config)

// Start starts Cachalot for the test.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	// CACHALOT_TEST_LOG=debug (or info) shows more of the service's log.
	level := slog.LevelWarn
	_ = level.UnmarshalText([]byte(os.Getenv("CACHALOT_TEST_LOG")))
	cfg := app.Config{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	a := app.New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		a.Close()
		t.Fatalf("start cachalot: %v", err)
	}
	t.Cleanup(func() {
		if keep := os.Getenv("CACHALOT_TEST_KEEP_LOGS"); keep != "" && t.Failed() {
			// A failed test's engine logs, for its investigation.
			dst := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
			if err := copyLogs(cfg.DataDir, dst); err != nil {
				t.Logf("keeping the logs: %v", err)
			} else {
				t.Logf("logs kept in %s", dst)
			}
		}
		if err := a.Close(); err != nil {
			t.Errorf("close cachalot: %v", err)
		}
		// Engines and namespaces outlive the daemon by design; a test
		// removes everything of its installation.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := app.Teardown(ctx, cfg.DataDir, slog.New(slog.DiscardHandler)); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	return &Env{App: a, URL: a.URL(), DataDir: cfg.DataDir, Root: a.RootCredentials()}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// Config returns an SDK configuration signing with creds (root when zero).
func (e *Env) Config(creds ...aws.Credentials) aws.Config {
	c := aws.Credentials{AccessKeyID: e.Root.AccessKeyID, SecretAccessKey: e.Root.SecretAccessKey}
	if len(creds) > 0 {
		c = creds[0]
	}
	return aws.Config{
		Region:       Region,
		BaseEndpoint: aws.String(e.URL),
		Credentials:  credentials.StaticCredentialsProvider{Value: c},
		// Tests want to see the first answer, not retries of it.
		RetryMaxAttempts: 1,
		HTTPClient:       sdktest.HTTPClient(),
	}
}

// CLI runs the AWS CLI v2 with the root credentials (or creds) and returns
// its stdout, stderr and exit code. It skips the test if the CLI is absent.
func (e *Env) CLI(t testing.TB, creds *account.Credentials, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	if _, err := os.Stat(AWSCLI); err != nil {
		t.Skipf("AWS CLI v2 not installed at %s (apt-get install awscli)", AWSCLI)
	}
	if creds == nil {
		creds = &e.Root
	}
	cmd := exec.Command(AWSCLI, append([]string{"--endpoint-url", e.URL, "--output", "json"}, args...)...)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
		"AWS_DEFAULT_REGION="+Region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_MAX_ATTEMPTS=1", "AWS_PAGER=",
	)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run aws: %v", err)
	}
	return out.String(), errb.String(), code
}

// CLIJSON runs the AWS CLI, requires success and decodes its JSON output.
func (e *Env) CLIJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	out, errOut, code := e.CLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("aws %v: exit %d: %s", args, code, errOut)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("aws %v: decode %q: %v", args, out, err)
		}
	}
}

// copyLogs copies the *.log files under dir to dst, keeping their paths.
func copyLogs(dir, dst string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
