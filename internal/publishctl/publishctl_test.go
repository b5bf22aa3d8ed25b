package publishctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/access"
)

type fakeDomain struct {
	convergeErr error
	eps         []access.HostEndpoint
}

func (f *fakeDomain) Converge(context.Context) error { return f.convergeErr }
func (f *fakeDomain) HostEndpoints(context.Context) ([]access.HostEndpoint, error) {
	return f.eps, nil
}

func ep(addr, name string) access.HostEndpoint {
	return access.HostEndpoint{Address: addr, DNSName: name, Loopback: netip.MustParseAddr("127.64.0.2")}
}

// Reconcile writes the published names into the hosts file and removes
// them when nothing is published; a name conflict is reported, not
// retried; any other failure is.
func TestReconcile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	const machine = "127.0.0.1 localhost\n"
	if err := os.WriteFile(path, []byte(machine), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &fakeDomain{eps: []access.HostEndpoint{ep("127.64.0.2", "a.x.0001.use1.cache.amazonaws.com"),
		ep("127.0.0.1", "b.x.0001.use1.cache.amazonaws.com"), ep("127.0.0.1", "c.x.0001.use1.cache.amazonaws.com")}}
	c := New(Config{Domain: d, HostsFile: path, Prefix: "cl1", Logger: slog.New(slog.DiscardHandler)})
	if err := c.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"127.64.0.2\ta.x.0001", "127.0.0.1\tb.x.0001.use1.cache.amazonaws.com c.x.0001", "# END cachalot cl1"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("hosts file lacks %q:\n%s", want, b)
		}
	}
	d.convergeErr = fmt.Errorf("cache x left unpublished: %w", access.ErrNameConflict)
	d.eps = nil
	if err := c.Reconcile(context.Background(), nil); err != nil {
		t.Errorf("Reconcile with a name conflict = %v, want it logged only", err)
	}
	if b, _ := os.ReadFile(path); string(b) != machine {
		t.Errorf("hosts file with nothing published = %q, want %q", b, machine)
	}
	d.convergeErr = errors.New("store closed")
	if err := c.Reconcile(context.Background(), nil); err == nil {
		t.Error("Reconcile hid a failure of Converge")
	}
}
