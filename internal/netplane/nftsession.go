package netplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// nftSession is a long-lived "nft -i" process inside one router namespace,
// through which incremental ruleset changes are loaded without starting a
// process per change. nft runs each input line as one transaction (all of
// it or nothing), so a change is always a single line of ";"-separated
// commands. After each change we send a sentinel command that always fails
// (listing a table nobody creates); nft reports errors in order on one
// stream, so everything it writes before the sentinel's error is the
// change's error, and no output at all means the change was committed.
//
// The process holds a reference to its namespace: close it before the
// namespace is deleted (closeSession), or the namespace outlives its name.
// It ends by itself when the daemon does (end of input).
type nftSession struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // nft's output, line by line; closed when nft exits
	inode uint64      // of the namespace it runs in
	seq   int
}

// sessionTimeout bounds one change through a session; a session that does
// not answer within it is closed.
const sessionTimeout = 10 * time.Second

// sentinelTable names the table the sentinel lists; nothing creates it.
const sentinelTable = "netplane_sync"

// startSession starts nft -i in the namespace at path.
func (p *Plane) startSession(path string, inode uint64) (*nftSession, error) {
	cmd := exec.Command(p.nsenter, "--net="+path, "--", p.nft, "-i")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start nft -i: %w", err)
	}
	w.Close()
	s := &nftSession{cmd: cmd, stdin: stdin, lines: make(chan string, 64), inode: inode}
	go func() {
		defer close(s.lines)
		defer r.Close()
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if l != "" {
				s.lines <- strings.TrimRight(l, "\n")
			}
			if err != nil {
				return
			}
		}
	}()
	return s, nil
}

// run loads line (one transaction) and returns nft's error, if any.
func (s *nftSession) run(ctx context.Context, line string) error {
	if strings.ContainsAny(line, "\n\r") {
		return errors.New("nft session: a change must be one line")
	}
	s.seq++
	sentinel := fmt.Sprintf("list table inet %s_%d", sentinelTable, s.seq)
	if _, err := io.WriteString(s.stdin, line+"\n"+sentinel+"\n"); err != nil {
		return fmt.Errorf("nft session: write: %w", err)
	}
	timer := time.NewTimer(sessionTimeout)
	defer timer.Stop()
	var out []string
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return errors.New("nft session: nft exited")
			}
			if l != sentinel {
				out = append(out, l)
				continue
			}
			// The sentinel's own report: "Error: …", the command, then a
			// line of carets under the table name.
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			select {
			case <-s.lines:
			case <-timer.C:
				return errors.New("nft session: no answer")
			}
			if len(out) > 0 {
				return &nftRejected{msg: strings.Join(out, "\n")}
			}
			return nil
		case <-timer.C:
			return errors.New("nft session: no answer")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nftRejected is nft's report of a change it refused (nothing of it was
// committed); the session is still usable.
type nftRejected struct{ msg string }

func (e *nftRejected) Error() string { return "nft: " + e.msg }

// close ends the process and waits for it.
func (s *nftSession) close() {
	s.stdin.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	for range s.lines { // let the reader finish
	}
}

// session returns the open session of router namespace nsName (inode: of
// the namespace now at path), starting one if there is none or if it runs
// in a namespace since replaced.
func (p *Plane) session(nsName, path string, inode uint64) (*nftSession, error) {
	if s := p.sessions[nsName]; s != nil {
		if s.inode == inode {
			return s, nil
		}
		p.closeSession(nsName)
	}
	s, err := p.startSession(path, inode)
	if err != nil {
		return nil, err
	}
	p.sessions[nsName] = s
	return s, nil
}

// closeSession ends the session of namespace nsName, if any.
func (p *Plane) closeSession(nsName string) {
	if s := p.sessions[nsName]; s != nil {
		s.close()
		delete(p.sessions, nsName)
	}
}

// incrementalChange is the one-line nft transaction that turns the table
// holding prev into next, given that both have the same Frame: every set
// whose elements differ is flushed and refilled, every interface chain
// whose rules differ is flushed and refilled; nothing else is touched. It
// is empty when the kernel already holds next (e.g. only a comment line of
// the text changed). sets and chains count what it refills.
func incrementalChange(prev, next *Ruleset) (change string, sets, chains int) {
	var cmds []string
	old := map[string][]string{}
	for _, s := range prev.Sets {
		old[s.Name] = addrStrings(s)
	}
	for _, s := range next.Sets {
		el := addrStrings(s)
		if prevEl, ok := old[s.Name]; ok && slices.Equal(prevEl, el) {
			continue
		}
		sets++
		cmds = append(cmds, fmt.Sprintf("flush set inet %s %s", next.Table, s.Name))
		if len(el) > 0 {
			cmds = append(cmds, fmt.Sprintf("add element inet %s %s { %s }", next.Table, s.Name, strings.Join(el, ", ")))
		}
	}
	oldChains := map[string][]string{}
	for _, c := range prev.Chains {
		oldChains[c.Name] = c.Rules
	}
	for _, c := range next.Chains {
		if prevRules, ok := oldChains[c.Name]; ok && slices.Equal(prevRules, c.Rules) {
			continue
		}
		chains++
		cmds = append(cmds, fmt.Sprintf("flush chain inet %s %s", next.Table, c.Name))
		for _, r := range c.Rules {
			cmds = append(cmds, fmt.Sprintf("add rule inet %s %s %s", next.Table, c.Name, r))
		}
	}
	return strings.Join(cmds, "; "), sets, chains
}

func addrStrings(s Set) []string {
	el := make([]string, len(s.Elements))
	for i, a := range s.Elements {
		el[i] = a.String()
	}
	return el
}
