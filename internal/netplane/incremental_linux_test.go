package netplane

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listTable lists the table of the router of vpc as nft shows it.
func listTable(t *testing.T, p *Plane, vpc string) string {
	t.Helper()
	path, err := p.NetnsPath(vpc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nsenter", "--net="+path, "--", "nft", "list", "table", "inet", p.Prefix()).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v: %s", err, out)
	}
	return string(out)
}

// TestKernelRevokeIncremental: a rule is granted and revoked by incremental
// changes (through the nft session, not a table replacement); a connection
// established while the rule was in force survives the revoke and a new one
// is refused, as on AWS.
func TestKernelRevokeIncremental(t *testing.T) {
	p, logs := newTestPlane(t)
	st := testState()
	apply(t, p, st)
	serve(t, p, "eni-0b", 6379)
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")

	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bfromc", Protocol: "tcp", FromPort: 6379, ToPort: 6379, CIDRs: []netip.Prefix{pfx("10.0.1.30/32")}})
	logs.Reset()
	apply(t, p, st)
	if !strings.Contains(logs.String(), "mode=incremental sets=0 chains=1") {
		t.Errorf("grant not loaded as one chain; logs:\n%s", logs)
	}
	est, err := connect(p, "eni-0c", "10.0.1.20:6379", okTimeout)
	if err != nil {
		t.Fatalf("connect after grant: %v", err)
	}
	defer est.Close()

	st.Groups[1].Ingress = st.Groups[1].Ingress[:1]
	logs.Reset()
	apply(t, p, st)
	if !strings.Contains(logs.String(), "mode=incremental sets=0 chains=1") {
		t.Errorf("revoke not loaded as one chain; logs:\n%s", logs)
	}
	if err := echo(est, okTimeout); err != nil {
		t.Errorf("established connection after revoke: %v, want it alive", err)
	}
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")
	canReach(t, p, "eni-0a", "10.0.1.20:6379")
}

// TestKernelIncrementalMatchesReplace: after a series of incremental
// changes (rules and members), the kernel holds exactly what loading the
// final ruleset whole gives.
func TestKernelIncrementalMatchesReplace(t *testing.T) {
	p, logs := newTestPlane(t)
	st := testState()
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0x", VPC: "vpc-0a"})
	apply(t, p, st)
	// A rule referencing an existing set, a CIDR rule, a member change,
	// and a rule removed.
	st.Groups[1].Ingress = append(st.Groups[1].Ingress,
		Rule{ID: "sgr-0b2", Protocol: "udp", FromPort: 1000, ToPort: 2000, CIDRs: []netip.Prefix{pfx("10.0.2.0/24"), pfx("192.0.2.7/32")}},
		Rule{ID: "sgr-0b3", Protocol: "icmp", FromPort: 8, ToPort: -1, Groups: []string{"sg-0a"}})
	apply(t, p, st)
	st.Interfaces[2].Groups = []string{"sg-0c", "sg-0a"}
	apply(t, p, st)
	st.Groups[1].Ingress = st.Groups[1].Ingress[1:]
	st.Groups[2].Egress = append(st.Groups[2].Egress, Rule{ID: "sgr-0c2", Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}})
	apply(t, p, st)
	if n := strings.Count(logs.String(), "mode=incremental"); n != 3 {
		t.Errorf("%d incremental changes, want 3; logs:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "handles unknown") {
		t.Errorf("rule handles not learned; logs:\n%s", logs)
	}
	incremental := listTable(t, p, "vpc-0a")

	p.mu.Lock()
	clear(p.applied)
	p.mu.Unlock()
	logs.Reset()
	apply(t, p, st)
	if !strings.Contains(logs.String(), "mode=replace") {
		t.Fatalf("table not replaced; logs:\n%s", logs)
	}
	if whole := listTable(t, p, "vpc-0a"); sameVerdictsSorted(whole) != sameVerdictsSorted(incremental) {
		t.Errorf("incremental changes left\n%s\nloading the ruleset whole gives\n%s", incremental, whole)
	}
}

// sameVerdictsSorted sorts every run of consecutive accept (or return)
// rules in an nft listing: incremental changes append new rules before a
// chain's final drop, and the order of rules with the same verdict and no
// side effect decides nothing.
func sameVerdictsSorted(listing string) string {
	lines := strings.Split(listing, "\n")
	for i := 0; i < len(lines); {
		v := ruleVerdict(strings.TrimSpace(lines[i]))
		if v != "accept" && v != "return" {
			i++
			continue
		}
		j := i + 1
		for j < len(lines) && ruleVerdict(strings.TrimSpace(lines[j])) == v {
			j++
		}
		slices.Sort(lines[i:j])
		i = j
	}
	return strings.Join(lines, "\n")
}

// TestKernelApplyChange: ApplyChange of a rule change loads only the
// ruleset change, without walking the namespaces; a grant and a revoke
// through it are enforced, an established connection surviving the
// revoke; a new interface, or a namespace replaced behind the plane's
// back, makes it a full Apply.
func TestKernelApplyChange(t *testing.T) {
	p, logs := newTestPlane(t)
	st := testState()
	ctx := context.Background()
	if err := p.ApplyChange(ctx, st); err != nil { // nothing walked yet: a full Apply
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "msg=applied") {
		t.Fatalf("first ApplyChange did not walk the namespaces; logs:\n%s", logs)
	}
	serve(t, p, "eni-0b", 6379)
	// The handles of the table just loaded whole are learnt once that
	// Apply has returned, off the next change's path.
	router := NamespaceName(p.Prefix(), "vpc-0a")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		learnt := p.applied[router].handles != nil
		p.mu.Unlock()
		if learnt {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("rule handles not learnt after the table was loaded")
		}
	}
	var steps []string
	p.mu.Lock()
	p.trace = func(step string, _ time.Duration) { steps = append(steps, step) }
	p.mu.Unlock()

	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bfromc", Protocol: "tcp", FromPort: 6379, ToPort: 6379, CIDRs: []netip.Prefix{pfx("10.0.1.30/32")}})
	logs.Reset()
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	// Nothing walks a namespace, nor lists the table.
	for _, s := range steps {
		if !slices.Contains([]string{"compare", "nft-generation", "nft-session", "ruleset", "apply"}, s) {
			t.Errorf("steps of a rule change = %v, want the ruleset's only", steps)
			break
		}
	}
	if !slices.Contains(steps, "nft-session") {
		t.Errorf("steps of a rule change = %v, want an nft-session", steps)
	}
	if !strings.Contains(logs.String(), "mode=incremental sets=0 chains=1") {
		t.Errorf("grant not loaded as one chain; logs:\n%s", logs)
	}
	est, err := connect(p, "eni-0c", "10.0.1.20:6379", okTimeout)
	if err != nil {
		t.Fatalf("connect after grant: %v", err)
	}
	defer est.Close()
	st.Groups[1].Ingress = st.Groups[1].Ingress[:1]
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := echo(est, okTimeout); err != nil {
		t.Errorf("established connection after revoke: %v, want it alive", err)
	}
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")

	// A new interface changes the topology: walked.
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0e", Subnet: "subnet-01", PrivateIP: addr("10.0.1.50"), Groups: []string{"sg-0a"}})
	logs.Reset()
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "msg=applied") {
		t.Errorf("ApplyChange with a new interface did not walk; logs:\n%s", logs)
	}
	canReach(t, p, "eni-0e", "10.0.1.20:6379")

	// A namespace replaced behind the plane's back: walked, and repaired.
	path, _ := p.NetnsPath("eni-0e")
	if err := deleteNamespace(filepath.Base(path)); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "add", filepath.Base(path))
	logs.Reset()
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "msg=applied") {
		t.Errorf("ApplyChange after a namespace was replaced did not walk; logs:\n%s", logs)
	}
	canReach(t, p, "eni-0e", "10.0.1.20:6379")
}

// TestKernelClose: Close releases every session, socket and handle the
// Plane keeps (each holds a namespace alive) and leaves the kernel as it
// is; the next ApplyChange walks every namespace again.
func TestKernelClose(t *testing.T) {
	p, logs := newTestPlane(t)
	st := testState()
	apply(t, p, st)
	serve(t, p, "eni-0b", 6379)
	p.Close()
	p.mu.Lock()
	kept := len(p.sessions) + len(p.gens) + len(p.handles)
	p.mu.Unlock()
	if kept != 0 {
		t.Errorf("after Close the plane keeps %d sessions, sockets and handles, want 0", kept)
	}
	canReach(t, p, "eni-0a", "10.0.1.20:6379")
	logs.Reset()
	if err := p.ApplyChange(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "msg=applied") {
		t.Errorf("ApplyChange after Close did not walk; logs:\n%s", logs)
	}
}

// normalizedListing is an nft listing of one table with its blocks (sets,
// maps, chains) sorted, each element list sorted and every run of rules
// with the same verdict sorted (sameVerdictsSorted): incremental changes
// add blocks and elements in another order than a whole load, which
// decides nothing.
func normalizedListing(listing string) string {
	var blocks []string
	var cur []string
	lines := strings.Split(listing, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t\t\t") {
			i++
			l += " " + strings.TrimSpace(lines[i])
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "elements = {"); ok {
			el := strings.Split(strings.TrimSuffix(rest, "}"), ",")
			for j := range el {
				el[j] = strings.TrimSpace(el[j])
			}
			slices.Sort(el)
			l = "\t\telements = { " + strings.Join(el, ", ") + " }"
		}
		switch {
		case strings.TrimSpace(l) == "":
		case strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "\t\t") && strings.HasSuffix(l, "{"):
			cur = []string{l}
		case l == "\t}" && cur != nil:
			blocks = append(blocks, sameVerdictsSorted(strings.Join(append(cur, l), "\n")))
			cur = nil
		case cur != nil:
			cur = append(cur, l)
		default:
			blocks = append(blocks, l)
		}
	}
	slices.Sort(blocks)
	return strings.Join(blocks, "\n")
}

// TestKernelIncrementalInterfaces: interfaces that come and go (in a new
// group, in a VPC with a DNS server) are loaded by ApplyChange as
// incremental changes through the session (their chains, group set and
// elements), not a table replacement; each is reachable as soon as
// ApplyChange returns and enforced (a group that admits nothing stays
// out); rule changes after them still find their handles; and the kernel
// then holds what loading the final ruleset whole gives.
func TestKernelIncrementalInterfaces(t *testing.T) {
	p, logs := newTestPlane(t)
	st := testState()
	st.VPCs[0].DNS = true
	ctx := context.Background()
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	serve(t, p, "eni-0b", 6379)
	serve(t, p, "eni-0a", 6379)
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0e", VPC: "vpc-0a", Egress: []Rule{{ID: "sgr-0eout", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}}})
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bfrome", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0e"}})
	st.Interfaces = append(st.Interfaces,
		Interface{ID: "eni-0e", Subnet: "subnet-01", PrivateIP: addr("10.0.1.50"), Groups: []string{"sg-0e"}},
		Interface{ID: "eni-0f", Subnet: "subnet-02", PrivateIP: addr("10.0.2.60"), Groups: []string{"sg-0c"}})
	logs.Reset()
	var opened []string // the namespaces ApplyChange looked at
	p.mu.Lock()
	p.trace = func(step string, _ time.Duration) {
		if step == "namespace" {
			opened = append(opened, step)
		}
	}
	p.mu.Unlock()
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.trace = nil
	p.mu.Unlock()
	if !strings.Contains(logs.String(), "mode=incremental") || strings.Contains(logs.String(), "mode=replace") {
		t.Errorf("new interfaces not loaded incrementally; logs:\n%s", logs)
	}
	// The two new namespaces and the router, not the four others.
	if len(opened) != 3 || !strings.Contains(logs.String(), "namespaces_changed=3 namespaces_gone=0") {
		t.Errorf("ApplyChange of two new interfaces opened %d namespaces, want 3; logs:\n%s", len(opened), logs)
	}
	canReach(t, p, "eni-0e", "10.0.1.20:6379")
	cannotReach(t, p, "eni-0f", "10.0.1.20:6379")
	cannotReach(t, p, "eni-0e", "10.0.1.10:6379")

	// A rule change on top, then one interface goes and its group with it.
	st.Groups[0].Ingress = append(st.Groups[0].Ingress, Rule{ID: "sgr-0afromf", Protocol: "tcp", FromPort: 6379, ToPort: 6379, CIDRs: []netip.Prefix{pfx("10.0.2.60/32")}})
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	canReach(t, p, "eni-0f", "10.0.1.10:6379")
	st.Interfaces = slices.DeleteFunc(st.Interfaces, func(i Interface) bool { return i.ID == "eni-0e" })
	st.Groups[1].Ingress = st.Groups[1].Ingress[:1]
	st.Groups = slices.DeleteFunc(st.Groups, func(g SecurityGroup) bool { return g.ID == "sg-0e" })
	logs.Reset()
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "mode=incremental") || strings.Contains(logs.String(), "mode=replace") {
		t.Errorf("interface removal not loaded incrementally; logs:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "namespaces_changed=1 namespaces_gone=1") {
		t.Errorf("interface removal: not only the router changed and one namespace gone; logs:\n%s", logs)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, NamespaceName(p.Prefix(), "eni-0e"))); err == nil {
		t.Errorf("namespace of the removed interface left")
	}
	links, err := nsHandleFor(t, p, "vpc-0a").LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var ours int
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, p.Prefix()+"-") {
			ours++
		}
	}
	if ours != len(st.Interfaces) {
		t.Errorf("router holds %d links of ours for %d interfaces", ours, len(st.Interfaces))
	}
	st.Groups[0].Ingress = nil
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	cannotReach(t, p, "eni-0f", "10.0.1.10:6379")
	canReach(t, p, "eni-0a", "10.0.1.20:6379")
	if strings.Contains(logs.String(), "failed") || strings.Contains(logs.String(), "handles unknown") {
		t.Errorf("an incremental change failed or lost its handles; logs:\n%s", logs)
	}
	incremental := listTable(t, p, "vpc-0a")

	p.mu.Lock()
	clear(p.applied)
	p.mu.Unlock()
	logs.Reset()
	apply(t, p, st)
	if !strings.Contains(logs.String(), "mode=replace") {
		t.Fatalf("table not replaced; logs:\n%s", logs)
	}
	if whole := listTable(t, p, "vpc-0a"); normalizedListing(whole) != normalizedListing(incremental) {
		t.Errorf("incremental changes left\n%s\nloading the ruleset whole gives\n%s", incremental, whole)
	}
}

// TestKernelSessionRejects: a change nft refuses comes back as nftRejected
// with nft's message, and the session answers the next change as usual.
func TestKernelSessionRejects(t *testing.T) {
	p, _ := newTestPlane(t)
	apply(t, p, testState())
	router := NamespaceName(p.Prefix(), "vpc-0a")
	path, _ := p.NetnsPath("vpc-0a")
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, err := p.session(router, path, st.Ino)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = s.run(ctx, "add rule inet "+p.Prefix()+" no-such-chain drop")
	var rejected *nftRejected
	if !errors.As(err, &rejected) || !strings.Contains(err.Error(), "no-such-chain") {
		t.Errorf("bad change: %v, want nft's refusal naming the chain", err)
	}
	out, err := s.run(ctx, "list chain inet "+p.Prefix()+" input")
	if err != nil || !strings.Contains(strings.Join(out, "\n"), "chain input") {
		t.Errorf("after a refusal: %v, %q, want the chain listed", err, out)
	}
	if _, err := s.run(ctx, "add element inet "+p.Prefix()+" sg-0a { 10.0.1.99 }"); err != nil {
		t.Errorf("good change after a refusal: %v", err)
	}
}
