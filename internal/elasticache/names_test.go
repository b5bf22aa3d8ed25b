package elasticache

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// hostAddrs is the loopback mode's realiser: every server of an interface
// on a host port of its own.
type hostAddrs map[string]int

func (h hostAddrs) HostAddr(interfaceID string, _ int) (string, int, bool) {
	p, ok := h[interfaceID]
	return "127.0.0.1", p, ok
}

// The names of a cluster's endpoints, per region and domain, and the
// auto-discovery payload built from them; in the loopback mode the host
// addresses instead.
func TestNames(t *testing.T) {
	secret := []byte("elasticache names test secret!!")
	memcached := &Cluster{Account: "123456789012", ID: "sessions", Engine: catalog.Memcached, Port: 11211, ConfigVersion: 3,
		ConfigInterfaceID: "eni-cfg", ConfigIP: "10.0.1.9",
		Nodes: []Node{
			{ID: "0001", InterfaceID: "eni-1", IP: "10.0.1.10"},
			{ID: "0002", InterfaceID: "eni-2", IP: "10.0.1.11", Status: StatusDeleting},
			{ID: "0003"}, // no interface yet: no endpoint
		}}
	redis := &Cluster{Account: "123456789012", ID: "Web-Cache", Engine: catalog.Redis, Port: 6379,
		Nodes: []Node{{ID: "0001", InterfaceID: "eni-r", IP: "172.31.0.4"}}}
	tests := []struct {
		region, domain string
		cl             *Cluster
		loopback       bool
		want           []string // name -> address:port, then the discovery payload
	}{
		{"us-east-1", "cache.amazonaws.com", redis, false, []string{
			"web-cache.ID.0001.use1.cache.amazonaws.com -> 172.31.0.4:6379 (node 0001)"}},
		{"eu-west-1", "cache.example.test", redis, false, []string{
			"web-cache.ID.0001.euw1.cache.example.test -> 172.31.0.4:6379 (node 0001)"}},
		{"cn-northwest-1", "cache.amazonaws.com.cn", redis, false, []string{
			"web-cache.ID.0001.cnw1.cache.amazonaws.com.cn -> 172.31.0.4:6379 (node 0001)"}},
		{"us-gov-west-1", "cache.amazonaws.com", memcached, false, []string{
			"sessions.ID.cfg.usgw1.cache.amazonaws.com -> 10.0.1.9:11211 (node )",
			"sessions.ID.0001.usgw1.cache.amazonaws.com -> 10.0.1.10:11211 (node 0001)",
			"sessions.ID.0002.usgw1.cache.amazonaws.com -> 10.0.1.11:11211 (node 0002)",
			"discovery 3 sessions.ID.0001.usgw1.cache.amazonaws.com|10.0.1.10|11211",
		}},
		{"ap-southeast-2", "cache.amazonaws.com", memcached, true, []string{
			"sessions.ID.cfg.apse2.cache.amazonaws.com -> 10.0.1.9:11211 (node )",
			"sessions.ID.0001.apse2.cache.amazonaws.com -> 10.0.1.10:11211 (node 0001)",
			"sessions.ID.0002.apse2.cache.amazonaws.com -> 10.0.1.11:11211 (node 0002)",
			"discovery 3 127.0.0.1|127.0.0.1|40001",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.region+" "+tt.domain, func(t *testing.T) {
			namer, err := dnsname.New(tt.domain, secret)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Names: namer}
			if tt.loopback {
				cfg.HostAddrs = hostAddrs{"eni-1": 40001, "eni-2": 40002, "eni-cfg": 40009}
			}
			s := New(nil, cfg)
			cl := *tt.cl
			cl.Region = tt.region
			id := dnsname.ScopeID(secret, cl.Account, tt.region)
			names, err := s.Names(&cl)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range names {
				got = append(got, fmt.Sprintf("%s -> %s:%d (node %s)", strings.Replace(n.Name, "."+id+".", ".ID.", 1), n.IP, n.Port, n.Node))
				if err := dnsname.ValidName(n.Name); err != nil {
					t.Error(err)
				}
			}
			if cl.Engine == catalog.Memcached {
				conf, err := s.DiscoveryConfig(&cl)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, "discovery "+strings.Join(strings.Fields(strings.ReplaceAll(conf, "."+id+".", ".ID.")), " "))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
		})
	}
}

// Without a namer, naming fails rather than handing out something else.
func TestNamesNeedANamer(t *testing.T) {
	s := New(nil, Config{})
	if _, err := s.Names(&Cluster{Region: "us-east-1", ID: "x"}); err == nil {
		t.Error("Names without Config.Names succeeded")
	}
}
