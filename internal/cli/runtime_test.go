package cli_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/cli"
)

func run(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestStatusAndWaitReady: status and wait-ready talk to the service of a
// data dir; a data dir with no service gets one line saying how to start
// one.
func TestStatusAndWaitReady(t *testing.T) {
	dir := t.TempDir()
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: dir, Network: app.NetworkLoopback, Logger: slog.New(slog.DiscardHandler)})
	if err := a.Start(context.Background()); err != nil {
		a.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if out, errs, code := run("wait-ready", "--data-dir", dir); code != 0 || !strings.Contains(out, a.URL()) {
		t.Errorf("wait-ready = exit %d, %q %q", code, out, errs)
	}
	out, errs, code := run("status", "--data-dir", dir)
	for _, want := range []string{"endpoint:  " + a.URL(), "data dir:  " + dir, "health:    ok"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("status = exit %d, %q %q; want %q", code, out, errs, want)
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
