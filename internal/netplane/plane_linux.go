package netplane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Apply converges the kernel to st: it creates what is missing, fixes what
// differs and deletes what carries the prefix but is no longer desired, from
// any prior state (nothing, a previous State, a half-applied one after
// kill -9). Objects that NewPlan rejects are left out and reported in the
// error, joined with any kernel error; everything else is applied anyway.
// An unchanged State costs a few milliseconds (no nft run). Stop the
// processes of an interface before removing it from the State: a process
// keeps its deleted namespace alive, unnamed and disconnected.
func (p *Plane) Apply(ctx context.Context, st State) error {
	plan, perr := NewPlan(p.prefix, st)
	if plan == nil {
		return perr
	}
	return errors.Join(perr, p.ApplyPlan(ctx, plan))
}

// ApplyChange is Apply for a change of st since the last Apply, trusting
// that nothing but this Plane changed the namespaces' links, addresses and
// routes since: when the plan of st has the same namespaces, links,
// addresses, routes and host objects as the last Apply that succeeded, and
// every namespace is still the one that Apply saw, it converges only the
// routers' rulesets (as Apply does: nothing to do for an unchanged one, set
// elements and the rules that changed for a change of rules or members).
// When namespaces came, went or changed (an interface created or deleted)
// and the host's objects did not, it creates the new ones, deletes those
// that went, and in those that changed (the router of a new interface)
// configures only the links and routes that changed: the rest is not
// looked at. Otherwise it is Apply. A security-group change then costs its
// nft change, and a new interface its own namespace and its router's
// changes, with no walk of every namespace. Drift of links or routes is
// repaired by the next Apply (the daemon's full reconciles, at start and
// periodically).
func (p *Plane) ApplyChange(ctx context.Context, st State) error {
	plan, perr := NewPlan(p.prefix, st)
	if plan == nil {
		return perr
	}
	return errors.Join(perr, p.applyPlan(ctx, plan, true))
}

// ApplyPlan converges the kernel to plan (made by NewPlan with this Plane's
// prefix). See Apply.
func (p *Plane) ApplyPlan(ctx context.Context, plan *Plan) error {
	return p.applyPlan(ctx, plan, false)
}

// ApplyPlanChange is ApplyChange for a plan.
func (p *Plane) ApplyPlanChange(ctx context.Context, plan *Plan) error {
	return p.applyPlan(ctx, plan, true)
}

func (p *Plane) applyPlan(ctx context.Context, plan *Plan, change bool) (err error) {
	if plan.Prefix != p.prefix {
		return fmt.Errorf("netplane: plan for prefix %q applied to plane %q", plan.Prefix, p.prefix)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.span("apply")()
	p.closed = false
	end := p.span("compare")
	topo := topologyOf(plan)
	if change && p.unchangedTopology(topo) {
		end()
		return p.applyRulesets(ctx, plan)
	}
	var delta *topoDelta // nil: walk every namespace
	if change {
		delta = p.deltaFrom(topo)
	}
	end()
	p.walked = nil
	defer func() {
		if err == nil {
			p.walked = topo
		}
	}()

	start := time.Now()
	var phases []any
	phase := func(name string) {
		phases = append(phases, name, time.Since(start).Round(10*time.Microsecond))
	}
	defer func() {
		if delta != nil {
			phases = append(phases, "namespaces_changed", len(delta.changed), "namespaces_gone", len(delta.gone))
		}
		p.log.Debug("applied", phases...)
	}()

	var errs []error
	// The handles of our namespaces stay open across Applies (p.handles);
	// the host's is opened for this one.
	open := map[string]*nsHandle{}
	defer func() {
		if h := open[HostNamespace]; h != nil {
			h.close()
		}
	}()
	ready := map[string]bool{} // router namespaces whose ruleset is loaded

	// 1. Namespaces; for routers the ruleset, before any link exists.
	for _, ns := range plan.Namespaces {
		if err := ctx.Err(); err != nil {
			return err
		}
		if delta != nil && !delta.changed[ns.Name] && ns.Ruleset == nil {
			continue // as walked last time
		}
		end := p.span("namespace")
		h, err := p.ensureNamespace(ns)
		end()
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
			continue
		}
		open[ns.Name] = h
		if ns.Ruleset != nil {
			end := p.span("ruleset")
			err := p.ensureRuleset(ctx, ns.Name, h.path, ns.Ruleset)
			end()
			if err != nil {
				errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
				// The previous table, if any, stays in force; without one,
				// the router must not forward at all.
				if _, lerr := p.nftRun(ctx, h.path, "list table inet "+p.prefix+"\n", "list"); lerr != nil {
					if ferr := inNamespace(h.path, func() error { return writeSysctl("net/ipv4/ip_forward", "0") }); ferr != nil {
						errs = append(errs, fmt.Errorf("namespace %s: fail closed: %w", ns.Name, ferr))
					}
				}
				continue
			}
			ready[ns.Name] = true
		}
	}

	if plan.Host != nil {
		h, err := p.ensureHost(ctx, plan.Host)
		if err != nil {
			errs = append(errs, fmt.Errorf("host: %w", err))
		} else {
			open[HostNamespace] = h
		}
	}

	phase("namespaces")

	// 2. Veth pairs.
	end = p.span("veths")
	for _, v := range plan.Veths {
		if delta != nil && delta.veths[v] {
			continue // as walked last time
		}
		a, b := open[v.A.Namespace], open[v.B.Namespace]
		if a == nil || b == nil {
			continue // reported above
		}
		if err := p.ensureVeth(a, b, v); err != nil {
			errs = append(errs, fmt.Errorf("veth %s/%s-%s/%s: %w", v.A.Namespace, v.A.Name, v.B.Namespace, v.B.Name, err))
		}
	}

	end()
	phase("veths")

	// 3. Links, then routes.
	errs = append(errs, p.configureAll(ctx, plan, open, ready, delta, phase)...)

	// 3b. The routers' fast path, on links that carry traffic.
	end = p.span("fastpath")
	errs = append(errs, p.ensureFastPaths(plan, open, ready, delta)...)
	end()
	phase("fastpath")

	// 4. Namespaces we own that are no longer desired.
	end = p.span("stale")
	defer end()
	want := map[string]bool{}
	for _, ns := range plan.Namespaces {
		want[ns.Name] = true
	}
	var owned []string
	if delta != nil {
		owned = delta.gone
	} else if owned, err = p.ownedNamespaces(); err != nil {
		errs = append(errs, err)
	}
	for _, name := range owned {
		if want[name] {
			continue
		}
		p.closeSession(name)
		p.closeFastPath(name)
		if err := deleteNamespace(name); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", name, err))
			continue
		}
		delete(p.applied, name)
		p.log.Debug("deleted namespace", "netns", name)
	}
	if plan.Host == nil && delta == nil {
		if err := p.removeHost(ctx); err != nil {
			errs = append(errs, fmt.Errorf("host: %w", err))
		}
	}
	phase("stale")
	return errors.Join(errs...)
}

// configureAll is step 3 of ApplyPlan: links, then routes, in every open
// namespace; ready names the routers whose ruleset is loaded. With a delta,
// only in the namespaces it names as changed, and in those it had walked
// before only the links and routes that changed since.
func (p *Plane) configureAll(ctx context.Context, plan *Plan, open map[string]*nsHandle, ready map[string]bool, delta *topoDelta, phase func(string)) []error {
	var errs []error
	// Interfaces first: their addresses must exist before the routers
	// route to them, or a router asks for a neighbour that cannot answer
	// yet. The neighbour settings of a link are written
	// before it comes up, and no route leads to a link before both ends of
	// its veth carry traffic: a packet routed to a new link at once makes
	// the router solicit its neighbour, and the solicitation (or its answer)
	// is lost while an end is not yet operationally up; the retry then
	// waits retrans_time, a second by default (see waitOperUp).
	ordered := slices.Clone(plan.Namespaces)
	if plan.Host != nil {
		ordered = append(ordered, *plan.Host)
	}
	slices.SortStableFunc(ordered, func(a, b Namespace) int {
		return cmp.Compare(roleOrder(a.Role), roleOrder(b.Role))
	})
	// prev is the namespace as walked last time, when only what changed
	// since is to be done there.
	prev := func(ns Namespace) (*Namespace, bool) {
		if delta == nil {
			return nil, true
		}
		return delta.prev[ns.Name], delta.changed[ns.Name]
	}
	for _, ns := range ordered {
		h := open[ns.Name]
		was, todo := prev(ns)
		if h == nil || !todo {
			continue
		}
		links := ns
		if was != nil {
			links.Links = changedLinks(was.Links, ns.Links)
		}
		end := p.span("sysctls")
		if p.linkDown(h, links) {
			if err := neighbourSysctls(h.path, links); err != nil {
				errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
			}
		}
		end()
		end = p.span("links")
		var err error
		if was != nil {
			err = p.configureLinkDelta(h, was.Links, ns.Links)
		} else {
			err = p.configureLinks(h, ns)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
		}
		end()
	}
	phase("links")
	end := p.span("oper-up")
	errs = append(errs, p.waitOperUp(ctx, open)...)
	end()
	phase("oper-up")
	for _, ns := range ordered {
		h := open[ns.Name]
		was, todo := prev(ns)
		if h == nil || !todo {
			continue
		}
		configure := p.configureRoutes
		if ns.Role == RoleHost {
			configure = p.configureHostRoutes
		}
		if was != nil {
			configure = func(h *nsHandle, want []Route) error { return p.configureRouteDelta(h, was.Routes, want) }
		}
		end := p.span("routes")
		if err := configure(h, ns.Routes); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
		}
		end()
		end = p.span("forwarding")
		if (ns.Role == RoleRouter && ready[ns.Name]) || ns.Role == RoleInternet {
			// A router forwards once its table is loaded; the internet only
			// forwards between its links: it has no link, and no route, to
			// anything else.
			if err := inNamespace(h.path, func() error { return writeSysctl("net/ipv4/ip_forward", "1") }); err != nil {
				errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
			}
		}
		end()
	}
	phase("routes")
	return errs
}

// Teardown removes every namespace (and with them every link, route and
// table) carrying the prefix, and in the daemon's own namespace (the host's)
// every link carrying it (with their addresses and routes) and the table of
// published endpoints. Processes still running in a namespace keep it alive, unnamed,
// until they exit: stop them first.
func (p *Plane) Teardown(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	owned, err := p.ownedNamespaces()
	if err != nil {
		errs = append(errs, err)
	}
	p.release()
	for _, name := range owned {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := deleteNamespace(name); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", name, err))
			continue
		}
		p.log.Debug("deleted namespace", "netns", name)
	}
	clear(p.applied)
	if err := p.deleteHostTable(ctx); err != nil {
		errs = append(errs, err)
	}
	p.closeSession(HostNamespace)
	links, err := netlink.LinkList()
	if err != nil {
		errs = append(errs, fmt.Errorf("list host links: %w", err))
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, p.prefix+"-") {
			if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete host link %s: %w", l.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Command returns a command that runs argv inside the namespace of the
// interface (or VPC router) id: nsenter enters the namespace, then execs
// argv, so the program is unmodified and the daemon never changes namespace.
// Cancelling ctx kills it. The namespace must exist (Apply first).
func (p *Plane) Command(ctx context.Context, id string, argv ...string) (*exec.Cmd, error) {
	return p.CommandWith(ctx, id, EnterOptions{}, argv...)
}

// CommandWith is Command with options: see EnterArgs.
func (p *Plane) CommandWith(ctx context.Context, id string, opt EnterOptions, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, errors.New("netplane: command: empty argv")
	}
	enter, err := p.EnterArgs(id, opt)
	if err != nil {
		return nil, err
	}
	args := append(enter, argv...)
	return exec.CommandContext(ctx, args[0], args[1:]...), nil
}

// EnterArgs returns the argv prefix that runs a program, appended to it,
// inside the namespace of id: nsenter --net=PATH --, then, with
// opt.ResolvConf, unshare (util-linux) and a shell that bind-mounts that
// file over /etc/resolv.conf in the program's own mount namespace (private:
// nothing propagates to the host) before it execs the program — what
// ip netns exec does with /etc/netns/NAME/resolv.conf. If the mount fails
// (no /etc/resolv.conf to mount over), it says so on stderr and runs the
// program anyway. The namespace must exist (Apply first).
func (p *Plane) EnterArgs(id string, opt EnterOptions) ([]string, error) {
	path, err := p.existingNetns(id)
	if err != nil {
		return nil, err
	}
	args := []string{p.nsenter, "--net=" + path, "--"}
	if opt.ResolvConf != "" {
		args = append(args, p.unshare, "--mount", "--propagation", "private", "--",
			"/bin/sh", "-c", `mount --bind "$0" /etc/resolv.conf || echo "cachalot: $0 not mounted over /etc/resolv.conf: names will not resolve through the VPC's DNS server" >&2; exec "$@"`,
			opt.ResolvConf)
	}
	return args, nil
}

// Dial connects from inside the namespace of interface id, as a program
// running there would (source address: the interface's). The connection
// outlives the call; only the socket is created in the namespace.
func (p *Plane) Dial(ctx context.Context, id, network, address string) (net.Conn, error) {
	path, err := p.existingNetns(id)
	if err != nil {
		return nil, err
	}
	var c net.Conn
	err = inNamespace(path, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Listen listens inside the namespace of interface id.
func (p *Plane) Listen(ctx context.Context, id, network, address string) (net.Listener, error) {
	path, err := p.existingNetns(id)
	if err != nil {
		return nil, err
	}
	var l net.Listener
	err = inNamespace(path, func() error {
		var lc net.ListenConfig
		var err error
		l, err = lc.Listen(ctx, network, address)
		return err
	})
	return l, err
}

// ListenPacket opens a packet listener (udp4, ip4:icmp, …) inside the
// namespace of interface id.
func (p *Plane) ListenPacket(ctx context.Context, id, network, address string) (net.PacketConn, error) {
	path, err := p.existingNetns(id)
	if err != nil {
		return nil, err
	}
	var c net.PacketConn
	err = inNamespace(path, func() error {
		var lc net.ListenConfig
		var err error
		c, err = lc.ListenPacket(ctx, network, address)
		return err
	})
	return c, err
}

func (p *Plane) existingNetns(id string) (string, error) {
	path, err := p.NetnsPath(id)
	if err != nil {
		return "", err
	}
	if !isNsfs(path) {
		return "", fmt.Errorf("netplane: no namespace for %s: %w", id, os.ErrNotExist)
	}
	return path, nil
}

// inNamespace runs fn on a fresh goroutine locked to its OS thread, moved
// into the namespace at path. The thread is never unlocked, so the runtime
// terminates it when the goroutine ends: no thread of the daemon ever comes
// back from another namespace.
func inNamespace(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open %s: %w", path, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// nsHandle is an open namespace and a netlink handle bound to it.
type nsHandle struct {
	name, path string
	ns         netns.NsHandle
	h          *netlink.Handle
	inode      uint64 // of the namespace
}

func (n *nsHandle) close() {
	n.h.Close()
	n.ns.Close()
}

func isNsfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

func (p *Plane) ownedNamespaces() ([]string, error) {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), p.prefix+"-") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// ensureNamespace creates the named namespace if missing (or if only a
// stale file is left from a crash between create and mount), brings lo up
// and returns an open handle.
func (p *Plane) ensureNamespace(ns Namespace) (*nsHandle, error) {
	path := filepath.Join(netnsDir, ns.Name)
	if !isNsfs(path) {
		p.closeSession(ns.Name)
		if err := deleteNamespace(ns.Name); err != nil {
			return nil, fmt.Errorf("remove stale %s: %w", path, err)
		}
		if err := createNamespace(path); err != nil {
			return nil, err
		}
		delete(p.applied, ns.Name)
		p.log.Debug("created namespace", "netns", ns.Name, "role", ns.Role, "resource", ns.Resource)
		if ns.Role == RoleRouter {
			// A new namespace may inherit forwarding from the host; keep it off
			// until the ruleset is loaded.
			if err := inNamespace(path, func() error { return writeSysctl("net/ipv4/ip_forward", "0") }); err != nil {
				return nil, err
			}
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("stat: %w", err)
	}
	n := p.handles[ns.Name]
	if n != nil && n.inode != st.Ino {
		n.close()
		delete(p.handles, ns.Name)
		n = nil
	}
	if n == nil {
		nsh, err := netns.GetFromPath(path)
		if err != nil {
			return nil, fmt.Errorf("open: %w", err)
		}
		h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
		if err != nil {
			nsh.Close()
			return nil, fmt.Errorf("netlink handle: %w", err)
		}
		n = &nsHandle{name: ns.Name, path: path, ns: nsh, h: h, inode: st.Ino}
		p.handles[ns.Name] = n
	}
	lo, err := n.h.LinkByName("lo")
	if err == nil && lo.Attrs().Flags&net.FlagUp == 0 {
		err = n.h.LinkSetUp(lo)
	}
	if err != nil {
		n.close()
		delete(p.handles, ns.Name)
		return nil, fmt.Errorf("lo up: %w", err)
	}
	return n, nil
}

func writeSysctl(key, value string) error {
	path := "/proc/sys/" + key
	cur, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// linkDown reports whether a link of ns (lo aside) is missing or not up:
// the neighbour settings are written (entering the namespace) only then,
// before configureLinks brings it up.
func (p *Plane) linkDown(h *nsHandle, ns Namespace) bool {
	for _, l := range ns.Links {
		if l.Name == LoopbackLink {
			continue
		}
		link, err := h.h.LinkByName(l.Name)
		if err != nil || link.Attrs().Flags&net.FlagUp == 0 {
			return true
		}
	}
	return false
}

// neighbourSysctls sets the neighbour (ARP) parameters of ns's links; they
// must be in place before a link comes up, since a solicitation takes the
// retry time in force when it leaves. A neighbour asked for before it can
// answer is asked again after 100 ms, not a second, on every link; routers
// answer proxy ARP at once, without the default random delay of up to
// 0.8 s, so that an instance's first ARP for a neighbour in its subnet is
// answered immediately.
func neighbourSysctls(path string, ns Namespace) error {
	if ns.Role != RoleRouter && ns.Role != RoleInterface && ns.Role != RoleOutside && ns.Role != RoleHost {
		return nil
	}
	return inNamespace(path, func() error {
		var errs []error
		// neigh/default exists only in the initial namespace: set each link.
		for _, l := range ns.Links {
			if l.Name == LoopbackLink {
				continue // no neighbours
			}
			if ns.Role == RoleRouter {
				errs = append(errs, writeSysctl("net/ipv4/neigh/"+l.Name+"/proxy_delay", "0"))
			}
			errs = append(errs, writeSysctl("net/ipv4/neigh/"+l.Name+"/retrans_time_ms", "100"))
			if ns.Role == RoleHost {
				// The host's packets to a published endpoint leave with a
				// loopback source (translated to the host client on the
				// way out) and their replies come back to it: the kernel
				// routes 127/8 on this link only with route_localnet.
				errs = append(errs, writeSysctl("net/ipv4/conf/"+l.Name+"/route_localnet", "1"))
			}
		}
		if ns.Role == RoleRouter {
			errs = append(errs, writeSysctl("net/ipv4/conf/all/proxy_arp", "1"))
		}
		return errors.Join(errs...)
	})
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}

func (p *Plane) linkByName(h *nsHandle, name string) (netlink.Link, error) {
	l, err := h.h.LinkByName(name)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	return l, nil
}

// ensureVeth makes sure v.A and v.B are the two ends of one veth pair,
// deleting whatever else carries their names.
func (p *Plane) ensureVeth(a, b *nsHandle, v Veth) error {
	la, err := p.linkByName(a, v.A.Name)
	if err != nil {
		return err
	}
	lb, err := p.linkByName(b, v.B.Name)
	if err != nil {
		return err
	}
	if la != nil && lb != nil && la.Type() == "veth" && lb.Type() == "veth" &&
		la.Attrs().ParentIndex == lb.Attrs().Index && lb.Attrs().ParentIndex == la.Attrs().Index {
		return nil
	}
	for _, x := range []struct {
		h *nsHandle
		l netlink.Link
	}{{a, la}, {b, lb}} {
		if x.l != nil {
			if err := x.h.h.LinkDel(x.l); err != nil && !isNotFound(err) {
				return fmt.Errorf("delete %s: %w", x.l.Attrs().Name, err)
			}
			p.log.Debug("deleted mismatched link", "netns", x.h.name, "link", x.l.Attrs().Name)
		}
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: v.A.Name},
		PeerName:      v.B.Name,
		PeerNamespace: netlink.NsFd(int(b.ns)),
	}
	if err := a.h.LinkAdd(veth); err != nil {
		return fmt.Errorf("add: %w", err)
	}
	p.log.Debug("created veth", "netns", a.name, "link", v.A.Name, "peer_netns", b.name, "peer", v.B.Name)
	return nil
}

// configureLinks sets addresses, alias and state of ns's links and deletes
// stale links of ours; routes come later (configureRoutes).
func (p *Plane) configureLinks(h *nsHandle, ns Namespace) error {
	var errs []error
	wantLink := map[string]bool{}
	for _, l := range ns.Links {
		wantLink[l.Name] = true
		if err := p.configureLink(h, l); err != nil {
			errs = append(errs, fmt.Errorf("link %s: %w", l.Name, err))
		}
	}
	if ns.Role == RoleRouter || ns.Role == RoleInternet || ns.Role == RoleHost {
		links, err := h.h.LinkList()
		if err != nil {
			errs = append(errs, fmt.Errorf("list links: %w", err))
		}
		for _, l := range links {
			name := l.Attrs().Name
			if strings.HasPrefix(name, p.prefix+"-") && !wantLink[name] {
				if err := h.h.LinkDel(l); err != nil && !isNotFound(err) {
					errs = append(errs, fmt.Errorf("delete stale link %s: %w", name, err))
					continue
				}
				p.log.Debug("deleted stale link", "netns", ns.Name, "link", name)
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Plane) configureLink(h *nsHandle, want Link) error {
	l, err := p.linkByName(h, want.Name)
	if err != nil {
		return err
	}
	if l == nil {
		return fmt.Errorf("missing: %w", os.ErrNotExist)
	}
	if l.Attrs().Alias != want.Alias {
		if err := h.h.LinkSetAlias(l, want.Alias); err != nil {
			return fmt.Errorf("alias: %w", err)
		}
	}
	have, err := h.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	wanted := map[netip.Prefix]bool{}
	for _, a := range want.Addrs {
		wanted[a] = true
	}
	for _, a := range have {
		pfx, ok := ipnetPrefix(a.IPNet)
		if ok && wanted[pfx] {
			delete(wanted, pfx)
			continue
		}
		if err := h.h.AddrDel(l, &a); err != nil {
			return fmt.Errorf("delete address %s: %w", a.IPNet, err)
		}
		p.log.Debug("deleted address", "netns", h.name, "link", want.Name, "addr", a.IPNet.String())
	}
	var missing []netip.Prefix
	for _, a := range want.Addrs {
		if wanted[a] {
			missing = append(missing, a)
		}
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("up: %w", err)
		}
		// Its addresses come once both ends carry packets (waitOperUp):
		// an address brings its subnet's connected route, and a neighbour
		// asked for over a link whose peer is not yet up is asked again
		// only after retrans_time.
		p.justUp = append(p.justUp, upLink{ns: h.name, link: want.Name, addrs: missing})
		return nil
	}
	return p.addAddrs(h, l, missing)
}

func (p *Plane) addAddrs(h *nsHandle, l netlink.Link, addrs []netip.Prefix) error {
	for _, a := range addrs {
		if err := h.h.AddrReplace(l, &netlink.Addr{IPNet: prefixIPNet(a)}); err != nil {
			return fmt.Errorf("add address %s: %w", a, err)
		}
		p.log.Debug("added address", "netns", h.name, "link", l.Attrs().Name, "addr", a.String())
	}
	return nil
}

// operUpWait bounds the wait for new links to come up.
const operUpWait = 500 * time.Millisecond

// waitOperUp waits until every link set up by this Apply is operationally
// up (or the bound passes), then forgets them. A veth end is up (the flag)
// at once, has carrier (IFF_LOWER_UP) once its peer is up too, but carries
// packets only after the kernel's link watcher has run for it: until then
// its queueing discipline is noop, which drops everything. The watcher sets
// the operational state (RFC 2863) just before it attaches the real
// queueing discipline, under the RTNL lock, so a link seen operationally
// up is ready for anything done through netlink after.
// It then gives them their addresses, in the order they came up
// (interfaces before routers).
func (p *Plane) waitOperUp(ctx context.Context, open map[string]*nsHandle) []error {
	defer func() { p.justUp = p.justUp[:0] }()
	deadline := time.Now().Add(operUpWait)
	for _, u := range p.justUp {
		h := open[u.ns]
		if h == nil || u.link == "lo" {
			continue
		}
		for time.Now().Before(deadline) && ctx.Err() == nil {
			l, err := h.h.LinkByName(u.link)
			if err != nil || l.Attrs().OperState == netlink.OperUp {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	var errs []error
	for _, u := range p.justUp {
		h := open[u.ns]
		if h == nil || len(u.addrs) == 0 {
			continue
		}
		l, err := h.h.LinkByName(u.link)
		if err == nil {
			err = p.addAddrs(h, l, u.addrs)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: link %s: %w", u.ns, u.link, err))
		}
	}
	return errs
}

func (p *Plane) configureRoutes(h *nsHandle, want []Route) error {
	type key struct {
		dst   netip.Prefix
		index int
		via   netip.Addr
	}
	wanted := map[key]*netlink.Route{}
	for _, r := range want {
		l, err := p.linkByName(h, r.Dev)
		if err != nil {
			return err
		}
		if l == nil {
			return fmt.Errorf("route %s: link %s missing", r, r.Dev)
		}
		wanted[key{r.Dst, l.Attrs().Index, r.Via}] = netlinkRoute(l, r)
	}
	have, err := h.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range have {
		if r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if r.Dst != nil {
			dst, _ = ipnetPrefix(r.Dst)
		}
		var via netip.Addr
		if r.Gw != nil {
			via, _ = netip.AddrFromSlice(r.Gw.To4())
		}
		k := key{dst, r.LinkIndex, via}
		if _, ok := wanted[k]; ok {
			delete(wanted, k)
			continue
		}
		if err := h.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("delete route %s: %w", dst, err)
		}
		p.log.Debug("deleted route", "netns", h.name, "dst", dst.String())
	}
	for _, r := range wanted {
		if err := h.h.RouteReplace(r); err != nil {
			return fmt.Errorf("add route %s: %w", r.Dst, err)
		}
		p.log.Debug("added route", "netns", h.name, "dst", r.Dst.String())
	}
	return nil
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func ipnetPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// roleOrder is the order in which namespaces are configured: the ends of
// links first, so that they answer the first neighbour request.
func roleOrder(role string) int {
	switch role {
	case RoleInterface, RoleOutside:
		return 0
	case RoleRouter, RoleHost:
		return 1
	}
	return 2
}

// topologyOf is plan without its routers' rulesets: what ApplyChange
// compares with the last successful Apply.
func topologyOf(plan *Plan) *Plan {
	t := *plan
	t.Namespaces = slices.Clone(plan.Namespaces)
	for i := range t.Namespaces {
		if t.Namespaces[i].Role == RoleRouter {
			t.Namespaces[i].Ruleset = nil
		}
	}
	return &t
}

// unchangedTopology reports whether topo is what the last successful Apply
// realised and every namespace of it is still the one that Apply saw (the
// same inode at its path).
func (p *Plane) unchangedTopology(topo *Plan) bool {
	if p.walked == nil || !sameTopology(p.walked, topo) {
		return false
	}
	for _, ns := range topo.Namespaces {
		h := p.handles[ns.Name]
		var st unix.Stat_t
		if h == nil || unix.Stat(h.path, &st) != nil || st.Ino != h.inode {
			return false
		}
	}
	return true
}

// applyRulesets converges the rulesets of plan's routers only (ApplyChange
// with an unchanged topology). A router whose ruleset fails keeps its
// previous one, and the next Apply is a full one.
func (p *Plane) applyRulesets(ctx context.Context, plan *Plan) error {
	var errs []error
	for _, ns := range plan.Namespaces {
		if ns.Ruleset == nil || ns.Role != RoleRouter {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		end := p.span("ruleset")
		err := p.ensureRuleset(ctx, ns.Name, p.handles[ns.Name].path, ns.Ruleset)
		end()
		if err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
		}
	}
	if len(errs) > 0 {
		p.walked = nil
	}
	return errors.Join(errs...)
}

// topoDelta is what changed in the topology since the last walk, for an
// ApplyChange that touches only that (deltaFrom).
type topoDelta struct {
	changed map[string]bool       // namespaces new or changed since the walk
	prev    map[string]*Namespace // the walked version of the changed ones that stay
	veths   map[Veth]bool         // the walked veth pairs
	gone    []string              // walked namespaces no longer wanted
}

// deltaFrom compares topo with the last walked topology; nil unless an
// ApplyChange may do only what changed: something was walked, the host's
// part is the same, and every namespace that stays is still the one the
// walk saw (the same inode at its path). Its cost is a comparison and a
// stat per namespace, no netlink.
func (p *Plane) deltaFrom(topo *Plan) *topoDelta {
	old := p.walked
	if old == nil || old.Prefix != topo.Prefix || !reflect.DeepEqual(old.Host, topo.Host) {
		return nil
	}
	d := &topoDelta{changed: map[string]bool{}, prev: map[string]*Namespace{}, veths: map[Veth]bool{}}
	walked := make(map[string]*Namespace, len(old.Namespaces))
	for i := range old.Namespaces {
		walked[old.Namespaces[i].Name] = &old.Namespaces[i]
	}
	for _, ns := range topo.Namespaces {
		was := walked[ns.Name]
		delete(walked, ns.Name)
		if was == nil {
			d.changed[ns.Name] = true
			continue
		}
		h := p.handles[ns.Name]
		var st unix.Stat_t
		if h == nil || unix.Stat(h.path, &st) != nil || st.Ino != h.inode {
			return nil
		}
		if !sameNamespace(was, &ns) {
			d.changed[ns.Name] = true
			d.prev[ns.Name] = was
		}
	}
	for name := range walked {
		d.gone = append(d.gone, name)
	}
	slices.Sort(d.gone)
	for _, v := range old.Veths {
		d.veths[v] = true
	}
	return d
}

// changedLinks returns the links of want that are not in was as they are.
func changedLinks(was, want []Link) []Link {
	before := make(map[string]Link, len(was))
	for _, l := range was {
		before[l.Name] = l
	}
	var out []Link
	for _, l := range want {
		if b, ok := before[l.Name]; !ok || !sameLink(b, l) {
			out = append(out, l)
		}
	}
	return out
}

// configureLinkDelta configures the links of want that changed since was
// and deletes those no longer wanted (configureLinks, for what changed).
func (p *Plane) configureLinkDelta(h *nsHandle, was, want []Link) error {
	var errs []error
	for _, l := range changedLinks(was, want) {
		if err := p.configureLink(h, l); err != nil {
			errs = append(errs, fmt.Errorf("link %s: %w", l.Name, err))
		}
	}
	wanted := make(map[string]bool, len(want))
	for _, l := range want {
		wanted[l.Name] = true
	}
	for _, l := range was {
		if wanted[l.Name] {
			continue
		}
		link, err := p.linkByName(h, l.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if link == nil {
			continue // gone with its peer's namespace
		}
		if err := h.h.LinkDel(link); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete stale link %s: %w", l.Name, err))
			continue
		}
		p.log.Debug("deleted stale link", "netns", h.name, "link", l.Name)
	}
	return errors.Join(errs...)
}

// configureRouteDelta adds the routes of want that are not in was and
// deletes those of was no longer wanted (configureRoutes, for what
// changed).
func (p *Plane) configureRouteDelta(h *nsHandle, was, want []Route) error {
	before := make(map[Route]bool, len(was))
	for _, r := range was {
		before[r] = true
	}
	for _, r := range want {
		if before[r] {
			delete(before, r)
			continue
		}
		l, err := p.linkByName(h, r.Dev)
		if err != nil {
			return err
		}
		if l == nil {
			return fmt.Errorf("route %s: link %s missing", r, r.Dev)
		}
		if err := h.h.RouteReplace(netlinkRoute(l, r)); err != nil {
			return fmt.Errorf("add route %s: %w", r.Dst, err)
		}
		p.log.Debug("added route", "netns", h.name, "dst", r.Dst.String())
	}
	for _, r := range was {
		if !before[r] {
			continue
		}
		l, err := p.linkByName(h, r.Dev)
		if err != nil {
			return err
		}
		if l == nil {
			continue // gone with its link
		}
		if err := h.h.RouteDel(netlinkRoute(l, r)); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("delete route %s: %w", r.Dst, err)
		}
		p.log.Debug("deleted route", "netns", h.name, "dst", r.Dst.String())
	}
	return nil
}

// netlinkRoute is r, over link l, in the main table.
func netlinkRoute(l netlink.Link, r Route) *netlink.Route {
	nr := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: prefixIPNet(r.Dst), Table: unix.RT_TABLE_MAIN}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
		if r.OnLink {
			nr.Flags = int(netlink.FLAG_ONLINK)
		}
	} else {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr
}

// sameTopology is reflect.DeepEqual(a, b) for two topologies (plans
// without routers' rulesets), without reflection: with a thousand
// namespaces it is compared on every ApplyChange.
func sameTopology(a, b *Plan) bool {
	if a.Prefix != b.Prefix || len(a.Namespaces) != len(b.Namespaces) || !slices.Equal(a.Veths, b.Veths) ||
		!reflect.DeepEqual(a.Host, b.Host) {
		return false
	}
	for i := range a.Namespaces {
		if !sameNamespace(&a.Namespaces[i], &b.Namespaces[i]) {
			return false
		}
	}
	return true
}

// sameNamespace is reflect.DeepEqual(*a, *b), reflection only for a
// ruleset (none in a topology but the host's).
func sameNamespace(a, b *Namespace) bool {
	if a.Name != b.Name || a.Role != b.Role || a.Resource != b.Resource ||
		len(a.Links) != len(b.Links) || !slices.Equal(a.Routes, b.Routes) ||
		(a.Routes == nil) != (b.Routes == nil) || (a.Links == nil) != (b.Links == nil) {
		return false
	}
	for i := range a.Links {
		if !sameLink(a.Links[i], b.Links[i]) {
			return false
		}
	}
	if a.Ruleset != nil || b.Ruleset != nil {
		return reflect.DeepEqual(a.Ruleset, b.Ruleset)
	}
	return true
}

func sameLink(a, b Link) bool {
	return a.Name == b.Name && a.Alias == b.Alias && slices.Equal(a.Addrs, b.Addrs) && (a.Addrs == nil) == (b.Addrs == nil)
}
