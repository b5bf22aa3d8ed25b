//go:build linux

package engine

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
	"github.com/cachalot-dev/cachalot/internal/pki"
)

// tlsGet reads key over TLS (the CA's chain) at addr.
func tlsGet(ctx context.Context, addr, key string, ca *pki.Authority) (string, error) {
	c, err := redis.Dial(ctx, addr)
	if err != nil {
		return "", err
	}
	tc, err := c.StartTLSForTest(ctx, &tls.Config{RootCAs: ca.Pool(), ServerName: "transit", MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", err
	}
	defer tc.Close()
	return tc.String(ctx, "GET", key)
}

// plainGet reads key in plaintext at addr, giving up after two seconds
// (a TLS listener waits for a handshake).
func plainGet(ctx context.Context, addr, key string) (string, error) {
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := redis.Dial(short, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.String(short, "GET", key)
}

// TestTransitSwitchLive: a running Redis node moves plaintext → split
// (preferred) → TLS only (required) → split → plaintext by Start, live:
// same process, data kept, each listener where the mode puts it.
func TestTransitSwitchLive(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	ca, err := pki.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("transit", []string{"transit"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	spec := redisSpec(t, in, "transit-0001")
	st, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	redisDo(t, spec.Addr(), "SET", "k", "v")
	at := func(port int) string { return net.JoinHostPort(spec.BindIP, strconv.Itoa(port)) }
	split := &Split{Plain: freePort(t), TLS: freePort(t)}
	cert := &TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: ca.CertPEM()}

	steps := []struct {
		name      string
		tls       *TLS
		split     *Split
		plain, tl string // where each is served ("" none)
	}{
		{"preferred", cert, split, at(split.Plain), at(split.TLS)},
		{"required", cert, nil, "", spec.Addr()},
		{"preferred-again", cert, split, at(split.Plain), at(split.TLS)},
		{"plaintext", nil, nil, spec.Addr(), ""},
	}
	for _, step := range steps {
		spec.TLS, spec.Split = step.tls, step.split
		got, err := s.Start(ctx, spec)
		if err != nil {
			t.Fatalf("%s: Start = %v", step.name, err)
		}
		if got.PID != st.PID {
			t.Fatalf("%s: the engine restarted: pid %d -> %d", step.name, st.PID, got.PID)
		}
		if got.Split != (step.split != nil) || (got.TLS != "") != (step.tls != nil) {
			t.Errorf("%s: status TLS %q split %v", step.name, got.TLS, got.Split)
		}
		if step.plain != "" {
			if v, err := plainGet(ctx, step.plain, "k"); err != nil || v != "v" {
				t.Errorf("%s: plaintext GET at %s = %q, %v; want v", step.name, step.plain, v, err)
			}
		}
		if step.tl != "" {
			if v, err := tlsGet(ctx, step.tl, "k", ca); err != nil || v != "v" {
				t.Errorf("%s: TLS GET at %s = %q, %v; want v", step.name, step.tl, v, err)
			}
		}
		if step.tls != nil && step.split == nil {
			if _, err := plainGet(ctx, spec.Addr(), "k"); err == nil {
				t.Errorf("%s: plaintext answered on a TLS-only port", step.name)
			}
		}
		if step.split != nil {
			if _, err := plainGet(ctx, spec.Addr(), "k"); err == nil {
				t.Errorf("%s: the engine still answers on its port, which the front is to serve", step.name)
			}
		}
		rec.wait(t, EventTransitSwitched, 5*time.Second)
	}

	// A supervisor restarted after the switch adopts the engine as it
	// listens, and switches it to what its spec asks.
	spec.TLS, spec.Split = cert, split
	if _, err := s.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := New(testConfig(t, s.cfg.DataDir, rec))
	t.Cleanup(func() { s2.Close() })
	spec.Split = nil // required, decided while no supervisor ran
	got, err := s2.Start(ctx, spec)
	if err != nil {
		t.Fatalf("adopt with another transit mode: %v", err)
	}
	if !got.Adopted || got.PID != st.PID || got.Split {
		t.Errorf("adopted = %v, pid %d (was %d), split %v", got.Adopted, got.PID, st.PID, got.Split)
	}
	if v, err := tlsGet(ctx, spec.Addr(), "k", ca); err != nil || v != "v" {
		t.Errorf("TLS GET after the adoption = %q, %v", v, err)
	}
}
