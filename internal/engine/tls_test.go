//go:build linux

package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
	"github.com/cachalot-dev/cachalot/internal/pki"
)

// tlsPing connects with TLS verifying the node's certificate against
// pool for name, runs PING, and returns the certificate it saw.
func tlsPing(ctx context.Context, addr, name string, pool *x509.CertPool) (*x509.Certificate, error) {
	c, err := redis.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	tc, err := c.StartTLSForTest(ctx, &tls.Config{ServerName: name, RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer tc.Close()
	if _, err := tc.String(ctx, "PING"); err != nil {
		return nil, err
	}
	return tc.PeerCertificate(), nil
}

func TestRedisTLS(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	ca, err := pki.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const name = "tls-cache.abc123.0001.use1.cache.amazonaws.com"
	leaf, err := ca.Leaf("tls-cache", []string{name})
	if err != nil {
		t.Fatal(err)
	}
	spec := redisSpec(t, in, "tls-0001")
	spec.TLS = &TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: ca.CertPEM()}
	ctx := ctxT(t)
	st, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}

	// TLS with the CA: accepted; the supervisor's own admin connection
	// (CONFIG GET) goes over TLS too.
	got, err := tlsPing(ctx, spec.Addr(), name, ca.Pool())
	if err != nil {
		t.Fatalf("TLS PING with the CA: %v", err)
	}
	if !slices.Equal(got.DNSNames, []string{name}) {
		t.Errorf("certificate names = %v", got.DNSNames)
	}
	if _, err := tlsPing(ctx, spec.Addr(), name, x509.NewCertPool()); err == nil {
		t.Error("TLS PING without the CA succeeded")
	}
	// Plain text: refused (the port speaks TLS only).
	if c, err := redis.Dial(ctx, spec.Addr()); err == nil {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.String(short, "PING")
		cancel()
		c.Close()
		if err == nil {
			t.Error("plaintext PING answered on a TLS-only node")
		}
	}

	// The files: the engine's identity's, 0400, in its data directory.
	data := filepath.Join(s.NodeDir(spec.NodeID), dataDirName)
	for n := range spec.TLS.files() {
		fi, err := os.Lstat(filepath.Join(data, n))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o400 {
			t.Errorf("%s mode = %v, want 0400", n, fi.Mode().Perm())
		}
		if runningAsRoot() {
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
				t.Errorf("%s owned by root, want the engine's identity", n)
			}
		}
	}

	// Renewal: a Start with another certificate sets it live, same
	// process; new connections see it, the old files are gone.
	leaf2, err := ca.Leaf("tls-cache", []string{name, "other." + name})
	if err != nil {
		t.Fatal(err)
	}
	old := spec.TLS
	spec.TLS = &TLS{CertPEM: leaf2.CertPEM, KeyPEM: leaf2.KeyPEM, CAPEM: ca.CertPEM()}
	st2, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start with a renewed certificate: %v", err)
	}
	if st2.PID != st.PID {
		t.Errorf("renewal restarted the engine: pid %d -> %d", st.PID, st2.PID)
	}
	rec.wait(t, EventTLSRenewed, 5*time.Second)
	got, err = tlsPing(ctx, spec.Addr(), "other."+name, ca.Pool())
	if err != nil {
		t.Fatalf("TLS PING after renewal: %v", err)
	}
	if len(got.DNSNames) != 2 {
		t.Errorf("certificate after renewal names %v, want the new one's", got.DNSNames)
	}
	for n := range old.files() {
		if _, err := os.Lstat(filepath.Join(data, n)); err == nil {
			t.Errorf("old %s left after renewal", n)
		}
	}
	if got := configGet(t, s, spec, "tls-cert-file"); got != spec.TLS.names().CertFile {
		t.Errorf("tls-cert-file = %s, want %s", got, spec.TLS.names().CertFile)
	}
	// Switching TLS off or on is live: TestTransitSwitchLive.
}

// TestRedisTLSReadopt: a new supervisor re-adopts a TLS node with AUTH
// tokens without restarting it, reaches it over TLS, and gives it the
// certificate and tokens renewed meanwhile (as after a daemon restart
// during which they changed).
func TestRedisTLSReadopt(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	s1, dataDir := newSupervisor(t, nil)
	ca, err := pki.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const name = "adopt.abc123.0001.use1.cache.amazonaws.com"
	leaf, _ := ca.Leaf("adopt", []string{name})
	spec := redisSpec(t, in, "tls-adopt")
	spec.TLS = &TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: ca.CertPEM()}
	spec.AuthTokens = []string{tokenHash("old-token-0123456789")}
	st, err := s1.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	leaf2, _ := ca.Leaf("adopt", []string{name, "new." + name})
	spec.TLS = &TLS{CertPEM: leaf2.CertPEM, KeyPEM: leaf2.KeyPEM, CAPEM: ca.CertPEM()}
	spec.AuthTokens = []string{tokenHash("new-token-0123456789")}
	rec := newRecorder()
	s2 := New(testConfig(t, dataDir, rec))
	t.Cleanup(func() { s2.Close() })
	st2, err := s2.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if st2.PID != st.PID || !st2.Adopted || st2.TLS != spec.TLS.ID() || st2.Auth != AuthID(spec.AuthTokens) {
		t.Errorf("re-Start() = %+v, want adopted pid %d with the new certificate and tokens", st2, st.PID)
	}
	ctx := ctxT(t)
	c, err := redis.Dial(ctx, spec.Addr())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := c.StartTLSForTest(ctx, &tls.Config{ServerName: "new." + name, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatalf("TLS handshake after re-adoption for the renewed name: %v", err)
	}
	defer tc.Close()
	if _, err := tc.Do(ctx, "AUTH", "old-token-0123456789"); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH with the old token after re-adoption = %v, want WRONGPASS", err)
	}
	if _, err := tc.Do(ctx, "AUTH", "new-token-0123456789"); err != nil {
		t.Errorf("AUTH with the new token after re-adoption = %v", err)
	}
}

// mcTLSVersion connects to a memcached node with TLS verifying its
// certificate against pool for name, asks "version", and returns the
// certificate it saw.
func mcTLSVersion(ctx context.Context, addr, name string, pool *x509.CertPool) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("version\r\n")); err != nil {
		return nil, err
	}
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "VERSION ") {
		return nil, fmt.Errorf("version: %q, %v", l, err)
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

// TestMemcachedTLS: memcached with a certificate speaks TLS only on its
// port (the supervisor's readiness check and statistics go over TLS),
// its key and certificate are its identity's only, and a renewal is set
// live (refresh_certs) without a restart.
func TestMemcachedTLS(t *testing.T) {
	in := requireEngine(t, catalog.Memcached)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	ca, err := pki.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const name = "mc.abc123.0001.use1.cache.amazonaws.com"
	leaf, err := ca.Leaf("mc", []string{name})
	if err != nil {
		t.Fatal(err)
	}
	spec := memcachedSpec(t, in, "mc-tls")
	spec.TLS = &TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: ca.CertPEM()}
	ctx := ctxT(t)
	st, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mcTLSVersion(ctx, spec.Addr(), name, ca.Pool()); err != nil {
		t.Fatalf("TLS version with the CA: %v", err)
	}
	if _, err := mcTLSVersion(ctx, spec.Addr(), name, x509.NewCertPool()); err == nil {
		t.Error("TLS without the CA succeeded")
	}
	if err := memcached.Ping(ctx, nil, spec.Addr(), nil); err == nil {
		t.Error("plaintext version answered on a TLS-only node")
	}
	if _, err := s.Stats(ctx, spec.NodeID); err != nil {
		t.Errorf("Stats over TLS: %v", err)
	}
	data := filepath.Join(s.NodeDir(spec.NodeID), dataDirName)
	for n := range spec.TLS.filesFor(catalog.Memcached) {
		fi, err := os.Lstat(filepath.Join(data, n))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o400 {
			t.Errorf("%s mode = %v, want 0400", n, fi.Mode().Perm())
		}
		if runningAsRoot() {
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
				t.Errorf("%s owned by root, want the engine's identity", n)
			}
		}
	}

	leaf2, err := ca.Leaf("mc", []string{name, "other." + name})
	if err != nil {
		t.Fatal(err)
	}
	spec.TLS = &TLS{CertPEM: leaf2.CertPEM, KeyPEM: leaf2.KeyPEM, CAPEM: ca.CertPEM()}
	st2, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start with a renewed certificate: %v", err)
	}
	if st2.PID != st.PID {
		t.Errorf("renewal restarted the engine: pid %d -> %d", st.PID, st2.PID)
	}
	rec.wait(t, EventTLSRenewed, 5*time.Second)
	got, err := mcTLSVersion(ctx, spec.Addr(), "other."+name, ca.Pool())
	if err != nil {
		t.Fatalf("TLS after renewal: %v", err)
	}
	if len(got.DNSNames) != 2 {
		t.Errorf("certificate after renewal names %v, want the new one's", got.DNSNames)
	}
}

// TestMemcachedTLSReadopt: a new supervisor re-adopts a TLS memcached
// without restarting it, reaches it over TLS, and gives it the
// certificate renewed meanwhile.
func TestMemcachedTLSReadopt(t *testing.T) {
	in := requireEngine(t, catalog.Memcached)
	s1, dataDir := newSupervisor(t, nil)
	ca, err := pki.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const name = "mcadopt.abc123.0001.use1.cache.amazonaws.com"
	leaf, _ := ca.Leaf("mcadopt", []string{name})
	spec := memcachedSpec(t, in, "mc-tls-adopt")
	spec.TLS = &TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: ca.CertPEM()}
	st, err := s1.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	leaf2, _ := ca.Leaf("mcadopt", []string{name, "new." + name})
	spec.TLS = &TLS{CertPEM: leaf2.CertPEM, KeyPEM: leaf2.KeyPEM, CAPEM: ca.CertPEM()}
	s2 := New(testConfig(t, dataDir, newRecorder()))
	t.Cleanup(func() { s2.Close() })
	st2, err := s2.Start(ctxT(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if st2.PID != st.PID || !st2.Adopted || st2.TLS != spec.TLS.ID() {
		t.Errorf("re-Start() = %+v, want adopted pid %d with the new certificate", st2, st.PID)
	}
	if _, err := mcTLSVersion(ctxT(t), spec.Addr(), "new."+name, ca.Pool()); err != nil {
		t.Errorf("TLS after re-adoption for the renewed name: %v", err)
	}
}

// TestMemcachedTLSSecondPort: memcached with a second port (a serverless
// Memcached cache's reader endpoint) speaks TLS with the same certificate
// on both, serves one cache on both (set on one, get on the other), and
// refuses plaintext on both.
func TestMemcachedTLSSecondPort(t *testing.T) {
	in := requireEngine(t, catalog.Memcached)
	s, _ := newSupervisor(t, newRecorder())
	ca, err := pki.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const name = "sl-abc123.serverless.use1.cache.amazonaws.com"
	leaf, err := ca.Leaf("mc", []string{name})
	if err != nil {
		t.Fatal(err)
	}
	spec := memcachedSpec(t, in, "mc-two")
	spec.SecondPort = freePort(t)
	spec.TLS = &TLS{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: ca.CertPEM()}
	ctx := ctxT(t)
	if _, err := s.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	second := net.JoinHostPort(spec.BindIP, fmt.Sprint(spec.SecondPort))
	if got, err := mcTLSCommand(ctx, spec.Addr(), name, ca.Pool(), "set k 0 0 2\r\nv1\r\n"); err != nil || got != "STORED\r\n" {
		t.Fatalf("set on the first port: %q, %v", got, err)
	}
	if got, err := mcTLSCommand(ctx, second, name, ca.Pool(), "get k\r\n"); err != nil || got != "VALUE k 0 2\r\n" {
		t.Fatalf("get on the second port: %q, %v", got, err)
	}
	for _, addr := range []string{spec.Addr(), second} {
		if err := memcached.Ping(ctx, nil, addr, nil); err == nil {
			t.Errorf("plaintext answered on %s", addr)
		}
		if _, err := mcTLSCommand(ctx, addr, name, x509.NewCertPool(), "version\r\n"); err == nil {
			t.Errorf("TLS without the CA succeeded on %s", addr)
		}
	}
}

// mcTLSCommand sends cmd over TLS, verifying the certificate for name,
// and returns the first line of the answer.
func mcTLSCommand(ctx context.Context, addr, name string, pool *x509.CertPool, cmd string) (string, error) {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{ServerName: name, RootCAs: pool, MinVersion: tls.VersionTLS12}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}
