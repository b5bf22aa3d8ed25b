package instancectl_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// BenchmarkInstanceMetadata measures the metadata service's latency as an
// instance sees it: the client's sockets are made inside the instance's
// network namespace (the kernel path is the instance's own loopback), and
// each request is an IMDSv2 GET of latest/meta-data/instance-id with a
// token, on a kept-alive connection (what the SDKs do) or on a new
// connection each (what curl does). It reports p50 and p99 per mode, and
// the same for a static handler on port 81 of the same address (the floor
// of the network path and net/http on the machine).
//
//	go test -run '^$' -bench BenchmarkInstanceMetadata -benchtime 20000x ./internal/instancectl/
func BenchmarkInstanceMetadata(b *testing.B) {
	privtest.RequireRoot(b)
	env := apptest.Start(b)
	ctx := context.Background()
	out, err := ec2.NewFromConfig(env.Config()).RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		b.Fatal(err)
	}
	eni := aws.ToString(out.Instances[0].NetworkInterfaces[0].NetworkInterfaceId)
	id := aws.ToString(out.Instances[0].InstanceId)
	if err := env.App.WaitIdle(ctx); err != nil {
		b.Fatal(err)
	}
	plane, err := netplane.New(netplane.Config{Prefix: app.InstallPrefix(env.DataDir), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	// The baseline: a static Go HTTP handler on port 81 of the same
	// address, the floor the network path and net/http put under any
	// answer on this machine.
	l, err := plane.Listen(ctx, eni, "tcp4", "169.254.169.254:81")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PUT" {
			w.Write([]byte("token"))
			return
		}
		w.Write([]byte(id))
	}))
	port := "80"
	client := func(keepAlive bool) *http.Client {
		return &http.Client{Transport: &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return plane.Dial(ctx, eni, "tcp4", "169.254.169.254:"+port)
			}}}
	}
	do := func(c *http.Client, method, path string, hdr ...string) string {
		req, _ := http.NewRequest(method, "http://169.254.169.254"+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("%s %s = %d", method, path, resp.StatusCode)
		}
		return string(body)
	}
	for _, mode := range []struct {
		name      string
		keepAlive bool
		port      string
	}{{"keepalive", true, "80"}, {"newconn", false, "80"}, {"baseline-keepalive", true, "81"}, {"baseline-newconn", false, "81"}} {
		b.Run(mode.name, func(b *testing.B) {
			port = mode.port
			c := client(mode.keepAlive)
			tok := do(c, "PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "21600")
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if got := do(c, "GET", "/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); !strings.HasPrefix(got, id) {
					b.Fatalf("instance-id = %q, want %s", got, id)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
