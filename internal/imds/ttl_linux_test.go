package imds

import (
	"context"
	"net"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

func ttlOf(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ttl int
	var gerr error
	raw.Control(func(fd uintptr) { ttl, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return ttl
}

// TestHopLimit: a token response leaves with the instance's
// HttpPutResponseHopLimit as its IP TTL; other answers with the system's.
func TestHopLimit(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	def := ttlOf(t, conn)
	s := New(Config{})
	cs := &connState{c: conn, ttl: -1}
	req := func(method string) {
		r := httptest.NewRequest(method, "/latest/api/token", nil).WithContext(context.WithValue(context.Background(), connKey{}, cs))
		s.hopLimit(r, &ec2.Metadata{HopLimit: 3})
	}
	req("PUT")
	if got := ttlOf(t, conn); got != 3 {
		t.Errorf("TTL after a token request = %d, want the hop limit 3", got)
	}
	req("GET")
	if got := ttlOf(t, conn); got != def {
		t.Errorf("TTL after a GET = %d, want the system's %d", got, def)
	}
}
