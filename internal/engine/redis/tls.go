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
	// Split, when set, is ElastiCache's TransitEncryptionMode preferred:
	// the engine listens plaintext on Split.Plain and with TLS on
	// Split.TLS instead of on its port, which a front in the node's
	// network serves (internal/cachectl), handing each connection to one
	// or the other by its first byte. The engine announces its port to
	// its primary (replica-announce-port): replicas are reached there.
	// Split.Plain 0: no plaintext port (the front terminates TLS and
	// reaches the engine on its Unix socket).
	Split *Split
}

// Split are the two ports an engine in TransitEncryptionMode preferred
// listens on (TLS.Split).
type Split struct {
	Plain, TLS int
}

// directives renders the TLS part of redis.conf for a node on port.
func (t *TLS) directives(w func(k string, v ...string), port int, cluster bool) {
	if t.Split != nil {
		w("port", strconv.Itoa(t.Split.Plain))
		w("tls-port", strconv.Itoa(t.Split.TLS))
		w("replica-announce-port", strconv.Itoa(port))
	} else {
		w("port", "0")
		w("tls-port", strconv.Itoa(port))
	}
	w("tls-cert-file", quote(t.CertFile))
	w("tls-key-file", quote(t.KeyFile))
	w("tls-ca-cert-file", quote(t.CAFile))
	w("tls-auth-clients", "no")
	w("tls-protocols", strconv.Quote("TLSv1.2 TLSv1.3"))
	w("tls-replication", "yes")
	if cluster {
		w("tls-cluster", "yes")
		if t.Split != nil {
			// The cluster bus stays where it is without split ports (the
			// engine would derive it from its TLS port), and the node
			// announces the port its front serves.
			w("cluster-port", strconv.Itoa(port+10000))
			w("cluster-announce-port", strconv.Itoa(port))
			w("cluster-announce-tls-port", strconv.Itoa(port))
		}
	}
}

// RenewCommands are the CONFIG SET commands (by their plain names; send
// them through Admin.Do) that make a running engine load new certificate
// files: the engine re-reads its TLS configuration when one is set, and
// new connections get the new certificate while open ones keep theirs.
func (t TLS) RenewCommands() [][]string {
	return [][]string{{"CONFIG", "SET", "tls-cert-file", t.CertFile, "tls-key-file", t.KeyFile, "tls-ca-cert-file", t.CAFile}}
}

// TransitCommands are the CONFIG SET commands (by their plain names)
// that move a running engine listening on port from one transit mode to
// another live, without a restart: to is how it should (nil: plaintext
// on port; a TLS without Split: TLS only on port; with Split: on
// TLS.Split's ports). Connections open stay open; a listener leaving
// port closes before another takes it, so whatever else is to listen
// there (the front of preferred) binds it after these commands, and
// leaves it before them.
//
// A cluster-mode node (cluster) also switches its cluster bus's TLS and
// the ports it announces (its front's in preferred).
func TransitCommands(to *TLS, port int, cluster bool) [][]string {
	p := strconv.Itoa(port)
	var cmds [][]string
	if to != nil {
		cmds = append(cmds, []string{"CONFIG", "SET", "tls-cert-file", to.CertFile, "tls-key-file", to.KeyFile, "tls-ca-cert-file", to.CAFile,
			"tls-auth-clients", "no", "tls-protocols", "TLSv1.2 TLSv1.3"})
	}
	switch {
	case to == nil:
		// Plaintext on port: TLS off (its listener first when it holds port).
		cmds = append(cmds, []string{"CONFIG", "SET", "tls-port", "0"}, []string{"CONFIG", "SET", "port", p},
			[]string{"CONFIG", "SET", "replica-announce-port", "0", "tls-replication", "no"})
	case to.Split != nil:
		// Both listeners leave port (plaintext first when it holds it).
		cmds = append(cmds, []string{"CONFIG", "SET", "port", strconv.Itoa(to.Split.Plain)}, []string{"CONFIG", "SET", "tls-port", strconv.Itoa(to.Split.TLS)},
			[]string{"CONFIG", "SET", "replica-announce-port", p, "tls-replication", "yes"})
	default:
		cmds = append(cmds, []string{"CONFIG", "SET", "port", "0"}, []string{"CONFIG", "SET", "tls-port", p},
			[]string{"CONFIG", "SET", "replica-announce-port", "0", "tls-replication", "yes"})
	}
	if cluster {
		tlsCluster, announce := "no", "0"
		if to != nil {
			tlsCluster = "yes"
		}
		if to != nil && to.Split != nil {
			announce = p
		}
		cmds = append(cmds, []string{"CONFIG", "SET", "tls-cluster", tlsCluster, "cluster-announce-port", announce, "cluster-announce-tls-port", announce})
	}
	return cmds
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
