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
	ca, leaf := testLeaf(t, "rg", "master.my-rg.example")
	cl := iamCluster()
	cl.TransitEncryptionMode, cl.ACL = elasticache.TransitPreferred, nil
	f, ln := echoFront(t, cl, leaf)
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

// TestFrontMetersECPU: with a serverless cache's ECPU/s maximum, the
// front passes commands only as fast as the bucket refills: 300 PINGs
// against a maximum of 100 a second (a bucket of 100) reach the engine
// no sooner than 2 s after they are sent, a 3 KB SET costs 3; without a
// maximum nothing waits.
func TestFrontMetersECPU(t *testing.T) {
	if ecpuCost(14) != 1 || ecpuCost(1024) != 1 || ecpuCost(1025) != 2 || ecpuCost(3*1024+40) != 4 || ecpuCost(0) != 1 {
		t.Errorf("ecpuCost: 14 B %d, 1 KB %d, 1 KB+1 %d, 3 KB+40 %d", ecpuCost(14), ecpuCost(1024), ecpuCost(1025), ecpuCost(3*1024+40))
	}
	ca, leaf := testLeaf(t, "sl", "sl.serverless.example")
	run := func(limit int32, n int) time.Duration {
		t.Helper()
		cl := &elasticache.Cluster{Account: "1", Region: "r", ID: "sl-0001-001", ServerlessCache: "sl", ECPULimit: limit,
			TransitEncryptionMode: elasticache.TransitRequired}
		if !frontMode(cl) && limit > 0 {
			t.Fatal("a serverless cache with an ECPU maximum is not fronted")
		}
		f, ln := echoFront(t, cl, leaf)
		defer f.close()
		tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "sl.serverless.example"})
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(60 * time.Second))
		ping := arr("PING")
		t0 := time.Now()
		go tc.Write([]byte(strings.Repeat(ping, n)))
		if _, err := io.ReadFull(tc, make([]byte, len(ping)*n)); err != nil {
			t.Fatalf("echo of %d PINGs: %v", n, err)
		}
		return time.Since(t0)
	}
	if d := run(100, 300); d < 1900*time.Millisecond {
		t.Errorf("300 PINGs at an ECPU maximum of 100/s took %v, want at least 2 s", d)
	}
	if cl := (&elasticache.Cluster{ServerlessCache: "sl", TransitEncryptionMode: elasticache.TransitRequired}); frontMode(cl) {
		t.Error("a serverless cache without a maximum (and no IAM user) is fronted")
	}
}

// testLeaf opens a certificate authority in a temporary directory and
// issues a leaf certificate for names.
// echoFront starts the front of cl, with leaf for its TLS, on a loopback
// listener before unixEcho: what is sent through it comes back.
func echoFront(t *testing.T, cl *elasticache.Cluster, leaf pki.Leaf) (*front, net.Listener) {
	t.Helper()
	c := &Controller{cfg: Config{IAMSecret: []byte("s")}, log: slog.New(slog.DiscardHandler)}
	conf, err := c.iamConfOf(cl, &tlsPair{cert: leaf.CertPEM, key: leaf.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startFront(ln, frontSpec{unix: unixEcho(t), iam: conf}, slog.New(slog.DiscardHandler)), ln
}

func testLeaf(t *testing.T, name string, names ...string) (*pki.Authority, pki.Leaf) {
	t.Helper()
	ca, err := pki.Open(filepath.Join(t.TempDir(), "ca"), nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Leaf(name, names)
	if err != nil {
		t.Fatal(err)
	}
	return ca, leaf
}
