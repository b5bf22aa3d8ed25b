// Package pki is the installation's certificate authority: one CA per
// data directory, made on first start (an ECDSA P-256 key, mode 0600,
// that never leaves the directory; the certificate, world-readable, is
// what clients trust: `cachalot ca` prints it), and the server
// certificates it issues for the caches' endpoint names (TLS in transit),
// kept beside it and issued again when their names change or a third of
// their life is left.
//
// It is a leaf: it knows DNS names and files, nothing of caches or
// engines. The cache controller (internal/cachectl) asks it for a node's
// certificate; the wiring (internal/app) opens it; the CLI reads the CA
// certificate file.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// File names in the authority's directory.
const (
	CertFile  = "ca.pem"     // the CA certificate, 0644
	keyFile   = "ca-key.pem" // the CA key, 0600
	leavesDir = "leaves"     // issued certificates and keys, 0700
)

// Lifetimes: the CA lives ten years; a server certificate 90 days and is
// renewed once less than a third of that is left (as ACME clients do).
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 90 * 24 * time.Hour
	RenewBefore  = LeafLifetime / 3
)

// Authority is an opened certificate authority. It is safe for
// concurrent use.
type Authority struct {
	dir  string
	now  func() time.Time
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte

	mu sync.Mutex // serialises Leaf's read-issue-write of one directory
}

// Open opens the authority kept in dir, making it on first use. now is
// the clock (nil: time.Now).
func Open(dir string, now func() time.Time) (*Authority, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca directory: %w", err)
	}
	a := &Authority{dir: dir, now: now}
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if errors.Is(err, fs.ErrNotExist) {
		if err := a.create(); err != nil {
			return nil, err
		}
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ca: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("read ca key: %w", err)
	}
	if a.cert, err = parseCert(certPEM); err != nil {
		return nil, fmt.Errorf("ca %s: %w", CertFile, err)
	}
	if a.key, err = parseKey(keyPEM); err != nil {
		return nil, fmt.Errorf("ca %s: %w", keyFile, err)
	}
	if !a.key.PublicKey.Equal(a.cert.PublicKey) {
		return nil, fmt.Errorf("ca %s does not match %s", keyFile, CertFile)
	}
	a.pem = certPEM
	return a, nil
}

// create makes the CA: key first (0600), then the certificate, each
// written whole by rename, so a crash leaves no half of either.
func (a *Authority) create() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("ca key: %w", err)
	}
	now := a.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Cachalot"}, CommonName: "Cachalot installation CA " + now.UTC().Format("2006-01-02T15:04:05Z")},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("ca certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("ca key: %w", err)
	}
	if err := writeAtomic(filepath.Join(a.dir, keyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeAtomic(filepath.Join(a.dir, CertFile), certPEM, 0o644); err != nil {
		return err
	}
	a.key = key
	a.cert, _ = x509.ParseCertificate(der)
	a.pem = certPEM
	return nil
}

// CertPEM is the CA certificate, PEM: what clients trust.
func (a *Authority) CertPEM() []byte { return slices.Clone(a.pem) }

// Pool is a certificate pool holding the CA only.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.cert)
	return p
}

// Leaf is an issued server certificate and its key, PEM.
type Leaf struct {
	CertPEM  []byte
	KeyPEM   []byte
	Names    []string
	NotAfter time.Time
}

// Serial identifies a leaf: the first 8 bytes of its certificate's
// SHA-256, hex. File names that change with it make a renewal visible to
// an engine that re-reads its configuration.
func (l Leaf) Serial() string {
	sum := sha256.Sum256(l.CertPEM)
	return hex.EncodeToString(sum[:8])
}

// idRE is what a leaf id may hold: it names a file.
var idRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// Leaf returns the server certificate kept under id for names (DNS names,
// wildcards allowed), issuing one when there is none, its names differ, or
// less than RenewBefore of its life is left. The same call returns the
// same certificate until then.
func (a *Authority) Leaf(id string, names []string) (Leaf, error) {
	if !idRE.MatchString(id) || strings.HasPrefix(id, ".") {
		return Leaf{}, fmt.Errorf("leaf id %q: want [A-Za-z0-9._-]", id)
	}
	if len(names) == 0 {
		return Leaf{}, fmt.Errorf("leaf %s: no names", id)
	}
	names = slices.Sorted(slices.Values(names))
	names = slices.Compact(names)
	a.mu.Lock()
	defer a.mu.Unlock()
	dir := filepath.Join(a.dir, leavesDir)
	path := filepath.Join(dir, id+".json")
	if l, err := readLeaf(path); err == nil && slices.Equal(l.Names, names) && a.now().Add(RenewBefore).Before(l.NotAfter) && a.signed(l) {
		return l, nil
	}
	l, err := a.issue(names)
	if err != nil {
		return Leaf{}, fmt.Errorf("leaf %s: %w", id, err)
	}
	b, err := json.Marshal(l)
	if err != nil {
		return Leaf{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Leaf{}, fmt.Errorf("leaves directory: %w", err)
	}
	if err := writeAtomic(path, b, 0o600); err != nil {
		return Leaf{}, err
	}
	return l, nil
}

// Forget removes the certificate kept under id (a deleted cache); absent
// is fine.
func (a *Authority) Forget(id string) error {
	if !idRE.MatchString(id) || strings.HasPrefix(id, ".") {
		return fmt.Errorf("leaf id %q: want [A-Za-z0-9._-]", id)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	err := os.Remove(filepath.Join(a.dir, leavesDir, id+".json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// signed reports whether l was issued by this CA (a CA made anew after
// its directory was lost invalidates what the old one issued).
func (a *Authority) signed(l Leaf) bool {
	c, err := parseCert(l.CertPEM)
	return err == nil && c.CheckSignatureFrom(a.cert) == nil
}

func (a *Authority) issue(names []string) (Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, err
	}
	now := a.now()
	notAfter := now.Add(LeafLifetime)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client auth too: a replica presents its certificate to its
		// primary (tls-replication).
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return Leaf{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Leaf{}, err
	}
	return Leaf{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Names:    names,
		NotAfter: notAfter,
	}, nil
}

func readLeaf(path string) (Leaf, error) {
	var l Leaf
	b, err := os.ReadFile(path)
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(b, &l)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // never fails (crypto/rand)
	return n.Add(n, big.NewInt(1))
}

func parseCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func parseKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "EC PRIVATE KEY" {
		return nil, errors.New("no PEM EC private key")
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}

// writeAtomic writes path whole: a temporary file of mode perm, renamed.
func writeAtomic(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a leftover may have other permissions
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
