package cachalotproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Child is a benchmark's own binary running inside an instance's network
// namespace (StartChild) that speaks one line each way: it first says
// "ready <its netns>", then answers requests. The parent refuses a child
// that runs in the parent's (the host's) namespace.
type Child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	NetNS string // the child's network namespace, "net:[inode]"
}

// StartLineChild starts `self flag <host netns>` in instance's namespace
// and waits up to ready for its ready line. "running" can precede the
// instance's namespace by a few ms, so a child that does not come up is
// started again, up to attempts times, every apart.
func (s *Server) StartLineChild(ctx context.Context, instance, self, flag string, ready time.Duration, attempts int, every time.Duration) (*Child, error) {
	for i := 1; ; i++ {
		c, err := s.startLineChild(ctx, instance, self, flag, ready)
		if err == nil || i >= attempts || ctx.Err() != nil {
			return c, err
		}
		time.Sleep(every)
	}
}

func (s *Server) startLineChild(ctx context.Context, instance, self, flag string, ready time.Duration) (*Child, error) {
	cmd, in, out, host, err := s.StartChild(ctx, instance, self, flag)
	if err != nil {
		return nil, fmt.Errorf("start %s child: %w", flag, err)
	}
	c := &Child{cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	line, err := c.Read(ready)
	if err != nil || !strings.HasPrefix(line, "ready ") {
		c.Close()
		return nil, fmt.Errorf("%s child did not start: %q %v", flag, line, err)
	}
	if c.NetNS = strings.TrimPrefix(line, "ready "); c.NetNS == host {
		c.Close()
		return nil, fmt.Errorf("%s child runs in the host's network namespace %s", flag, host)
	}
	return c, nil
}

// Send writes one request line.
func (c *Child) Send(format string, args ...any) error {
	_, err := fmt.Fprintf(c.in, format+"\n", args...)
	return err
}

// Read waits up to timeout for the child's next line.
func (c *Child) Read(timeout time.Duration) (string, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			return "", errors.New("child exited")
		}
		return l, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("child silent for %v", timeout)
	}
}

// Ask sends a request line and reads the answer.
func (c *Child) Ask(timeout time.Duration, format string, args ...any) (string, error) {
	if err := c.Send(format, args...); err != nil {
		return "", err
	}
	return c.Read(timeout)
}

// Close ends the child's input and waits for it, killing it after 5 s.
func (c *Child) Close() {
	c.in.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// ChildReady is the child's side of StartLineChild: it refuses to run in
// the parent's network namespace (named by os.Args[2]), saying so on
// standard error, and otherwise says "ready <netns>" and returns a
// scanner over the requests.
func ChildReady(name string) (*bufio.Scanner, bool) {
	self, err := os.Readlink("/proc/self/ns/net")
	host := ""
	if len(os.Args) > 2 {
		host = os.Args[2]
	}
	if err != nil || host == "" || self == host {
		fmt.Fprintf(os.Stderr, "%s: not inside a separate network namespace (%s, host %s); refusing\n", name, self, host)
		return nil, false
	}
	fmt.Printf("ready %s\n", self)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 16<<20)
	return in, true
}
