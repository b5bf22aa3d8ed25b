package resolver

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// clientBinary returns the path of a DNS client program from Debian's
// dnsutils (the Makefile installs it), or skips: the miekg/dns client tests
// are the always-run proof of the server.
func clientBinary(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install dnsutils); TestServer covers the server with the miekg/dns client", name)
	}
	return path
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDig asks the server with BIND's dig, as a user inside an instance would.
func TestDig(t *testing.T) {
	dig := clientBinary(t, "dig")
	tab := testTable(t)
	big, bigName := bigTable(t)
	addr := startServer(t, tab)
	bigAddr := startServer(t, big)
	digAt := func(addr string, args ...string) string {
		host, port, _ := net.SplitHostPort(addr)
		return run(t, dig, append([]string{"@" + host, "-p", port, "+time=2", "+tries=1"}, args...)...)
	}
	lines := func(s string) []string { return strings.Fields(s) }

	t.Run("primary-short", func(t *testing.T) {
		got := lines(digAt(addr, "+short", primary, "A"))
		want := []string{node1 + ".", "10.0.1.10"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("dig +short %s = %q, want %q", primary, got, want)
		}
	})
	t.Run("node-tcp", func(t *testing.T) {
		if got := lines(digAt(addr, "+tcp", "+short", node1)); len(got) != 1 || got[0] != "10.0.1.10" {
			t.Errorf("dig +tcp +short %s = %q", node1, got)
		}
	})
	t.Run("ttl", func(t *testing.T) {
		out := digAt(addr, "+noall", "+answer", instance)
		if f := strings.Fields(out); len(f) != 5 || f[1] != "60" || f[4] != "10.0.1.5" {
			t.Errorf("dig +answer %s = %q, want TTL 60 and 10.0.1.5", instance, out)
		}
	})
	for _, tt := range []struct{ name, qname, qtype, want string }{
		{"unknown", unknownName, "A", "status: NXDOMAIN"},
		{"outside", "example.com", "A", "status: REFUSED"},
		{"aaaa", node1, "AAAA", "status: NOERROR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := digAt(addr, tt.qname, tt.qtype)
			if !strings.Contains(out, tt.want) || !strings.Contains(out, "ANSWER: 0,") {
				t.Errorf("dig %s %s: want %q and no answer, got\n%s", tt.qname, tt.qtype, tt.want, out)
			}
		})
	}
	t.Run("truncated-retries-tcp", func(t *testing.T) {
		out := digAt(bigAddr, bigName, "A")
		if !strings.Contains(out, "Truncated, retrying in TCP mode") || !strings.Contains(out, "ANSWER: 100,") {
			t.Errorf("dig %s: want a TCP retry and 100 answers, got\n%s", bigName, out)
		}
	})
}

// TestHost asks the server with BIND's host.
func TestHost(t *testing.T) {
	hostBin := clientBinary(t, "host")
	addr := startServer(t, testTable(t))
	ip, port, _ := net.SplitHostPort(addr)
	out := run(t, hostBin, "-W", "2", "-p", port, "-t", "A", primary, ip)
	for _, want := range []string{primary + " is an alias for " + node1 + ".", node1 + " has address 10.0.1.10"} {
		if !strings.Contains(out, want) {
			t.Errorf("host %s: want %q in\n%s", primary, want, out)
		}
	}
}
