package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
)

// The writer is this program re-executed inside the instance's network
// namespace (`cachalot exec --instance i-… -- <self> -writer HOSTNS`): a
// client writing continuously to the group's primary endpoint by its DNS
// name (resolved at every connection, through the VPC's DNS server, as
// `cachalot exec` gives the instance's resolv.conf), reconnecting when a
// write fails. One line each way:
//
//	parent: "run R HOST:PORT WAIT"  start writing w:R:<n> to HOST:PORT;
//	                           WAIT 1: each SET is followed by WAIT 1 100
//	                           and counts as acknowledged only if a replica
//	                           has it
//	parent: "primary HOST:PORT" write there from now on
//	child:  "resumed R NS"     the first write acknowledged after a failure,
//	                           at NS (Unix nanoseconds)
//	parent: "stop R"           stop; check every acknowledged key on the
//	                           primary
//	child:  "lost R N ACKED"   N of ACKED acknowledged writes are missing
const (
	writeTimeout = 200 * time.Millisecond
	retryEvery   = time.Millisecond
)

type writer struct {
	out    *bufio.Writer
	outMu  sync.Mutex // guards out
	target atomic.Pointer[string]
}

func (w *writer) say(format string, args ...any) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	fmt.Fprintf(w.out, format+"\n", args...)
	w.out.Flush()
}

func writerMain() int {
	in, ok := cachalotproc.ChildReady("writer")
	if !ok {
		return 2
	}
	w := &writer{out: bufio.NewWriter(os.Stdout)}
	var cancel context.CancelFunc
	var done chan []int64
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 4 && f[0] == "run":
			addr := f[2]
			w.target.Store(&addr)
			var ctx context.Context
			ctx, cancel = context.WithCancel(context.Background())
			done = make(chan []int64, 1)
			go func() { done <- w.write(ctx, f[1], f[3] == "1") }()
		case len(f) == 2 && f[0] == "primary":
			addr := f[1]
			w.target.Store(&addr)
		case len(f) == 2 && f[0] == "stop" && cancel != nil:
			cancel()
			acked := <-done
			w.say("lost %s %d %d", f[1], w.missing(f[1], acked), len(acked))
			cancel = nil
		default:
			w.say("error bad command %q", in.Text())
		}
	}
	if cancel != nil {
		cancel()
		<-done
	}
	return 0
}

// write sets w:R:1, w:R:2, … on the current target until ctx ends, and
// returns the sequence numbers acknowledged.
func (w *writer) write(ctx context.Context, run string, wait bool) []int64 {
	var acked []int64
	var c *respConn
	failing := false
	for n := int64(1); ctx.Err() == nil; {
		if c == nil {
			var err error
			if c, err = dialResp(*w.target.Load()); err != nil {
				failing = true
				time.Sleep(retryEvery)
				continue
			}
		}
		ok, err := c.set(fmt.Sprintf("w:%s:%d", run, n), strconv.FormatInt(n, 10), wait)
		if err != nil {
			c.close()
			c, failing = nil, true
			time.Sleep(retryEvery)
			continue
		}
		if ok {
			if failing && len(acked) > 0 {
				// Resumed after a failure (not the first connection).
				w.say("resumed %s %d", run, time.Now().UnixNano())
			}
			failing = false
			acked = append(acked, n)
		}
		n++
		if t := *w.target.Load(); t != c.addr {
			c.close() // the endpoint moved: follow it
			c = nil
		}
	}
	if c != nil {
		c.close()
	}
	return acked
}

// missing counts the acknowledged keys the current primary lacks.
func (w *writer) missing(run string, acked []int64) int {
	c, err := dialResp(*w.target.Load())
	if err != nil {
		return -1
	}
	defer c.close()
	lost := 0
	for _, n := range acked {
		v, err := c.do("GET", fmt.Sprintf("w:%s:%d", run, n))
		if err != nil {
			return -1
		}
		if v == "" {
			lost++
		}
	}
	return lost
}

// respConn is a minimal RESP client.
type respConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func dialResp(addr string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, writeTimeout)
	if err != nil {
		return nil, err
	}
	return &respConn{addr: addr, c: c, r: bufio.NewReader(c)}, nil
}

func (c *respConn) close() { c.c.Close() }

// do sends a command and returns a simple, bulk or integer reply as a
// string ("" for nil); an error reply is an error.
func (c *respConn) do(args ...string) (string, error) {
	_ = c.c.SetDeadline(time.Now().Add(writeTimeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '-':
		return "", errors.New(line[1:])
	case line[0] == '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}

// set writes a key; with wait, it is acknowledged only once a replica has
// it (WAIT 1 100).
func (c *respConn) set(key, value string, wait bool) (bool, error) {
	if _, err := c.do("SET", key, value); err != nil {
		return false, err
	}
	if !wait {
		return true, nil
	}
	n, err := c.do("WAIT", "1", "100")
	if err != nil {
		return false, err
	}
	return n != "0", nil
}
