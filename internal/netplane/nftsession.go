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
	cmd := exec.Command(p.nsenter, "--net="+path, "--", p.nft, "-a", "-i")
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

// run loads line (one transaction) and returns what nft printed, or its
// error.
func (s *nftSession) run(ctx context.Context, line string) ([]string, error) {
	if strings.ContainsAny(line, "\n\r") {
		return nil, errors.New("nft session: a change must be one line")
	}
	s.seq++
	sentinel := fmt.Sprintf("list table inet %s_%d", sentinelTable, s.seq)
	if _, err := io.WriteString(s.stdin, line+"\n"+sentinel+"\n"); err != nil {
		return nil, fmt.Errorf("nft session: write: %w", err)
	}
	timer := time.NewTimer(sessionTimeout)
	defer timer.Stop()
	var out []string
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return nil, errors.New("nft session: nft exited")
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
				return nil, errors.New("nft session: no answer")
			}
			for _, l := range out {
				if strings.HasPrefix(l, "Error:") {
					return nil, &nftRejected{msg: strings.Join(out, "\n")}
				}
			}
			return out, nil
		case <-timer.C:
			return nil, errors.New("nft session: no answer")
		case <-ctx.Done():
			return nil, ctx.Err()
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

// ruleHandles are the kernel's handles of the rules of a table's interface
// chains, in order, and the handle the kernel gives the next new object in
// the table (handles are allocated in sequence per table, in the order of
// a transaction's commands, and never reused).
type ruleHandles struct {
	chains map[string][]uint64
	next   uint64
}

// incrementalChange is the one-line nft transaction that turns the table
// holding prev into next, given that both have the same Frame: every set
// whose elements differ is flushed and refilled; in every interface chain
// whose rules differ, the rules that differ are deleted and the new ones
// inserted in place when h knows the chain's handles, or the chain is
// flushed and refilled when it does not. Nothing else is touched. The
// change is empty when the kernel already holds next (e.g. only a comment
// line of the text changed). sets and chains count what it touches; the
// returned handles are h as it will be once the change is committed (nil
// if h is).
func incrementalChange(prev, next *Ruleset, h *ruleHandles) (change string, sets, chains int, after *ruleHandles) {
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
	if h != nil {
		after = &ruleHandles{chains: map[string][]uint64{}, next: h.next}
	}
	oldChains := map[string][]string{}
	for _, c := range prev.Chains {
		oldChains[c.Name] = c.Rules
	}
	for _, c := range next.Chains {
		prevRules, ok := oldChains[c.Name]
		var handles []uint64
		if after != nil {
			handles = h.chains[c.Name]
		}
		if ok && slices.Equal(prevRules, c.Rules) {
			if after != nil {
				after.chains[c.Name] = handles
			}
			continue
		}
		chains++
		if after != nil && ok && len(handles) == len(prevRules) {
			var cmd []string
			cmd, after.chains[c.Name] = chainDelta(next.Table, c.Name, prevRules, c.Rules, handles, &after.next)
			cmds = append(cmds, cmd...)
			continue
		}
		cmds = append(cmds, fmt.Sprintf("flush chain inet %s %s", next.Table, c.Name))
		var fresh []uint64
		for _, r := range c.Rules {
			cmds = append(cmds, fmt.Sprintf("add rule inet %s %s %s", next.Table, c.Name, r))
			if after != nil {
				after.next++
				fresh = append(fresh, after.next-1)
			}
		}
		if after != nil {
			after.chains[c.Name] = fresh
		}
	}
	return strings.Join(cmds, "; "), sets, chains, after
}

// chainDelta turns the rules of chain from old (with handles) into rules:
// the rules between their common beginning and end are deleted by handle,
// and the new ones inserted before the first rule of the common end (or
// appended when there is none). It returns the commands and the handles of
// rules once committed, advancing next by the rules added.
func chainDelta(table, chain string, old, rules []string, handles []uint64, next *uint64) ([]string, []uint64) {
	pre := 0
	for pre < len(old) && pre < len(rules) && old[pre] == rules[pre] {
		pre++
	}
	suf := 0
	for suf < len(old)-pre && suf < len(rules)-pre && old[len(old)-1-suf] == rules[len(rules)-1-suf] {
		suf++
	}
	var cmds []string
	for _, hd := range handles[pre : len(old)-suf] {
		cmds = append(cmds, fmt.Sprintf("delete rule inet %s %s handle %d", table, chain, hd))
	}
	out := slices.Clone(handles[:pre])
	for _, r := range rules[pre : len(rules)-suf] {
		if suf > 0 {
			cmds = append(cmds, fmt.Sprintf("insert rule inet %s %s position %d %s", table, chain, handles[len(old)-suf], r))
		} else {
			cmds = append(cmds, fmt.Sprintf("add rule inet %s %s %s", table, chain, r))
		}
		out = append(out, *next)
		*next++
	}
	return cmds, append(out, handles[len(old)-suf:]...)
}

// parseHandles reads the handles of the interface chains of rs, and the
// highest handle of any object, from "nft -a list table" output. It
// fails unless every chain of rs is there with as many rules as rs has.
func parseHandles(rs *Ruleset, listing []string) (*ruleHandles, error) {
	h := &ruleHandles{chains: map[string][]uint64{}}
	var chain string
	for _, l := range listing {
		l = strings.TrimSpace(l)
		i := strings.LastIndex(l, "# handle ")
		if i < 0 {
			if l == "}" {
				chain = ""
			}
			continue
		}
		var n uint64
		if _, err := fmt.Sscan(l[i+len("# handle "):], &n); err != nil {
			return nil, fmt.Errorf("handle in %q: %w", l, err)
		}
		h.next = max(h.next, n+1)
		if rest, ok := strings.CutPrefix(l[:i], "chain "); ok {
			chain = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "{"))
			continue
		}
		if strings.HasPrefix(l, "set ") || strings.HasPrefix(l, "map ") || strings.HasPrefix(l, "table ") {
			continue
		}
		if chain != "" {
			h.chains[chain] = append(h.chains[chain], n)
		}
	}
	for _, c := range rs.Chains {
		if len(h.chains[c.Name]) != len(c.Rules) {
			return nil, fmt.Errorf("chain %s: %d handles for %d rules", c.Name, len(h.chains[c.Name]), len(c.Rules))
		}
	}
	return h, nil
}

func addrStrings(s Set) []string {
	el := make([]string, len(s.Elements))
	for i, a := range s.Elements {
		el[i] = a.String()
	}
	return el
}
