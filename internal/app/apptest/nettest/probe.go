package nettest

// UDP and ICMP probes beside the TCP ones in nettest.go: a datagram (or an
// echo request) sent from inside one namespace to an address inside
// another, classified as passed (answered, or refused by the destination)
// or not (no answer within the timeout, or unreachable).

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ListenUDP starts a UDP echo server on port inside the interface's
// namespace, closed at the end of the test.
func (n *Env) ListenUDP(t testing.TB, eni string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := n.App.Plane().ListenPacket(ctx, eni, "udp4", "0.0.0.0:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("ListenUDP(%s, %d) = %v", eni, port, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			k, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteTo(buf[:k], from)
		}
	}()
	t.Cleanup(func() {
		c.Close()
		wg.Wait()
	})
}

// ConnectUDP sends one datagram from inside src's namespace to addr:port
// and waits for the echo. An ICMP port unreachable (nothing listens) also
// proves the datagram arrived. An unexpected error is returned as err.
func ConnectUDP(n *Env, src, addr string, port int, timeout time.Duration) (Probe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := n.App.Plane().Dial(ctx, src, "udp4", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return Probe{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	msg := []byte("probe " + strconv.FormatUint(rand.Uint64(), 16))
	if _, err := c.Write(msg); err != nil {
		return classifyPacket(err)
	}
	buf := make([]byte, 1500)
	for {
		k, err := c.Read(buf)
		if err != nil {
			return classifyPacket(err)
		}
		if string(buf[:k]) == string(msg) {
			return Probe{true, "answered"}, nil
		}
	}
}

// Ping sends one ICMP echo request (type 8, code 0) from inside src's
// namespace to addr and waits for the matching echo reply.
func Ping(n *Env, src, addr string, timeout time.Duration) (Probe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := n.App.Plane().ListenPacket(ctx, src, "ip4:icmp", "0.0.0.0")
	if err != nil {
		return Probe{}, err
	}
	defer c.Close()
	dst, err := net.ResolveIPAddr("ip4", addr)
	if err != nil {
		return Probe{}, err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	id, seq := uint16(rand.Uint32()), uint16(rand.Uint32())
	req := []byte{8, 0, 0, 0, 0, 0, 0, 0, 'p', 'r', 'o', 'b', 'e'}
	binary.BigEndian.PutUint16(req[4:], id)
	binary.BigEndian.PutUint16(req[6:], seq)
	binary.BigEndian.PutUint16(req[2:], icmpChecksum(req))
	if _, err := c.WriteTo(req, dst); err != nil {
		return classifyPacket(err)
	}
	buf := make([]byte, 1500)
	for {
		k, from, err := c.ReadFrom(buf)
		if err != nil {
			return classifyPacket(err)
		}
		// The raw socket sees every ICMP packet of the namespace: keep the
		// reply to this request only.
		if ip, ok := from.(*net.IPAddr); !ok || !ip.IP.Equal(dst.IP) || k < 8 {
			continue
		}
		switch {
		case buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == seq:
			return Probe{true, "answered"}, nil
		case buf[0] == 3:
			return Probe{false, "unreachable"}, nil
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// classifyPacket turns the error of a datagram exchange into a Probe.
func classifyPacket(err error) (Probe, error) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Probe{true, "refused by the destination"}, nil
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return Probe{false, "unreachable"}, nil
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Probe{false, "timed out"}, nil
	}
	return Probe{}, err
}
