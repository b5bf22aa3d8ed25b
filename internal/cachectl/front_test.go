package cachectl

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/pki"
)

// unixEcho is an "engine" on a Unix socket that echoes what it reads.
func unixEcho(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
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
				io.Copy(c, c)
			}()
		}
	}()
	return sock
}

// TestFrontSplitsByFirstByte: in preferred, a connection opening with
// 0x16 (a TLS ClientHello) is a TLS one, terminated with the group's
// certificate, any other a plaintext one; both reach the engine's socket
// with their bytes intact both ways. stop closes plaintext connections
// and keeps TLS ones; close ends them all.
func TestFrontSplitsByFirstByte(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.Open(filepath.Join(dir, "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf("rg", []string{"master.my-rg.example"})
	if err != nil {
		t.Fatal(err)
	}
	cl := iamCluster()
	cl.TransitEncryptionMode, cl.ACL = elasticache.TransitPreferred, nil
	c := &Controller{cfg: Config{IAMSecret: []byte("s")}, log: slog.New(slog.DiscardHandler)}
	conf, err := c.iamConfOf(cl, &tlsPair{cert: leaf.CertPEM, key: leaf.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := startFront(ln, frontSpec{unix: unixEcho(t), iam: conf}, slog.New(slog.DiscardHandler))
	t.Cleanup(f.close)

	echo := func(c net.Conn, r *bufio.Reader, line string) error {
		t.Helper()
		if _, err := c.Write([]byte(line + "\r\n")); err != nil {
			return err
		}
		got, err := r.ReadString('\n')
		if err == nil && got != line+"\r\n" {
			t.Errorf("echo of %q: %q", line, got)
		}
		return err
	}
	pc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := echo(pc, bufio.NewReader(pc), "PING plain"); err != nil {
		t.Fatalf("plaintext: %v", err)
	}
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "master.my-rg.example"})
	if err != nil {
		t.Fatalf("TLS to the front: %v", err)
	}
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	tr := bufio.NewReader(tc)
	if err := echo(tc, tr, "PING tls"); err != nil {
		t.Fatalf("TLS: %v", err)
	}

	f.stop()
	if _, err := io.ReadAll(pc); err != nil {
		t.Errorf("plaintext connection after stop: %v, want closed", err)
	}
	if err := echo(tc, tr, "PING again"); err != nil {
		t.Errorf("TLS connection after stop: %v; want it kept", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the front still accepts after stop")
	}
	f.close()
	if _, err := io.ReadAll(tc); err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "closed") {
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
