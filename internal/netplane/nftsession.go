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
// (a bare word: a syntax error); nft reports errors in order on one
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

// sentinelWord begins the sentinel: a bare word, which nft rejects as a
// syntax error before it asks the kernel anything. (Listing a table nobody
// creates, as before, made nft fetch its cache of the namespace's objects
// first: 1-10 ms per change with a thousand interfaces' chains.)
const sentinelWord = "netplane_sync"

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
	sentinel := fmt.Sprintf("%s_%d", sentinelWord, s.seq)
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
			// line of carets under it.
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

// Close releases what the Plane keeps open between Applies (nft sessions,
// netlink sockets and handles, each holding a namespace alive) and leaves
// every kernel object in place; a later Apply opens them again. Call it
// when the Plane is no longer used.
func (p *Plane) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.release()
	p.closed = true
}

// release is Close with mu held.
func (p *Plane) release() {
	for name := range p.sessions {
		p.closeSession(name)
	}
	for name := range p.gens {
		p.closeSession(name)
	}
	for name := range p.handles {
		p.closeSession(name)
	}
	for name := range p.fastPaths {
		p.closeFastPath(name)
	}
	p.walked = nil
}

// closeSession ends the session of namespace nsName, if any, and closes
// its generation socket and netlink handle: before the namespace is
// deleted, or when it has been replaced.
func (p *Plane) closeSession(nsName string) {
	if s := p.sessions[nsName]; s != nil {
		s.close()
		delete(p.sessions, nsName)
	}
	if g, ok := p.gens[nsName]; ok {
		g.f.Close()
		delete(p.gens, nsName)
	}
	if h := p.handles[nsName]; h != nil {
		h.close()
		delete(p.handles, nsName)
	}
}

// ruleHandles are the rules of a table's interface chains as the kernel
// holds them (in the kernel's order, with their handles), and the handle the
// kernel gives the next new object in the table (handles are allocated in
// sequence per table, in the order of a transaction's commands, and never
// reused).
type ruleHandles struct {
	chains map[string][]kernelRule
	next   uint64
}

// kernelRule is one rule of a chain in the kernel: its text as rendered
// (Chain.Rules) and its handle.
type kernelRule struct {
	text   string
	handle uint64
}

// incrementalChange is the one-line nft transaction that turns the table
// holding prev into next, given that both have the same frame base
// (splitFrame: they differ at most in set and map elements, group sets and
// interface chains): the elements that left a set or map are deleted and
// those that joined it are added; a group set or an interface chain that
// is new is added, one that went is deleted; in every interface chain
// whose rules differ, the rules that went are deleted by handle and the
// new ones appended, when h knows the chain's handles, or the chain is
// flushed and refilled when it does not. Nothing else is touched. The
// commands are ordered so that nothing is deleted while referenced (a
// verdict map's element before its chain, a chain's rules before their
// set) and nothing is referenced before it exists. The change is empty
// when the kernel already holds next (e.g. only a comment line of the text
// changed). sets and chains count what it touches; the returned handles
// are h as it will be once the change is committed (nil if h is): the
// kernel gives each new set, chain and rule the table's next handle, in
// the order of the transaction's commands.
//
// The change never inserts at a position: nft then reads every rule of
// the table from the kernel before it commits (its rule cache, 10-30 ms
// with 1,000 rules, again on the next command), where an append or a
// delete by handle reads none (~1 ms). New rules are appended before the
// chain's final drop, which is deleted and added again in the same
// transaction (see chainChange), so the kernel's order of a chain's
// accept (return) rules may differ from the rendered one: it decides
// nothing, since every one of them has the same verdict and no side
// effect.
func incrementalChange(prev, next *Ruleset, h *ruleHandles) (change string, sets, chains int, after *ruleHandles) {
	pf, nf := splitFrame(prev), splitFrame(next)
	return incrementalChangeSplit(prev, next, &pf, &nf, h)
}

// incrementalChangeSplit is incrementalChange given the frames of prev and
// next already taken apart.
func incrementalChangeSplit(prev, next *Ruleset, pf, nf *frameParts, h *ruleHandles) (change string, sets, chains int, after *ruleHandles) {
	t := next.Table
	var cmds, addElems, dropSets []string
	consume := func() {
		if after != nil {
			after.next++
		}
	}
	if h != nil {
		after = &ruleHandles{chains: map[string][]kernelRule{}, next: h.next}
	}

	// Elements of the frame's sets and maps: deletions first (a verdict
	// map's element before the chain it jumps to), additions last (after
	// the chains they jump to).
	oldElems := map[string][]string{}
	for _, e := range pf.elems {
		oldElems[e.name] = e.elements
	}
	for _, e := range nf.elems {
		prevEl := oldElems[e.name]
		if slices.Equal(prevEl, e.elements) {
			continue
		}
		sets++
		gone, joined := difference(prevEl, e.elements), difference(e.elements, prevEl)
		if len(gone) > 0 {
			keys := make([]string, len(gone))
			for i, g := range gone {
				keys[i] = elementKey(g, e.isMap)
			}
			cmds = append(cmds, fmt.Sprintf("delete element inet %s %s { %s }", t, e.name, strings.Join(keys, ", ")))
		}
		if len(joined) > 0 {
			addElems = append(addElems, fmt.Sprintf("add element inet %s %s { %s }", t, e.name, strings.Join(joined, ", ")))
		}
	}

	// Group sets: new ones declared, members changed, old ones deleted
	// once no rule references them (last).
	old := map[string][]string{}
	for _, s := range prev.Sets {
		old[s.Name] = addrStrings(s)
	}
	for _, s := range next.Sets {
		el := addrStrings(s)
		prevEl, ok := old[s.Name]
		delete(old, s.Name)
		if ok && slices.Equal(prevEl, el) {
			continue
		}
		sets++
		if !ok {
			cmds = append(cmds, fmt.Sprintf("add set inet %s %s { %s; }", t, s.Name, nf.groupDecl[s.Name]))
			consume()
		}
		gone, joined := difference(prevEl, el), difference(el, prevEl)
		if len(gone) > 0 {
			cmds = append(cmds, fmt.Sprintf("delete element inet %s %s { %s }", t, s.Name, strings.Join(gone, ", ")))
		}
		if len(joined) > 0 {
			cmds = append(cmds, fmt.Sprintf("add element inet %s %s { %s }", t, s.Name, strings.Join(joined, ", ")))
		}
	}
	for _, s := range prev.Sets {
		if _, gone := old[s.Name]; gone {
			sets++
			dropSets = append(dropSets, fmt.Sprintf("delete set inet %s %s", t, s.Name))
		}
	}

	// Interface chains: those that went, then those that changed or came.
	oldChains := map[string][]string{}
	for _, c := range prev.Chains {
		oldChains[c.Name] = c.Rules
	}
	nextChains := map[string]bool{}
	for _, c := range next.Chains {
		nextChains[c.Name] = true
	}
	for _, c := range prev.Chains {
		if !nextChains[c.Name] {
			chains++
			cmds = append(cmds, fmt.Sprintf("flush chain inet %s %s", t, c.Name), fmt.Sprintf("delete chain inet %s %s", t, c.Name))
		}
	}
	for _, c := range next.Chains {
		prevRules, ok := oldChains[c.Name]
		var kernel []kernelRule
		if after != nil {
			kernel = h.chains[c.Name]
		}
		if ok && slices.Equal(prevRules, c.Rules) {
			if after != nil {
				after.chains[c.Name] = kernel
			}
			continue
		}
		chains++
		if after != nil && ok && len(kernel) == len(prevRules) {
			if cmd, rules, ok := chainChange(t, c.Name, kernel, c.Rules, &after.next); ok {
				cmds = append(cmds, cmd...)
				after.chains[c.Name] = rules
				continue
			}
		}
		if ok {
			cmds = append(cmds, fmt.Sprintf("flush chain inet %s %s", t, c.Name))
		} else {
			cmds = append(cmds, fmt.Sprintf("add chain inet %s %s", t, c.Name))
			consume()
		}
		var fresh []kernelRule
		for _, r := range c.Rules {
			cmds = append(cmds, fmt.Sprintf("add rule inet %s %s %s", t, c.Name, r))
			if after != nil {
				fresh = append(fresh, kernelRule{text: r, handle: after.next})
				after.next++
			}
		}
		if after != nil {
			after.chains[c.Name] = fresh
		}
	}
	cmds = append(cmds, addElems...)
	cmds = append(cmds, dropSets...)
	return strings.Join(cmds, "; "), sets, chains, after
}

// chainChange turns chain, holding kernel, into one holding rules, by
// deletes and appends only. An interface chain is a head of drop rules
// (the source/destination check), a body of rules that accept (ingress) or
// return (egress), and a final drop; ok is false unless kernel and rules
// both have that shape with the same head and final rule, and the caller
// then refills the chain. The body rules no longer wanted are deleted by
// handle; if any are new, the final drop is deleted, the new rules are
// appended and the drop after them, all in one transaction. It returns the
// commands and the chain as the kernel will hold it, advancing next by the
// rules added.
func chainChange(table, chain string, kernel []kernelRule, rules []string, next *uint64) (cmds []string, after []kernelRule, ok bool) {
	head := 0
	for head < len(rules)-1 && ruleVerdict(rules[head]) == "drop" {
		head++
	}
	n, m := len(kernel), len(rules)
	if n < head+1 || m < head+1 || kernel[n-1].text != rules[m-1] || ruleVerdict(rules[m-1]) != "drop" {
		return nil, nil, false
	}
	for i := range head {
		if kernel[i].text != rules[i] {
			return nil, nil, false
		}
	}
	body := kernel[head : n-1]
	verdict := ""
	for _, r := range rules[head : m-1] {
		if v := ruleVerdict(r); v != "accept" && v != "return" || verdict != "" && v != verdict {
			return nil, nil, false
		} else {
			verdict = v
		}
	}
	for _, k := range body {
		if v := ruleVerdict(k.text); v == "drop" || verdict != "" && v != verdict {
			return nil, nil, false
		}
	}
	want := map[string]int{}
	for _, r := range rules[head : m-1] {
		want[r]++
	}
	after = slices.Clone(kernel[:head])
	for _, k := range body {
		if want[k.text] > 0 {
			want[k.text]--
			after = append(after, k)
			continue
		}
		cmds = append(cmds, fmt.Sprintf("delete rule inet %s %s handle %d", table, chain, k.handle))
	}
	final := kernel[n-1]
	var added []string
	for _, r := range rules[head : m-1] {
		if want[r] > 0 {
			want[r]--
			added = append(added, r)
		}
	}
	if len(added) > 0 {
		cmds = append(cmds, fmt.Sprintf("delete rule inet %s %s handle %d", table, chain, final.handle))
		for _, r := range append(added, final.text) {
			cmds = append(cmds, fmt.Sprintf("add rule inet %s %s %s", table, chain, r))
			after = append(after, kernelRule{text: r, handle: *next})
			*next++
		}
		return cmds, after, true
	}
	return cmds, append(after, final), true
}

// ruleVerdict is the last word of a rendered rule before its comment:
// accept, return or drop for the rules of an interface chain.
func ruleVerdict(rule string) string {
	if i := strings.LastIndex(rule, ` comment "`); i >= 0 {
		rule = rule[:i]
	}
	f := strings.Fields(rule)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// difference returns the elements of a not in b, in a's order.
func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// parseHandles reads the handles of the interface chains of rs, and the
// highest handle of any object, from "nft -a list table" output of the
// table holding rs, loaded whole (so in the rendered order). It fails
// unless every chain of rs is there with as many rules as rs has.
func parseHandles(rs *Ruleset, listing []string) (*ruleHandles, error) {
	found := map[string][]uint64{}
	var next uint64
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
		if strings.HasPrefix(l, "table ") {
			// The table's handle counts tables (a replaced table gets a
			// new one), not the objects inside it, whose handles come
			// from the table's own counter.
			continue
		}
		next = max(next, n+1)
		if rest, ok := strings.CutPrefix(l[:i], "chain "); ok {
			chain = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "{"))
			continue
		}
		if strings.HasPrefix(l, "set ") || strings.HasPrefix(l, "map ") {
			continue
		}
		if chain != "" {
			found[chain] = append(found[chain], n)
		}
	}
	h := &ruleHandles{chains: map[string][]kernelRule{}, next: next}
	for _, c := range rs.Chains {
		hs := found[c.Name]
		if len(hs) != len(c.Rules) {
			return nil, fmt.Errorf("chain %s: %d handles for %d rules", c.Name, len(hs), len(c.Rules))
		}
		rules := make([]kernelRule, len(hs))
		for i, hd := range hs {
			rules[i] = kernelRule{text: c.Rules[i], handle: hd}
		}
		h.chains[c.Name] = rules
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
