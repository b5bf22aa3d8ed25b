package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
)

// The prober is this program re-executed inside the client instance's
// network namespace (`cachalot exec --instance i-… -- <self> -probe
// <host netns>`), started once and kept running. Protocol, one line each
// way:
//
//	parent: "TIMEOUT ADDR [ADDR…]"   (TIMEOUT a Go duration)
//	child:  "ok N MAXMS"              every address answered PING with +PONG
//	        "fail K/N FIRST-ADDR ERR" K of N did not within TIMEOUT
//
// Each address is tried every 20 ms until it answers or TIMEOUT passes;
// at most probeParallel addresses at a time.
const probeParallel = 64

type prober struct{ *cachalotproc.Child }

func startProber(ctx context.Context, s *cachalotproc.Server, inst, self string) (*prober, error) {
	c, err := s.StartLineChild(ctx, inst, self, "-probe", 20*time.Second, 50, 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	return &prober{c}, nil
}

// check asks the child to reach every address within timeout; it returns
// how long the slowest took.
func (p *prober) check(addrs []string, timeout time.Duration) (time.Duration, error) {
	line, err := p.Ask(timeout+30*time.Second, "%s %s", timeout, strings.Join(addrs, " "))
	if err != nil {
		return 0, err
	}
	var n int
	var maxMS float64
	if _, err := fmt.Sscanf(line, "ok %d %f", &n, &maxMS); err != nil || n != len(addrs) {
		return 0, fmt.Errorf("connect check of %d addresses: %s", len(addrs), line)
	}
	return time.Duration(maxMS * float64(time.Millisecond)), nil
}

func (p *prober) close() { p.Close() }

// probeMain is the child: it refuses to run in the benchmark's own (the
// host's) network namespace, named by os.Args[2].
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
		timeout, err := time.ParseDuration(f[0])
		if err != nil {
			fmt.Println("fail bad request")
			continue
		}
		fmt.Println(probeAll(f[1:], timeout))
	}
	return 0
}

func probeAll(addrs []string, timeout time.Duration) string {
	t0 := time.Now()
	deadline := t0.Add(timeout)
	var (
		mu      sync.Mutex
		maxD    time.Duration
		failed  int
		first   string
		wg      sync.WaitGroup
		next    atomic.Int64
		workers = min(probeParallel, len(addrs))
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(addrs) {
					return
				}
				var err error
				for {
					if err = ping(addrs[i]); err == nil || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				mu.Lock()
				if err != nil {
					failed++
					if first == "" {
						first = addrs[i] + " " + err.Error()
					}
				} else if d := time.Since(t0); d > maxD {
					maxD = d
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed > 0 {
		return fmt.Sprintf("fail %d/%d %s", failed, len(addrs), first)
	}
	return fmt.Sprintf("ok %d %.1f", len(addrs), float64(maxD)/float64(time.Millisecond))
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("answer %q", strings.TrimSpace(line))
	}
	return nil
}
