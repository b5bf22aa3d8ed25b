package netplane

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// Config configures a Plane.
type Config struct {
	// Prefix names this installation's kernel objects (required): every
	// namespace and link is "<Prefix>-…", the nft table "inet <Prefix>".
	// 2-7 characters [a-z][a-z0-9]*, e.g. "cl" + a short id. Two
	// installations on one host must use prefixes that differ.
	Prefix string
	// Logger receives one line per kernel change. Default: slog.Default().
	Logger *slog.Logger
	// Nft is the nft binary. Default: "nft" (Debian package nftables).
	Nft string
	// Nsenter is the nsenter binary (util-linux). Default: "nsenter".
	Nsenter string
	// Unshare is the unshare binary (util-linux), for EnterOptions.ResolvConf.
	// Default: "unshare".
	Unshare string
	// NoFastPath turns the routers' eBPF fast path off (see the design
	// note, "Fast path"): every packet then crosses the router's IP stack
	// and nftables, and the next Apply detaches the program wherever an
	// earlier run attached it.
	NoFastPath bool
}

// EnterOptions are the options of a program run in a namespace
// (CommandWith, EnterArgs).
type EnterOptions struct {
	// ResolvConf, when set, is the path of a file the program sees as
	// /etc/resolv.conf.
	ResolvConf string
}

// Plane converges the kernel of this host to the desired State. Its methods
// are safe for concurrent use; Apply and Teardown are serialised.
type Plane struct {
	prefix  string
	log     *slog.Logger
	nft     string
	nsenter string
	unshare string
	// noFastPath is Config.NoFastPath.
	noFastPath bool

	// mu serialises Apply and Teardown and guards applied.
	mu sync.Mutex
	// applied remembers, per router namespace, the ruleset last loaded
	// successfully and the nftables generation it produced, so that an
	// unchanged ruleset costs no nft run and a membership-only change loads
	// only set elements. Keyed by namespace name; the inode detects a
	// namespace recreated behind our back, the generation any nftables
	// change there. Lost on restart: the first Apply after a restart
	// replaces every table.
	applied map[string]appliedRuleset
	// sessions holds, per router namespace, the nft process through which
	// incremental changes are loaded (guarded by mu; see nftSession).
	sessions map[string]*nftSession
	// gens holds, per router namespace, a netlink socket opened there once
	// to read its nftables generation (guarded by mu; see generation): a
	// socket opened for each read, by a thread entering the namespace,
	// waits up to ~15 ms after a commit that deleted rules.
	gens map[string]genSocket
	// handles holds, per namespace of ours, its open netlink handle
	// (guarded by mu): opening and closing one per namespace and Apply
	// cost more than the Apply's own work there.
	handles map[string]*nsHandle
	// walked is the plan (without routers' rulesets) of the last Apply
	// or ApplyChange that succeeded, nil after one that did not (guarded
	// by mu; see ApplyChange): the kernel's namespaces, links and routes
	// as this Plane last made them.
	walked *Plan
	// closed is set by Close and cleared by the next Apply (guarded by
	// mu): nothing is opened in the background meanwhile (learnLater).
	closed bool
	// fullReplace makes every ruleset change replace the table through a
	// new nft process, as before incremental changes: for benchmarks that
	// compare the two.
	fullReplace bool
	// justUp lists the links the Apply in progress set up (guarded by mu).
	justUp []upLink
	// fastPaths holds, per router namespace, its fast-path program and
	// map and the links last put into it (guarded by mu; see
	// fastpath_linux.go). fastPathErr, once set, is why the kernel cannot
	// run the fast path: it is not tried again.
	fastPaths   map[string]*routerFastPath
	fastPathErr error
	// trace, if set, is told how long each step of an Apply took (guarded
	// by mu): for benchmarks that break an Apply down (span).
	trace func(step string, took time.Duration)

	// hostOnce opens the host's namespace once (hostNetns); hostPath names
	// it, or hostErr says why not.
	hostOnce sync.Once
	hostPath string
	hostErr  error
}

// upLink is a link set up by the Apply in progress, and the addresses it
// gets once operationally up.
type upLink struct {
	ns, link string
	addrs    []netip.Prefix
}

// genSocket is a NETLINK_NETFILTER socket opened in a router namespace.
type genSocket struct {
	f     *os.File
	inode uint64 // of the namespace it was opened in
}

type appliedRuleset struct {
	inode   uint64 // of the namespace
	gen     uint32 // nftables generation right after our load
	rs      *Ruleset
	split   *frameParts  // rs's frame taken apart, nil for a table without one (the host's)
	handles *ruleHandles // of rs's rules in the kernel, nil if not known
}

// New returns a Plane for cfg. It has no side effects.
func New(cfg Config) (*Plane, error) {
	if err := ValidPrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	p := &Plane{
		prefix:     cfg.Prefix,
		log:        cfg.Logger,
		nft:        cfg.Nft,
		nsenter:    cfg.Nsenter,
		unshare:    cfg.Unshare,
		noFastPath: cfg.NoFastPath,
		fastPaths:  map[string]*routerFastPath{},
		applied:    map[string]appliedRuleset{},
		sessions:   map[string]*nftSession{},
		gens:       map[string]genSocket{},
		handles:    map[string]*nsHandle{},
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.nft == "" {
		p.nft = "nft"
	}
	if p.nsenter == "" {
		p.nsenter = "nsenter"
	}
	if p.unshare == "" {
		p.unshare = "unshare"
	}
	p.log = p.log.With("component", "netplane", "prefix", p.prefix)
	return p, nil
}

// Prefix returns the installation prefix.
func (p *Plane) Prefix() string { return p.prefix }

// Plan computes the Plan for st without touching the kernel; see NewPlan.
func (p *Plane) Plan(st State) (*Plan, error) { return NewPlan(p.prefix, st) }

// NetnsPath is the path of the namespace of an interface or VPC router, of
// the internet (InternetID) or of an outside client (OutsideID), for tools
// that enter namespaces themselves (nsenter --net=PATH).
func (p *Plane) NetnsPath(id string) (string, error) {
	if err := validNamespaceID(id); err != nil {
		return "", fmt.Errorf("netplane: %w", err)
	}
	return netnsDir + "/" + NamespaceName(p.prefix, id), nil
}

func validNamespaceID(id string) error {
	if id == InternetID {
		return nil
	}
	if a, ok := strings.CutPrefix(id, "outside-"); ok {
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() || OutsideID(ip) != id {
			return fmt.Errorf("invalid outside client id %q", id)
		}
		return nil
	}
	return validID(idKind(id), id)
}

// netnsDir is where named namespaces live, shared with iproute2.
const netnsDir = "/run/netns"

func idKind(id string) string {
	for i := range len(id) {
		if id[i] == '-' {
			return id[:i]
		}
	}
	return ""
}

// span starts timing a step of an Apply for trace; calling the result ends
// it. A no-op without trace. Called with mu held.
func (p *Plane) span(step string) func() {
	if p.trace == nil {
		return func() {}
	}
	start := time.Now()
	return func() { p.trace(step, time.Since(start)) }
}
