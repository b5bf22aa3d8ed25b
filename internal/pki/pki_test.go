package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestOpenCreatesOnceAndKeepsKeyPrivate(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", fi.Mode().Perm())
	}
	b, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.CertPEM()) != string(b.CertPEM()) {
		t.Error("second Open made another CA")
	}
	other, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(other.CertPEM()) == string(a.CertPEM()) {
		t.Error("two directories share a CA")
	}
}

func TestOpenRefusesMismatchedKey(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	if _, err := Open(d1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(d2, nil); err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile(filepath.Join(d2, keyFile))
	if err := os.WriteFile(filepath.Join(d1, keyFile), k, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(d1, nil); err == nil {
		t.Fatal("Open with another CA's key succeeded")
	}
}

// TestLeafHandshake: a TLS 1.2 and 1.3 handshake with the issued
// certificate verifies against the CA for each of its names (wildcard
// included), and fails for another name and for another CA.
func TestLeafHandshake(t *testing.T) {
	a, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := a.Leaf("rg1", []string{"*.my-rg.abc123.use1.cache.amazonaws.com", "my-rg.abc123.use1.cache.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Open(t.TempDir(), nil)
	for _, tc := range []struct {
		name    string
		server  string
		pool    *x509.CertPool
		version uint16
		ok      bool
	}{
		{"master-tls13", "master.my-rg.abc123.use1.cache.amazonaws.com", a.Pool(), tls.VersionTLS13, true},
		{"node-tls12", "my-rg-001.my-rg.abc123.use1.cache.amazonaws.com", a.Pool(), tls.VersionTLS12, true},
		{"bare", "my-rg.abc123.use1.cache.amazonaws.com", a.Pool(), tls.VersionTLS13, true},
		{"other-name", "master.other.abc123.use1.cache.amazonaws.com", a.Pool(), tls.VersionTLS13, false},
		{"other-ca", "master.my-rg.abc123.use1.cache.amazonaws.com", other.Pool(), tls.VersionTLS13, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := net.Pipe()
			srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
			go func() { _ = srv.Handshake(); s.Close() }()
			cl := tls.Client(c, &tls.Config{ServerName: tc.server, RootCAs: tc.pool, MinVersion: tc.version, MaxVersion: tc.version})
			err := cl.Handshake()
			c.Close()
			if (err == nil) != tc.ok {
				t.Fatalf("handshake as %s = %v, want ok %v", tc.server, err, tc.ok)
			}
		})
	}
}

// TestLeafRenewal: the same names give the same certificate until a third
// of its life is left, then a new one; other names a new one at once.
func TestLeafRenewal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := Open(t.TempDir(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"b.example", "a.example"}
	l1, err := a.Leaf("c1", names)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l1.Names, []string{"a.example", "b.example"}) {
		t.Errorf("names = %v", l1.Names)
	}
	now = now.Add(LeafLifetime - RenewBefore - time.Hour)
	l2, _ := a.Leaf("c1", names)
	if l2.Serial() != l1.Serial() {
		t.Error("renewed before a third of the life was left")
	}
	now = now.Add(2 * time.Hour)
	l3, _ := a.Leaf("c1", names)
	if l3.Serial() == l1.Serial() || !l3.NotAfter.After(l1.NotAfter) {
		t.Error("not renewed with a third of the life left")
	}
	l4, _ := a.Leaf("c1", []string{"a.example"})
	if l4.Serial() == l3.Serial() {
		t.Error("not reissued for other names")
	}
	if err := a.Forget("c1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Forget("c1"); err != nil {
		t.Fatalf("second Forget: %v", err)
	}
	if _, err := a.Leaf("../x", names); err == nil {
		t.Error("Leaf accepted a path as id")
	}
}
