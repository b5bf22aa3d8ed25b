package netplane

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPlanPublishedGolden(t *testing.T) {
	st := seedState()
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0fromHost", Protocol: "tcp", FromPort: 6379, ToPort: 6379,
		CIDRs: []netip.Prefix{netip.PrefixFrom(HostClientAddr, 32)}})
	st.Published = []PublishedEndpoint{
		{Interface: "eni-0cache", Port: 6379, Loopback: addr("127.64.0.2"), Comment: "my-redis 0001"},
		{Interface: "eni-0peer", Port: 22, Loopback: addr("127.64.1.3"), Comment: "i-0peer"},
	}
	plan, err := NewPlan("cl1a2b", st)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	checkGolden(t, "plan-published", describe(plan))
	checkGolden(t, "ruleset-host", plan.Host.Ruleset.Text)
	for _, ns := range plan.Namespaces {
		if ns.Resource == "vpc-0a" {
			checkGolden(t, "ruleset-vpc-0a-published", ns.Ruleset.Text)
		}
	}
}

func TestPlanWithoutPublishedHasNoHost(t *testing.T) {
	plan, err := NewPlan("cl1a2b", seedState())
	if err != nil {
		t.Fatal(err)
	}
	if plan.Host != nil {
		t.Errorf("Plan.Host = %+v, want nil without published endpoints", plan.Host)
	}
	for _, v := range plan.Veths {
		if v.B.Namespace == HostNamespace {
			t.Errorf("veth %+v reaches the host without published endpoints", v)
		}
	}
}

// Invalid published endpoints are left out and reported; the rest stays.
func TestPlanPublishedProblems(t *testing.T) {
	st := seedState()
	good := PublishedEndpoint{Interface: "eni-0cache", Port: 6379, Loopback: addr("127.64.0.2")}
	st.Published = []PublishedEndpoint{
		good,
		{Interface: "eni-0gone", Port: 6379, Loopback: addr("127.64.0.3")},
		{Interface: "eni-0cache", Port: 6379, Loopback: addr("127.0.0.1")},
		{Interface: "eni-0cache", Port: 6379, Loopback: addr("127.64.0.1")},
		{Interface: "eni-0cache", Port: 0, Loopback: addr("127.64.0.4")},
		{Interface: "eni-0inst", Port: 6379, Loopback: addr("127.64.0.2")},
	}
	plan, err := NewPlan("cl1a2b", st)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("NewPlan = %v, want ErrInvalid problems", err)
	}
	for _, want := range []string{"eni-0gone: unknown interface", "127.0.0.1:6379 of eni-0cache: loopback address outside",
		"127.64.0.1:6379 of eni-0cache: loopback address outside", "127.64.0.4:0 of eni-0cache: invalid port",
		"127.64.0.2:6379 of eni-0inst: address already published for eni-0cache"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if plan.Host == nil || len(plan.Host.Routes) != 1 || plan.Host.Routes[0].Dst != netip.MustParsePrefix("169.254.64.2/32") {
		t.Errorf("host plan = %+v, want the one valid endpoint's route", plan.Host)
	}
}

func TestPublishedAddresses(t *testing.T) {
	for _, tc := range []struct {
		n          int
		loop, link string
		ok         bool
	}{
		{0, "", "", false}, {1, "", "", false}, {16383, "", "", false}, {16384, "", "", false},
		{2, "127.64.0.2", "169.254.64.2", true},
		{258, "127.64.1.2", "169.254.65.2", true},
		{16382, "127.64.63.254", "169.254.127.254", true},
	} {
		a, ok := PublishedAddr(tc.n)
		if ok != tc.ok || (ok && a.String() != tc.loop) {
			t.Errorf("PublishedAddr(%d) = %v, %v; want %s, %v", tc.n, a, ok, tc.loop, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		if n, ok := PublishedOffset(a); !ok || n != tc.n {
			t.Errorf("PublishedOffset(%s) = %d, %v; want %d", a, n, ok, tc.n)
		}
		if l, ok := HostLinkAddr(a); !ok || l.String() != tc.link {
			t.Errorf("HostLinkAddr(%s) = %v, %v; want %s", a, l, ok, tc.link)
		}
	}
	for _, a := range []string{"127.0.0.1", "127.64.64.2", "10.64.0.2", "127.64.0.1", "::1"} {
		if _, ok := PublishedOffset(addr(a)); ok {
			t.Errorf("PublishedOffset(%s) ok, want not", a)
		}
	}
}
