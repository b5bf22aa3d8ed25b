package netplane

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
		if !slices.Contains([]string{"nft-generation", "nft-session", "ruleset", "apply"}, s) {
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
