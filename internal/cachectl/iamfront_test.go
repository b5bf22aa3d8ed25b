package cachectl

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

type fakeVerifier struct{ good string }

func (f fakeVerifier) VerifyToken(_ context.Context, c TokenCheck, token string) error {
	if c.Cache != "my-rg" || token != f.good {
		return errors.New("refused")
	}
	return nil
}

// TestIAMFront: the IAM front terminates TLS with the group's
// certificate, refuses plaintext in required mode, and passes commands to
// the engine's Unix socket (here at a path longer than sockaddr_un holds)
// with an IAM user's token replaced by its derived password, or by one
// that never matches; other users' AUTH and every other byte pass as
// sent; replies come back verbatim.
func TestIAMFront(t *testing.T) {
	dir := t.TempDir()
	ca, leaf := testLeaf(t, "rg", "master.my-rg.example")
	sockDir := filepath.Join(dir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(sockDir, "redis.sock")
	// The "engine": records the commands it gets, answers each line +OK.
	got := make(chan string, 16)
	d, err := os.Open(sockDir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", "/proc/self/fd/"+strconv.Itoa(int(d.Fd()))+"/redis.sock")
	d.Close()
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
				b, _ := io.ReadAll(c)
				got <- string(b)
			}()
		}
	}()
	secret := []byte("installation-secret")
	c := &Controller{cfg: Config{IAM: fakeVerifier{good: "GOOD-TOKEN"}, IAMSecret: secret, IAMReauth: time.Hour}, log: slog.New(slog.DiscardHandler)}
	conf, err := c.iamConfOf(iamCluster(), &tlsPair{cert: leaf.CertPEM, key: leaf.KeyPEM})
	if err != nil {
		t.Fatal(err)
	}
	fln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := startFront(fln, frontSpec{unix: sock, iam: conf}, slog.New(slog.DiscardHandler))
	t.Cleanup(f.close)

	// TLS, verified against the installation's CA.
	tc, err := tls.Dial("tcp", fln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "master.my-rg.example"})
	if err != nil {
		t.Fatalf("TLS to the front: %v", err)
	}
	sent := arr("AUTH", "app-iam", "GOOD-TOKEN") + arr("AUTH", "app-iam", "BAD-TOKEN") + arr("AUTH", "writer", "GOOD-TOKEN") +
		"HELLO 3 AUTH app-iam GOOD-TOKEN\r\n" + arr("SET", "k", "v")
	if _, err := tc.Write([]byte(sent)); err != nil {
		t.Fatal(err)
	}
	tc.CloseWrite()
	var engine string
	select {
	case engine = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the engine got nothing")
	}
	derived := iamPassword(secret, "app-iam")
	want := arr("AUTH", "app-iam", derived) + arr("AUTH", "app-iam", refusedPassword) + arr("AUTH", "writer", "GOOD-TOKEN") +
		arr("HELLO", "3", "AUTH", "app-iam", derived) + arr("SET", "k", "v")
	if engine != want {
		t.Errorf("the engine got %q, want %q", engine, want)
	}
	tc.Close()

	// Plaintext is closed in required mode.
	pc, err := net.Dial("tcp", fln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pc.SetDeadline(time.Now().Add(30 * time.Second))
	pc.Write([]byte(arr("PING")))
	if n, err := bufio.NewReader(pc).ReadString('\n'); err == nil {
		t.Errorf("plaintext in required mode answered %q", n)
	}
	pc.Close()
}

func iamCluster() *elasticache.Cluster {
	return &elasticache.Cluster{Account: "000000000000", Region: "us-east-1", ReplicationGroupID: "my-rg",
		TransitEncryptionMode: elasticache.TransitRequired,
		ACL: []elasticache.ACLUser{{Name: "default", Rules: []string{"off"}}, {Name: "app-iam", Rules: []string{"on"}, IAM: true},
			{Name: "writer", Rules: []string{"on", "#00"}}}}
}
