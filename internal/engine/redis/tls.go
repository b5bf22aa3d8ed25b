package redis

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
)

// TLS is a node's in-transit encryption: its certificate, key and the CA
// certificate, files named relative to Config.Dir (the engine's working
// directory), which the engine reads at start and again when they are
// set live (RenewCommands). With TLS the engine listens with TLS only on
// its port (ElastiCache's TransitEncryptionMode required): the plain port
// is closed. Clients need no certificate of their own (tls-auth-clients
// no), as on ElastiCache; replication and the cluster bus use TLS too.
type TLS struct {
	CertFile, KeyFile, CAFile string
}

// directives renders the TLS part of redis.conf for a node on port.
func (t *TLS) directives(w func(k string, v ...string), port int, cluster bool) {
	w("port", "0")
	w("tls-port", strconv.Itoa(port))
	w("tls-cert-file", quote(t.CertFile))
	w("tls-key-file", quote(t.KeyFile))
	w("tls-ca-cert-file", quote(t.CAFile))
	w("tls-auth-clients", "no")
	w("tls-protocols", strconv.Quote("TLSv1.2 TLSv1.3"))
	w("tls-replication", "yes")
	if cluster {
		w("tls-cluster", "yes")
	}
}

// RenewCommands are the CONFIG SET commands (by their plain names; send
// them through Admin.Do) that make a running engine load new certificate
// files: the engine re-reads its TLS configuration when one is set, and
// new connections get the new certificate while open ones keep theirs.
func (t TLS) RenewCommands() [][]string {
	return [][]string{{"CONFIG", "SET", "tls-cert-file", t.CertFile, "tls-key-file", t.KeyFile, "tls-ca-cert-file", t.CAFile}}
}

// ClientConfig is how Cachalot connects to a TLS node: the server's
// chain verified against the CA in caPEM; its name is not checked, since
// the supervisor dials the node's address, not one of its names.
func ClientConfig(caPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("tls: no CA certificate")
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the chain is verified below, the name deliberately not
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no server certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
			return err
		},
	}, nil
}

// startTLS runs the TLS handshake on c and returns the connection over it.
func (r *Conn) startTLS(ctx context.Context, cfg *tls.Config) (*Conn, error) {
	tc := tls.Client(r.c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		r.c.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return &Conn{c: tc, r: bufio.NewReader(tc)}, nil
}

// StartTLSForTest runs a TLS handshake with cfg on a plain connection
// from Dial: tests connect as a client would.
func (r *Conn) StartTLSForTest(ctx context.Context, cfg *tls.Config) (*Conn, error) {
	return r.startTLS(ctx, cfg)
}

// PeerCertificate is the server's certificate of a TLS connection; nil
// on a plain one.
func (r *Conn) PeerCertificate() *x509.Certificate {
	tc, ok := r.c.(*tls.Conn)
	if !ok || len(tc.ConnectionState().PeerCertificates) == 0 {
		return nil
	}
	return tc.ConnectionState().PeerCertificates[0]
}
