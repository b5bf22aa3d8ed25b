package netplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The host's side of published endpoints (see doc.go, "The host"): links,
// addresses and routes carrying the prefix in the daemon's own namespace,
// and its table "inet <prefix>". Nothing else of the host is touched: a
// route the host already has to a link address is never replaced, and the
// endpoint is then reported unreachable instead.

// hostNetns returns a path to the daemon's own network namespace (the
// host's), opened once from a thread that never left it. Not
// /proc/<pid>/ns/net: that is the main thread's, and the Go runtime parks
// the main thread for good, in whatever namespace it is in, when a
// goroutine locked to it ends (see inNamespace). The path names an open
// descriptor, kept for the Plane's life, so that nsenter and setns reach
// the same namespace.
func (p *Plane) hostNetns() (string, error) {
	p.hostOnce.Do(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			p.hostErr = fmt.Errorf("open the host's network namespace: %w", err)
			return
		}
		p.hostPath = fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)
	})
	return p.hostPath, p.hostErr
}

// ensureHost opens the host's namespace and loads its table of published
// endpoints.
func (p *Plane) ensureHost(ctx context.Context, host *Namespace) (*nsHandle, error) {
	path, err := p.hostNetns()
	if err != nil {
		return nil, err
	}
	nsh, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		nsh.Close()
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	n := &nsHandle{name: HostNamespace, path: path, ns: nsh, h: h}
	if host.Ruleset != nil {
		if err := p.ensureRuleset(ctx, HostNamespace, path, host.Ruleset); err != nil {
			n.close()
			return nil, err
		}
	}
	return n, nil
}

// configureHostRoutes makes the host's routes over our links exactly want:
// routes on other links are never touched, and a wanted destination that
// the host already routes elsewhere is left alone and reported.
func (p *Plane) configureHostRoutes(h *nsHandle, want []Route) error {
	ours := map[int]string{}
	links, err := h.h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, p.prefix+"-") {
			ours[l.Attrs().Index] = l.Attrs().Name
		}
	}
	type key struct {
		dst   netip.Prefix
		index int
	}
	wanted := map[key]Route{}
	for _, r := range want {
		idx := -1
		for i, name := range ours {
			if name == r.Dev {
				idx = i
			}
		}
		if idx < 0 {
			return fmt.Errorf("route %s: link %s missing", r, r.Dev)
		}
		wanted[key{r.Dst, idx}] = r
	}
	have, err := h.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	taken := map[netip.Prefix]string{} // destinations the host routes over links not ours
	var errs []error
	for _, r := range have {
		if r.Dst == nil {
			continue
		}
		dst, ok := ipnetPrefix(r.Dst)
		if !ok {
			continue
		}
		if _, mine := ours[r.LinkIndex]; !mine {
			taken[dst] = fmt.Sprintf("link %d", r.LinkIndex)
			continue
		}
		if r.Protocol == unix.RTPROT_KERNEL {
			continue
		}
		k := key{dst, r.LinkIndex}
		if _, ok := wanted[k]; ok {
			delete(wanted, k)
			continue
		}
		if err := h.h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", dst, err))
			continue
		}
		p.log.Debug("deleted route", "netns", h.name, "dst", dst.String())
	}
	for k, r := range wanted {
		if o, ok := taken[r.Dst]; ok {
			errs = append(errs, fmt.Errorf("route %s: the host already routes %s over %s; that endpoint stays unpublished", r, r.Dst, o))
			continue
		}
		nr := &netlink.Route{LinkIndex: k.index, Dst: prefixIPNet(r.Dst), Table: unix.RT_TABLE_MAIN, Scope: netlink.SCOPE_LINK}
		if err := h.h.RouteAdd(nr); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("add route %s: %w", r, err))
			continue
		}
		p.log.Debug("added route", "netns", h.name, "dst", r.Dst.String())
	}
	return errors.Join(errs...)
}

// removeHost deletes what the host holds for published endpoints when
// nothing is published any more: our links there (their addresses and
// routes go with them) and the table.
func (p *Plane) removeHost(ctx context.Context) error {
	h, err := p.ensureHost(ctx, &Namespace{})
	if err != nil {
		return err
	}
	defer h.close()
	var errs []error
	links, err := h.h.LinkList()
	if err != nil {
		errs = append(errs, fmt.Errorf("list host links: %w", err))
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, p.prefix+"-") {
			if err := h.h.LinkDel(l); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete host link %s: %w", l.Attrs().Name, err))
				continue
			}
			p.log.Info("deleted stale link", "netns", HostNamespace, "link", l.Attrs().Name)
		}
	}
	return errors.Join(append(errs, p.deleteHostTable(ctx))...)
}

// deleteHostTable deletes the host's table "inet <prefix>" if it exists,
// unless the Plane knows it absent: it deleted it itself and no nftables
// commit happened in the host's namespace since.
func (p *Plane) deleteHostTable(ctx context.Context) error {
	path, err := p.hostNetns()
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	gen, err := p.generation(HostNamespace, path, st.Ino)
	if err != nil {
		return err
	}
	if prev, ok := p.applied[HostNamespace]; ok && prev.rs == nil && prev.inode == st.Ino && prev.gen == gen {
		return nil
	}
	delete(p.applied, HostNamespace)
	// Anything on the host may commit to nftables (other programs' tables);
	// one netlink round trip tells whether ours is there, where running
	// nft costs a process.
	exists, err := p.tableExists(HostNamespace, path, st.Ino, p.prefix)
	if err != nil {
		return err
	}
	if !exists {
		p.applied[HostNamespace] = appliedRuleset{inode: st.Ino, gen: gen}
		return nil
	}
	// "add" makes the delete succeed when there is no table: one atomic
	// transaction either way.
	script := fmt.Sprintf("add table inet %s\ndelete table inet %s\n", p.prefix, p.prefix)
	if _, err := p.nftRun(ctx, path, script, "delete host table"); err != nil {
		return err
	}
	if after, err := p.generation(HostNamespace, path, st.Ino); err == nil && after == gen+1 {
		p.applied[HostNamespace] = appliedRuleset{inode: st.Ino, gen: after}
	}
	return nil
}
