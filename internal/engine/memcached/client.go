package memcached

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Conn is a minimal memcached text-protocol client for readiness
// checks and tests. It is not safe for concurrent use.
type Conn struct {
	c net.Conn
	r *bufio.Reader
}

// Dial connects to a memcached node.
func Dial(ctx context.Context, addr string) (*Conn, error) {
	return DialWith(ctx, nil, addr)
}

// DialWith is Dial through dial (e.g. inside a network namespace); a nil
// dial means net.Dialer on the host. dial has the signature of
// engine.DialFunc, which converts to it.
func DialWith(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) (*Conn, error) {
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	c, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &Conn{c: c, r: bufio.NewReader(c)}, nil
}

// DialTLS is DialWith over TLS with cfg (a node with in-transit
// encryption); a nil cfg is DialWith.
func DialTLS(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, cfg *tls.Config) (*Conn, error) {
	m, err := DialWith(ctx, dial, addr)
	if err != nil || cfg == nil {
		return m, err
	}
	tc := tls.Client(m.c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		m.c.Close()
		return nil, fmt.Errorf("dial %s: tls handshake: %w", addr, err)
	}
	return &Conn{c: tc, r: bufio.NewReader(tc)}, nil
}

// Close closes the connection.
func (m *Conn) Close() error { return m.c.Close() }

func (m *Conn) roundTrip(ctx context.Context, req string) (string, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	if err := m.c.SetDeadline(dl); err != nil {
		return "", err
	}
	if _, err := io.WriteString(m.c, req); err != nil {
		return "", err
	}
	l, err := m.r.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err
}

// Version returns the server version ("1.6.18").
func (m *Conn) Version(ctx context.Context) (string, error) {
	l, err := m.roundTrip(ctx, "version\r\n")
	if err != nil {
		return "", fmt.Errorf("version: %w", err)
	}
	v, ok := strings.CutPrefix(l, "VERSION ")
	if !ok {
		return "", fmt.Errorf("version: unexpected reply %q", l)
	}
	return v, nil
}

// Set stores a value with no expiry.
func (m *Conn) Set(ctx context.Context, key string, value []byte) error {
	l, err := m.roundTrip(ctx, fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, len(value), value))
	if err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	if l != "STORED" {
		return fmt.Errorf("set %s: %s", key, l)
	}
	return nil
}

// Get returns a value, or ok=false when the key is absent.
func (m *Conn) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
	l, err := m.roundTrip(ctx, "get "+key+"\r\n")
	if err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	if l == "END" {
		return nil, false, nil
	}
	f := strings.Fields(l)
	if len(f) < 4 || f[0] != "VALUE" {
		return nil, false, fmt.Errorf("get %s: unexpected reply %q", key, l)
	}
	n, err := strconv.Atoi(f[3])
	if err != nil {
		return nil, false, fmt.Errorf("get %s: bad length %q", key, f[3])
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(m.r, buf); err != nil {
		return nil, false, fmt.Errorf("get %s: %w", key, err)
	}
	if end, err := m.r.ReadString('\n'); err != nil || strings.TrimRight(end, "\r\n") != "END" {
		return nil, false, fmt.Errorf("get %s: missing END", key)
	}
	return buf[:n], true, nil
}

// RefreshCerts makes the engine read its certificate and key files
// again (memcached's refresh_certs): new connections get the new
// certificate, open ones keep theirs.
func (m *Conn) RefreshCerts(ctx context.Context) error {
	l, err := m.roundTrip(ctx, "refresh_certs\r\n")
	if err != nil {
		return fmt.Errorf("refresh_certs: %w", err)
	}
	if l != "OK" {
		return fmt.Errorf("refresh_certs: %s", l)
	}
	return nil
}

// Ping checks the engine at addr answers "version", within a second,
// over TLS with cfg when not nil.
func Ping(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := DialTLS(ctx, dial, addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Version(ctx)
	return err
}

// SetItem stores a value with client flags and an expiry (memcached's
// exptime: seconds, beyond 30 days a Unix time; 0 none).
func (m *Conn) SetItem(ctx context.Context, key string, flags uint32, exptime int64, value []byte) error {
	l, err := m.roundTrip(ctx, fmt.Sprintf("set %s %d %d %d\r\n%s\r\n", key, flags, exptime, len(value), value))
	if err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	if l != "STORED" {
		return fmt.Errorf("set %s: %s", key, l)
	}
	return nil
}

// MetaGet reads an item with the meta command mg: its value, client
// flags and remaining TTL in seconds (-1: none); ok=false when absent.
func (m *Conn) MetaGet(ctx context.Context, key string) (value []byte, flags uint32, ttl int64, ok bool, err error) {
	l, err := m.roundTrip(ctx, "mg "+key+" v f t\r\n")
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("mg %s: %w", key, err)
	}
	if l == "EN" {
		return nil, 0, 0, false, nil
	}
	n, flags, ttl, err := parseVA(l)
	if err != nil {
		return nil, 0, 0, false, fmt.Errorf("mg %s: %w", key, err)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(m.r, buf); err != nil {
		return nil, 0, 0, false, fmt.Errorf("mg %s: %w", key, err)
	}
	return buf[:n], flags, ttl, true, nil
}

// Delete removes an item; it reports whether there was one.
func (m *Conn) Delete(ctx context.Context, key string) (bool, error) {
	l, err := m.roundTrip(ctx, "delete "+key+"\r\n")
	if err != nil {
		return false, fmt.Errorf("delete %s: %w", key, err)
	}
	switch l {
	case "DELETED":
		return true, nil
	case "NOT_FOUND":
		return false, nil
	}
	return false, fmt.Errorf("delete %s: %s", key, l)
}
