package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// buildCachalot builds the binary the campaign drives.
func buildCachalot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cachalot")
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(gomod)) == 0 {
		t.Fatalf("go env GOMOD = %q, %v", gomod, err)
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/cachalot")
	build.Dir = filepath.Dir(string(bytes.TrimSpace(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCrash builds the binary once for its two parts.
func TestCrash(t *testing.T) {
	privtest.RequireRoot(t)
	bin := buildCachalot(t)
	t.Run("CampaignShort", func(t *testing.T) { testCampaignShort(t, bin) })
	t.Run("KernelCheckerSeesDrift", func(t *testing.T) { testKernelCheckerSeesDrift(t, bin) })
}

// testCampaignShort runs a short campaign (2 runs, 50 writes, 2 engine
// kills) so that CI exercises the campaign and its checkers; `make crash`
// runs the full one.
func testCampaignShort(t *testing.T, bin string) {
	var out bytes.Buffer
	c, err := runCampaign(context.Background(), options{
		bin: bin, runs: 2, ops: 50, workers: 2, seed: 1, engineKills: 2, converge: 2 * time.Minute,
	}, &out)
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatalf("campaign: %v", err)
	}
	for _, v := range c.violations {
		t.Errorf("violation: %v", v)
	}
	if n := c.c.ops.Load(); n < 50 {
		t.Errorf("%d writes issued, want 50", n)
	}
	if c.c.acked.Load() == 0 || len(c.runs) != 2 {
		t.Errorf("%d acknowledged writes in %d runs; want some, in 2", c.c.acked.Load(), len(c.runs))
	}
	if c.engine != nil && c.engine.kills != 2 {
		t.Errorf("engine loop: %d kills, want 2", c.engine.kills)
	}
}

// testKernelCheckerSeesDrift: the kernel checker is not blind. With one
// instance running it finds the kernel as desired; after an orphan
// namespace is added and an interface's ingress chain is flushed behind
// the service's back, it reports exactly those.
func testKernelCheckerSeesDrift(t *testing.T, bin string) {
	tmp := t.TempDir()
	s, err := newServer(bin, filepath.Join(tmp, "data"), "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	prefix := installPrefix(s.dir)
	t.Cleanup(func() {
		s.stop()
		if out, err := s.teardown(context.Background()); err != nil {
			t.Errorf("teardown: %v: %s", err, out)
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			t.Logf("serve log:\n%s", b)
		}
	})
	if err := s.start(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := s.ec2.RunInstances(ctx, &awsec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	eni := aws.ToString(run.Instances[0].NetworkInterfaces[0].NetworkInterfaceId)
	obs, err := observe(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := expectedKernel(prefix, obs.net)
	var missing, orphaned []string
	for range 200 { // the controller realises the instance asynchronously
		got, err := observeKernel(ctx, prefix, s.dir)
		if err != nil {
			t.Fatal(err)
		}
		if missing, orphaned = diffFacts(want, got); len(missing)+len(orphaned) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(missing)+len(orphaned) > 0 {
		t.Fatalf("before any drift: missing %v, orphaned %v", missing, orphaned)
	}

	bogus := prefix + "-eni-bogus"
	if out, err := exec.Command("ip", "netns", "add", bogus).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", bogus).Run() })
	router := prefix + "-" + obs.net.enis[0].vpc
	if out, err := exec.Command("ip", "netns", "exec", router, "nft", "flush", "chain", "inet", prefix, "in-"+eni).CombinedOutput(); err != nil {
		t.Fatalf("nft flush chain: %v: %s", err, out)
	}
	got, err := observeKernel(ctx, prefix, s.dir)
	if err != nil {
		t.Fatal(err)
	}
	missing, orphaned = diffFacts(want, got)
	if !slices.Equal(orphaned, []string{"netns " + bogus}) {
		t.Errorf("orphaned = %v, want the namespace %s", orphaned, bogus)
	}
	// The default group allows ingress from itself: that rule lived only in
	// the flushed chain, so its id is now missing from the router.
	if len(missing) == 0 {
		t.Fatalf("missing = none after flushing in-%s", eni)
	}
	for _, m := range missing {
		if !strings.HasPrefix(m, "rule "+router+"/sgr-") {
			t.Errorf("missing %q, want only rules of the flushed chain", m)
		}
	}
}
