package instancectl_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	d := apptest.BuildDaemon(t)
	start := func() *ec2.Client { t.Helper(); return ec2.NewFromConfig(d.Start().Config()) }
	// The test's own plane handle: it only enters the daemon's namespaces.
	plane, err := netplane.New(netplane.Config{Prefix: app.InstallPrefix(d.Dir), Logger: slog.New(slog.DiscardHandler)})
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

	d.Stop(syscall.SIGKILL)
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
