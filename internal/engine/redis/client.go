package redis

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

// Conn is a minimal Redis/Valkey client (RESP2), enough for readiness
// checks, CONFIG SET and tests. It is not safe for concurrent use.
type Conn struct {
	c net.Conn
	r *bufio.Reader
}

// Error is an error reply ("-ERR ...") from the server.
type Error string

func (e Error) Error() string { return string(e) }

// Dial connects to a Redis/Valkey node. Each command's deadline is the
// context's deadline, if any.
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

// Close closes the connection.
func (r *Conn) Close() error { return r.c.Close() }

// Do sends one command and returns its reply: string (simple or bulk),
// int64, nil (null), []any (array), or a Error as the error.
func (r *Conn) Do(ctx context.Context, args ...string) (any, error) {
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
		var re Error
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, fmt.Errorf("read reply to %s: %w", args[0], err)
	}
	return v, nil
}

// String runs a command whose reply is a string.
func (r *Conn) String(ctx context.Context, args ...string) (string, error) {
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

func (r *Conn) line() (string, error) {
	s, err := r.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r"), nil
}

func (r *Conn) read() (any, error) {
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
		return nil, Error(l[1:])
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

// Ping checks the engine at addr answers PING with PONG, within a
// second, as the admin user (so a password on the default user, once
// clients get one, changes nothing). Until the dataset is loaded the
// engine answers LOADING, an error.
func (a Admin) Ping(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := a.Dial(ctx, dial, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.String(ctx, "PING")
	if err != nil {
		return err
	}
	if s != "PONG" {
		return fmt.Errorf("PING: %q", s)
	}
	return nil
}

// Pipeline sends commands at once and then reads their replies, in order;
// an error reply is its command's entry (an Error), not the run's error.
func (r *Conn) Pipeline(ctx context.Context, cmds [][]string) ([]any, error) {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	if err := r.c.SetDeadline(dl); err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, args := range cmds {
		fmt.Fprintf(&b, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := io.WriteString(r.c, b.String()); err != nil {
		return nil, fmt.Errorf("send pipeline: %w", err)
	}
	out := make([]any, 0, len(cmds))
	for range cmds {
		v, err := r.read()
		var re Error
		if errors.As(err, &re) {
			out = append(out, re)
			continue
		}
		if err != nil {
			return out, fmt.Errorf("read pipeline reply: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// Pipeline runs commands on a connection from Dial by their admin names,
// as Conn.Pipeline.
func (a Admin) Pipeline(ctx context.Context, c *Conn, cmds [][]string) ([]any, error) {
	named := make([][]string, len(cmds))
	for i, args := range cmds {
		named[i] = append([]string{a.Name(args[0])}, args[1:]...)
	}
	return c.Pipeline(ctx, named)
}
