package netplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ensureRuleset loads rs into the namespace unless the kernel already holds
// exactly what we last loaded there (same namespace, and no nftables commit
// by anyone since: see nftGeneration). When only set and map elements,
// group sets and interface chains changed since then (the same frame base,
// splitFrame: a rule change, a member change, an interface that came or
// went), it changes just those through the namespace's nft session
// (incrementalChange); otherwise it replaces the table. Either way one atomic nft transaction, which leaves
// conntrack, and so established connections, alone.
func (p *Plane) ensureRuleset(ctx context.Context, nsName, path string, rs *Ruleset) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	end := p.span("nft-generation")
	gen, err := p.generation(nsName, path, st.Ino)
	end()
	if err != nil {
		return err
	}
	prev, known := p.applied[nsName]
	intact := known && prev.rs != nil && prev.inode == st.Ino && prev.gen == gen
	if intact && prev.rs.Text == rs.Text {
		return nil
	}
	delete(p.applied, nsName)
	var split *frameParts // of rs's frame, when taken apart
	if rs.Frame != "" {
		fp := splitFrame(rs)
		split = &fp
	}
	mode := "replace"
	var touched []any
	var handles *ruleHandles
	switch {
	case intact && !p.fullReplace && prev.split != nil && split != nil && prev.split.base == split.base:
		mode = "incremental"
		handles = prev.handles
		if handles == nil {
			end := p.span("nft-learn-handles")
			handles = p.learnHandles(ctx, nsName, path, st.Ino, prev.rs)
			end()
		}
		var change string
		var sets, chains int
		change, sets, chains, handles = incrementalChangeSplit(prev.rs, rs, prev.split, split, handles)
		touched = []any{"sets", sets, "chains", chains}
		end := p.span("nft-session")
		err = p.loadIncremental(ctx, nsName, path, st.Ino, change)
		end()
		if err != nil {
			p.log.Warn("incremental ruleset change failed; replacing the table", "netns", nsName, "err", err)
			mode, touched = "replace", nil
			gen, err = p.generation(nsName, path, st.Ino)
			if err != nil {
				return err
			}
		}
	case intact && prev.rs.Skeleton == rs.Skeleton:
		mode = "membership"
		end := p.span("nft-process")
		_, err = p.nftRun(ctx, path, membershipScript(rs), "-f")
		end()
	}
	if mode == "replace" {
		script := fmt.Sprintf("add table inet %s\ndelete table inet %s\n", rs.Table, rs.Table) + rs.Text
		end := p.span("nft-process")
		_, err = p.nftRun(ctx, path, script, "-f")
		end()
	}
	if err != nil {
		return fmt.Errorf("load ruleset (%s): %w", mode, err)
	}
	end = p.span("nft-generation")
	after, err := p.generation(nsName, path, st.Ino)
	end()
	if err != nil {
		return err
	}
	if after == gen+1 || (after == gen && mode == "incremental") {
		// Exactly our transaction (or, for an incremental change with
		// nothing to load, none) since we looked: remember it. Otherwise
		// someone else committed meanwhile; forget, so the next Apply
		// replaces the table again.
		if mode != "incremental" {
			handles = nil
		}
		p.applied[nsName] = appliedRuleset{inode: st.Ino, gen: after, rs: rs, split: split, handles: handles}
		if mode == "replace" && !p.fullReplace {
			p.learnLater(nsName, path)
		}
	}
	p.log.Debug("loaded ruleset", append([]any{"netns", nsName, "mode", mode}, touched...)...)
	return nil
}

// loadIncremental loads change (one line, possibly empty) through the nft
// session of the namespace; a session that fails is closed, and the next
// change starts a new one.
func (p *Plane) loadIncremental(ctx context.Context, nsName, path string, inode uint64, change string) error {
	if change == "" {
		return nil
	}
	s, err := p.session(nsName, path, inode)
	if err != nil {
		return err
	}
	start := time.Now()
	_, err = s.run(ctx, change)
	p.log.Debug("nft", "what", "incremental", "netns", nsName, "took", time.Since(start))
	var rejected *nftRejected
	if err != nil && !errors.As(err, &rejected) {
		p.closeSession(nsName)
	}
	return err
}

// learnHandles lists the table (which holds rs) through the session to
// learn the handles of its rules, or returns nil, and the change then
// refills whole chains. Done once after each replacement of the table: the
// handles of later changes are known in advance.
func (p *Plane) learnHandles(ctx context.Context, nsName, path string, inode uint64, rs *Ruleset) *ruleHandles {
	s, err := p.session(nsName, path, inode)
	if err != nil {
		return nil
	}
	out, err := s.run(ctx, "list table inet "+rs.Table)
	if err == nil {
		var h *ruleHandles
		if h, err = parseHandles(rs, out); err == nil {
			return h
		}
	}
	p.log.Warn("rule handles unknown; refilling whole chains", "netns", nsName, "err", err)
	return nil
}

// learnLater learns, once the Apply in progress has returned (it holds
// mu), the rule handles of the table just loaded whole in nsName, so that
// the next rule change there does not pay the listing (10-100 ms with
// 1,000 rules). Nothing is learnt if the table changed meanwhile.
func (p *Plane) learnLater(nsName, path string) {
	go func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		a, ok := p.applied[nsName]
		if !ok || a.rs == nil || a.handles != nil || p.closed {
			return
		}
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil || st.Ino != a.inode {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), sessionTimeout)
		defer cancel()
		if gen, err := p.generation(nsName, path, a.inode); err != nil || gen != a.gen {
			return
		}
		h := p.learnHandles(ctx, nsName, path, a.inode, a.rs)
		if gen, err := p.generation(nsName, path, a.inode); h == nil || err != nil || gen != a.gen {
			return
		}
		a.handles = h
		p.applied[nsName] = a
	}()
}

// membershipScript flushes and refills every group set of rs (nft -f).
func membershipScript(rs *Ruleset) string {
	var script strings.Builder
	for _, s := range rs.Sets {
		fmt.Fprintf(&script, "flush set inet %s %s\n", rs.Table, s.Name)
		if len(s.Elements) > 0 {
			fmt.Fprintf(&script, "add element inet %s %s { %s }\n", rs.Table, s.Name, strings.Join(addrStrings(s), ", "))
		}
	}
	return script.String()
}

// nftRun runs nft inside the namespace at path with script on stdin and
// returns its standard output.
func (p *Plane) nftRun(ctx context.Context, path, script, what string) (string, error) {
	cmd := exec.CommandContext(ctx, p.nsenter, "--net="+path, "--", p.nft, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	defer func() { p.log.Debug("nft", "what", what, "netns", filepath.Base(path), "took", time.Since(start)) }()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("nft %s: %w: %s", what, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
