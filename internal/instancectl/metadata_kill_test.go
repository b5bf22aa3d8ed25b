package instancectl_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestInstanceMetadataAfterKill runs the real binary: an instance's
// metadata service answers; the daemon is killed with SIGKILL and the
// service with it (connections refused, the instance's network left as it
// was); a second daemon serves it again; terminating the instance removes
// it.
func TestInstanceMetadataAfterKill(t *testing.T) {
	privtest.RequireRoot(t)
	ctx := context.Background()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "cachalot")
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("go env GOMOD = %q, %v", gomod, err)
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/cachalot")
	build.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "data")
	logPath := filepath.Join(tmp, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	var daemon *exec.Cmd
	kill := func() {
		if daemon != nil {
			daemon.Process.Kill()
			daemon.Wait()
			daemon = nil
		}
	}
	t.Cleanup(func() {
		kill()
		tctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec.CommandContext(tctx, bin, "teardown", "--data-dir", dir).Run()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("cachalot serve output:\n%s", b)
		}
	})
	start := func() *ec2.Client {
		t.Helper()
		os.Remove(filepath.Join(dir, app.EndpointFile))
		daemon = exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
		daemon.Stdout, daemon.Stderr = logf, logf
		daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := daemon.Start(); err != nil {
			t.Fatalf("start cachalot serve: %v", err)
		}
		var url string
		for deadline := time.Now().Add(30 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(filepath.Join(dir, app.EndpointFile))
			url = strings.TrimSpace(string(b))
		}
		if url == "" {
			t.Fatalf("cachalot serve wrote no endpoint file within 30s")
		}
		creds, err := app.ReadCredentials(dir)
		if err != nil {
			t.Fatal(err)
		}
		return ec2.NewFromConfig((&apptest.Env{URL: url, Root: creds}).Config())
	}
	// The test's own plane handle: it only enters the daemon's namespaces.
	plane, err := netplane.New(netplane.Config{Prefix: app.InstallPrefix(dir), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var eni string
	get := func() (string, error) {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return plane.Dial(ctx, eni, "tcp4", "169.254.169.254:80")
			}}}
		resp, err := c.Get("http://169.254.169.254/latest/meta-data/instance-id")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	// await polls until the service answers want (or, want "", until
	// nothing answers).
	await := func(what, want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got, err := get()
			if (want != "" && err == nil && got == want) || (want == "" && err != nil) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: instance-id = %q, %v for 30s, want %q", what, got, err, want)
			}
		}
	}

	e := start()
	out, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	eni = aws.ToString(out.Instances[0].NetworkInterfaces[0].NetworkInterfaceId)
	await("first daemon", id)

	kill()
	if got, err := get(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("instance-id with the daemon killed = %q, %v; want connection refused", got, err)
	}
	e = start()
	await("second daemon", id)

	if _, err := e.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	await("after termination", "")
}
