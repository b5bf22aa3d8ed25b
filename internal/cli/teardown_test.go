package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/cli"
)

// TestTeardownRefusedWhileServing: `cachalot teardown --data-dir D` while a
// serve of D runs exits 1 saying so and how to stop it, and removes
// nothing; once the serve stops it succeeds.
func TestTeardownRefusedWhileServing(t *testing.T) {
	dir := t.TempDir()
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: dir, Network: app.NetworkLoopback, Logger: slog.New(slog.DiscardHandler)})
	if err := a.Start(context.Background()); err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	teardown := func() (string, int) {
		var out, errb bytes.Buffer
		code := cli.Run(context.Background(), []string{"teardown", "--data-dir", dir}, &out, &errb)
		return errb.String(), code
	}

	stderr, code := teardown()
	for _, want := range []string{"teardown refused", "serve is running", dir, fmt.Sprintf("pid %d", os.Getpid()), "stop that serve first"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("teardown while serving = exit %d, %q; want exit 1 and %q", code, stderr, want)
		}
	}
	if _, err := os.Stat(dir + "/" + app.EndpointFile); err != nil {
		t.Errorf("after a refused teardown the endpoint file is gone: %v", err)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if stderr, code := teardown(); code != 0 {
		t.Errorf("teardown after the serve stopped = exit %d, %q; want 0", code, stderr)
	}
}
