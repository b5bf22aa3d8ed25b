package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// RESPConn is a minimal Redis/Valkey client (RESP2), enough for readiness
// checks, CONFIG SET and tests. It is not safe for concurrent use.
type RESPConn struct {
	c net.Conn
	r *bufio.Reader
}

// RedisError is an error reply ("-ERR ...") from the server.
type RedisError string

func (e RedisError) Error() string { return string(e) }

// DialRESP connects to a Redis/Valkey node. Each command's deadline is the
// context's deadline, if any.
func DialRESP(ctx context.Context, addr string) (*RESPConn, error) {
	return DialRESPWith(ctx, nil, addr)
}

// DialFunc opens a connection; nil means net.Dialer on the host.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (d DialFunc) dial(ctx context.Context, addr string) (net.Conn, error) {
	if d == nil {
		var nd net.Dialer
		return nd.DialContext(ctx, "tcp", addr)
	}
	return d(ctx, "tcp", addr)
}

// DialRESPWith is DialRESP through dial (e.g. inside a network namespace).
func DialRESPWith(ctx context.Context, dial DialFunc, addr string) (*RESPConn, error) {
	c, err := dial.dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &RESPConn{c: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection.
func (r *RESPConn) Close() error { return r.c.Close() }

// Do sends one command and returns its reply: string (simple or bulk),
// int64, nil (null), []any (array), or a RedisError as the error.
func (r *RESPConn) Do(ctx context.Context, args ...string) (any, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	if err := r.c.SetDeadline(dl); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(r.c, b.String()); err != nil {
		return nil, fmt.Errorf("send %s: %w", args[0], err)
	}
	v, err := r.read()
	if err != nil {
		var re RedisError
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, fmt.Errorf("read reply to %s: %w", args[0], err)
	}
	return v, nil
}

// String runs a command whose reply is a string.
func (r *RESPConn) String(ctx context.Context, args ...string) (string, error) {
	v, err := r.Do(ctx, args...)
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("%s: unexpected reply %T", args[0], v)
}

func (r *RESPConn) line() (string, error) {
	s, err := r.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r"), nil
}

func (r *RESPConn) read() (any, error) {
	l, err := r.line()
	if err != nil {
		return nil, err
	}
	if l == "" {
		return nil, errors.New("empty reply line")
	}
	switch l[0] {
	case '+':
		return l[1:], nil
	case '-':
		return nil, RedisError(l[1:])
	case ':':
		return strconv.ParseInt(l[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(l[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(l[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, 0, n)
		for range n {
			v, err := r.read()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad reply line %q", l)
}

// MemcachedConn is a minimal memcached text-protocol client for readiness
// checks and tests. It is not safe for concurrent use.
type MemcachedConn struct {
	c net.Conn
	r *bufio.Reader
}

// DialMemcached connects to a memcached node.
func DialMemcached(ctx context.Context, addr string) (*MemcachedConn, error) {
	return DialMemcachedWith(ctx, nil, addr)
}

// DialMemcachedWith is DialMemcached through dial.
func DialMemcachedWith(ctx context.Context, dial DialFunc, addr string) (*MemcachedConn, error) {
	c, err := dial.dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &MemcachedConn{c: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection.
func (m *MemcachedConn) Close() error { return m.c.Close() }

func (m *MemcachedConn) roundTrip(ctx context.Context, req string) (string, error) {
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
func (m *MemcachedConn) Version(ctx context.Context) (string, error) {
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
func (m *MemcachedConn) Set(ctx context.Context, key string, value []byte) error {
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
func (m *MemcachedConn) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
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
