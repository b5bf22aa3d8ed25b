package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
)

// The prober is this program re-executed inside the instance's network
// namespace (`cachalot exec --instance i-… -- <self> -probe`), started once
// and kept running, so that a probe costs a few syscalls instead of a
// process start and an API call. Protocol, one line each way:
//
//	parent: "<redis|memcached> ADDR [ADDR…]"
//	child:  "ok MS [MS…]" when every ADDR answered (ms since the request,
//	        per address), or "fail REASON" after probeTimeout.
//
// Each address is tried every probeEvery: TCP connect (timeout
// dialTimeout), then PING expecting +PONG (Redis) or `version` expecting
// VERSION (memcached).
const (
	probeTimeout = 30 * time.Second
	probeEvery   = time.Millisecond
	dialTimeout  = 25 * time.Millisecond
	replyTimeout = 200 * time.Millisecond
)

// prober is the parent's handle on the child.
type prober struct{ *cachalotproc.Child }

// startProber starts the prober, again up to attempts times every apart
// (the instance's namespace can come a few ms after "running", or after
// a restart).
func startProber(ctx context.Context, s *cachalotproc.Server, inst, self string, attempts int, every time.Duration) (*prober, error) {
	c, err := s.StartLineChild(ctx, inst, self, "-probe", 10*time.Second, attempts, every)
	if err != nil {
		return nil, err
	}
	return &prober{c}, nil
}

// reached is what the child saw of one address.
type reached struct {
	after    time.Duration // since the request
	attempts int
	fails    string // failed attempts by stage and class, "-" if none
}

func (r reached) String() string {
	return fmt.Sprintf("%.1fms/%d attempts/%s", ms(r.after), r.attempts, r.fails)
}

// probe asks the child to reach every address and returns when they all
// answered, with what each took.
func (p *prober) probe(kind string, addrs []string) ([]reached, error) {
	line, err := p.Ask(probeTimeout+5*time.Second, "%s %s", kind, strings.Join(addrs, " "))
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "ok" {
		return nil, fmt.Errorf("probe %v: %s", addrs, line)
	}
	var rs []reached
	for _, v := range f[1:] {
		parts := strings.SplitN(v, "/", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("prober reply %q", line)
		}
		d, err := time.ParseDuration(parts[0])
		if err != nil {
			return nil, err
		}
		n, _ := strconv.Atoi(parts[1])
		rs = append(rs, reached{after: d, attempts: n, fails: parts[2]})
	}
	return rs, nil
}

func (p *prober) close() { p.Close() }

// probeMain is the child: it refuses to run in the network namespace of
// its parent benchmark (the host's, named by os.Args[2]), then answers
// probe requests until stdin closes.
func probeMain() int {
	in, ok := cachalotproc.ChildReady("prober")
	if !ok {
		return 2
	}
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) < 2 {
			fmt.Println("fail bad request")
			continue
		}
		t0 := time.Now()
		ds := make([]time.Duration, len(f)-1)
		attempts := make([]int, len(f)-1)
		fails := make([]string, len(f)-1)
		errs := make([]error, len(f)-1)
		var wg sync.WaitGroup
		for i, addr := range f[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ds[i], attempts[i], fails[i], errs[i] = reach(f[0], addr, t0)
			}()
		}
		wg.Wait()
		var b strings.Builder
		b.WriteString("ok")
		for i := range ds {
			if errs[i] != nil {
				b.Reset()
				fmt.Fprintf(&b, "fail %s after %d attempts (%s): %v", f[i+1], attempts[i], fails[i], errs[i])
				break
			}
			fmt.Fprintf(&b, " %s/%d/%s", ds[i], attempts[i], fails[i])
		}
		fmt.Println(b.String())
	}
	return 0
}

// reach tries addr until it answers the engine's liveness command. It
// returns the time since t0, the attempts made and how the failed ones
// failed ("refused:3,dial-timeout:1").
func reach(kind, addr string, t0 time.Time) (time.Duration, int, string, error) {
	deadline := t0.Add(probeTimeout)
	var last error
	fails := map[string]int{}
	attempts := 0
	for time.Now().Before(deadline) {
		attempts++
		var stage string
		if stage, last = answer(kind, addr); last == nil {
			return time.Since(t0), attempts, failSummary(fails), nil
		}
		fails[stage+"-"+errClass(last)]++
		time.Sleep(probeEvery)
	}
	return 0, attempts, failSummary(fails), fmt.Errorf("no answer within %v: %w", probeTimeout, last)
}

func errClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

func failSummary(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s:%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// answer makes one attempt; stage says where it failed (dial or reply).
func answer(kind, addr string) (stage string, err error) {
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return "dial", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(replyTimeout))
	req, want := "*1\r\n$4\r\nPING\r\n", "+PONG"
	if kind == "memcached" {
		req, want = "version\r\n", "VERSION "
	}
	if _, err := io.WriteString(c, req); err != nil {
		return "write", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "reply", err
	}
	if !strings.HasPrefix(line, want) {
		return "reply", fmt.Errorf("answer %q", strings.TrimSpace(line))
	}
	return "", nil
}
