package cachectl

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// backend answers each connection with its name, then echoes what it
// reads.
func backend(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(name + ":"))
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestFrontSplitsByFirstByte: a connection opening with 0x16 (a TLS
// ClientHello) reaches the TLS port, any other the plaintext port, with
// its bytes intact both ways; stop closes plaintext connections and
// keeps TLS ones; close ends them all.
func TestFrontSplitsByFirstByte(t *testing.T) {
	plain, tls := backend(t, "plain"), backend(t, "tls")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newFront(ln, nil, plain, tls, slog.New(slog.DiscardHandler))
	t.Cleanup(f.close)

	talk := func(first byte) (net.Conn, string) {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := []byte{first, 'x', 'y', '\n'}
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return c, line
	}
	pc, got := talk('*')
	if want := "plain:*xy\n"; got != want {
		t.Errorf("plaintext connection got %q, want %q", got, want)
	}
	tc, got := talk(0x16)
	if want := "tls:\x16xy\n"; got != want {
		t.Errorf("TLS connection got %q, want %q", got, want)
	}

	f.stop()
	if _, err := io.ReadAll(pc); err != nil {
		t.Errorf("plaintext connection after stop: %v, want closed", err)
	}
	if _, err := tc.Write([]byte("again\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil || line != "again\n" {
		t.Errorf("TLS connection after stop = %q, %v; want it kept", line, err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the front still accepts after stop")
	}
	f.close()
	if _, err := io.ReadAll(tc); err != nil {
		t.Errorf("TLS connection after close: %v, want closed", err)
	}
}

func TestSplitPorts(t *testing.T) {
	for _, port := range []int{1024, 6379, 11211, 45534, 45535, 65535} {
		sp := splitPorts(port)
		for _, p := range []int{sp.Plain, sp.TLS} {
			if p < 1 || p > 65535 || p == port || p == port+10000 {
				t.Errorf("splitPorts(%d) = %+v", port, sp)
			}
		}
		if sp.Plain == sp.TLS {
			t.Errorf("splitPorts(%d) = %+v", port, sp)
		}
	}
}
