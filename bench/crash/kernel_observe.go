package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// observeKernel reads the facts of the installation with prefix and data
// dir from the kernel: its namespaces, their links, addresses, routes and
// nft tables, and the engine processes working under dir/engines.
func observeKernel(ctx context.Context, prefix, dir string) (facts, error) {
	f := facts{}
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	nsByInode := map[uint64]string{}
	for _, e := range entries {
		ns := e.Name()
		if !strings.HasPrefix(ns, prefix+"-") {
			continue
		}
		f.add("netns %s", ns)
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/run/netns", ns), &st); err == nil {
			nsByInode[st.Ino] = ns
		}
		var err error
		switch rest := strings.TrimPrefix(ns, prefix+"-"); {
		case strings.HasPrefix(rest, "vpc-"):
			err = observeRouter(ctx, f, prefix, ns)
		case strings.HasPrefix(rest, "eni-"):
			err = observeInterface(ctx, f, ns)
		case rest == "internet":
			err = observeLinks(ctx, f, ns)
		}
		if _, serr := os.Stat(filepath.Join("/run/netns", ns)); err != nil && os.IsNotExist(serr) {
			delete(f, "netns "+ns) // deleted while being read: not there
			for k := range f {
				if strings.Contains(k, " "+ns+"/") {
					delete(f, k)
				}
			}
			err = nil
		}
		if err != nil {
			return nil, err
		}
	}
	if err := observeEngines(f, filepath.Join(dir, "engines"), nsByInode); err != nil {
		return nil, err
	}
	return f, nil
}

type ipAddr struct {
	IfName   string `json:"ifname"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

type ipRoute struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
}

func ipJSON(ctx context.Context, v any, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", append([]string{"-j"}, args...)...).Output()
	if err != nil {
		return fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return nil
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func routeFact(f facts, ns string, r ipRoute) {
	dst := r.Dst
	if dst != "default" && !strings.Contains(dst, "/") {
		dst += "/32"
	}
	if r.Gateway != "" {
		f.add("route %s/%s via %s dev %s", ns, dst, r.Gateway, r.Dev)
	} else {
		f.add("route %s/%s dev %s", ns, dst, r.Dev)
	}
}

func observeRouter(ctx context.Context, f facts, prefix, ns string) error {
	if err := observeLinks(ctx, f, ns); err != nil {
		return err
	}
	return observeTable(ctx, f, prefix, ns)
}

// observeLinks reads the links (but lo), their IPv4 addresses and the
// IPv4 routes of a namespace.
func observeLinks(ctx context.Context, f facts, ns string) error {
	var addrs []ipAddr
	if err := ipJSON(ctx, &addrs, "-n", ns, "addr", "show"); err != nil {
		return err
	}
	for _, a := range addrs {
		if a.IfName == "lo" {
			continue
		}
		f.add("link %s/%s", ns, a.IfName)
		for _, ai := range a.AddrInfo {
			if ai.Family == "inet" {
				f.add("addr %s/%s %s/%d", ns, a.IfName, ai.Local, ai.PrefixLen)
			}
		}
	}
	var routes []ipRoute
	if err := ipJSON(ctx, &routes, "-n", ns, "-4", "route", "show"); err != nil {
		return err
	}
	for _, r := range routes {
		routeFact(f, ns, r)
	}
	return nil
}

func observeInterface(ctx context.Context, f facts, ns string) error {
	var addrs []ipAddr
	if err := ipJSON(ctx, &addrs, "-n", ns, "-4", "addr", "show"); err != nil {
		return err
	}
	for _, a := range addrs {
		for _, ai := range a.AddrInfo {
			if a.IfName != "lo" && ai.Family == "inet" {
				f.add("addr %s/%s %s/%d", ns, a.IfName, ai.Local, ai.PrefixLen)
			}
		}
	}
	var routes []ipRoute
	if err := ipJSON(ctx, &routes, "-n", ns, "-4", "route", "show"); err != nil {
		return err
	}
	for _, r := range routes {
		if r.Dst == "default" {
			f.add("route %s/default via %s dev %s", ns, r.Gateway, r.Dev)
		} else {
			routeFact(f, ns, r)
		}
	}
	return nil
}

// observeTable reads the router's nft table: chains of interfaces, the
// verdict maps' elements, the sets of groups and their members, and the
// sgr- ids in rule comments.
func observeTable(ctx context.Context, f facts, prefix, ns string) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-j", "list", "table", "inet", prefix).Output()
	if err != nil {
		return nil // no table: nothing observed, the expected facts show as missing
	}
	f.add("table %s/inet %s", ns, prefix)
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return fmt.Errorf("nft -j list table in %s: %w", ns, err)
	}
	for _, item := range doc.Nftables {
		switch {
		case item["chain"] != nil:
			var c struct{ Name string }
			_ = json.Unmarshal(item["chain"], &c)
			if strings.HasPrefix(c.Name, "in-") || strings.HasPrefix(c.Name, "out-") {
				f.add("chain %s/%s", ns, c.Name)
			}
		case item["set"] != nil:
			var s struct {
				Name string
				Elem []json.RawMessage
			}
			_ = json.Unmarshal(item["set"], &s)
			if !strings.HasPrefix(s.Name, "sg-") {
				continue
			}
			f.add("set %s/%s", ns, s.Name)
			for _, e := range s.Elem {
				var a string
				if json.Unmarshal(e, &a) == nil {
					f.add("member %s/%s %s", ns, s.Name, a)
				} else {
					f.add("member %s/%s %s", ns, s.Name, e)
				}
			}
		case item["map"] != nil:
			var m struct {
				Name string
				Elem [][2]json.RawMessage
			}
			_ = json.Unmarshal(item["map"], &m)
			if m.Name == "eip-dnat" || m.Name == "eip-snat" {
				for _, e := range m.Elem {
					var k, v string
					_ = json.Unmarshal(e[0], &k)
					_ = json.Unmarshal(e[1], &v)
					f.add("nat %s/%s %s -> %s", ns, m.Name, k, v)
				}
				continue
			}
			if m.Name != "ingress" && m.Name != "egress" {
				continue
			}
			for _, e := range m.Elem {
				var key string
				var verdict struct{ Jump struct{ Target string } }
				_ = json.Unmarshal(e[0], &key)
				_ = json.Unmarshal(e[1], &verdict)
				f.add("vmap %s/%s %s -> %s", ns, m.Name, key, verdict.Jump.Target)
			}
		case item["rule"] != nil:
			var r struct{ Comment string }
			_ = json.Unmarshal(item["rule"], &r)
			for _, w := range strings.Fields(r.Comment) {
				if strings.HasPrefix(w, "sgr-") {
					f.add("rule %s/%s", ns, w)
				}
			}
		}
	}
	return nil
}

// observeEngines finds the processes working in a node directory under
// engines (as the supervisor's teardown finds them) and the namespace each
// runs in.
func observeEngines(f facts, engines string, nsByInode map[uint64]string) error {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cwd, err := os.Readlink(p + "/cwd")
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(engines, cwd)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		node := strings.SplitN(rel, string(filepath.Separator), 2)[0]
		ns := "?"
		var st syscall.Stat_t
		if err := syscall.Stat(p+"/ns/net", &st); err == nil {
			if n, ok := nsByInode[st.Ino]; ok {
				ns = n
			} else {
				ns = fmt.Sprintf("netns:[%d]", st.Ino)
			}
		}
		if f[fmt.Sprintf("engine %s in %s", node, ns)] {
			f.add("engine %s in %s (pid %s, a second process)", node, ns, filepath.Base(p))
			continue
		}
		f.add("engine %s in %s", node, ns)
	}
	return nil
}
