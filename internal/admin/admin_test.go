package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/account"
)

type fakeAccounts struct{ accts []*account.Account }

func (f *fakeAccounts) Create(_ context.Context, name, _ string, classic bool) (*account.Account, error) {
	a := &account.Account{ID: fmt.Sprintf("%012d", len(f.accts)+1), Name: name, EC2Classic: classic, RootAccessKeyID: "AKIA", RootSecretAccessKey: "secret"}
	f.accts = append(f.accts, a)
	return a, nil
}

func (f *fakeAccounts) List(context.Context) ([]*account.Account, error) { return f.accts, nil }

// fakeNetwork knows one running instance and refuses 192.0.2.0/24.
type fakeNetwork struct{}

func (fakeNetwork) OutsideClient(_ context.Context, a netip.Addr) (string, error) {
	if netip.MustParsePrefix("192.0.2.0/24").Contains(a) {
		return "", Refuse(fmt.Errorf("%s is not usable", a))
	}
	if a == netip.MustParseAddr("198.51.100.99") {
		return "", errors.New("nft exploded")
	}
	return "outside-" + a.String(), nil
}

func (fakeNetwork) InstanceNamespace(_ context.Context, region, id string) (string, error) {
	if id == "i-1" && (region == "" || region == "us-east-1") {
		return "eni-1", nil
	}
	return "", Refuse(fmt.Errorf("instance %s: no such instance", id))
}

func (fakeNetwork) NetnsPath(id string) (string, error) { return "/run/netns/cltest-" + id, nil }

func (fakeNetwork) EnterArgs(_ context.Context, id string) ([]string, error) {
	return []string{"nsenter", "--net=/run/netns/cltest-" + id, "--", "with-resolv.conf"}, nil
}

func start(t *testing.T) *http.Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "adm-") // short: a socket path is limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, SocketFile)
	s, err := Start(Config{Path: path, Accounts: &fakeAccounts{}, Network: fakeNetwork{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("socket left after Close: %v", err)
		}
	})
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, %v; want 0600", fi, err)
	}
	return Client(path)
}

func call(t *testing.T, c *http.Client, method, path string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://cachalot"+path, rd)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, string(b)
}

func TestAccounts(t *testing.T) {
	c := start(t)
	var created NewAccountResponse
	if code, body := call(t, c, "POST", "/v1/accounts", NewAccountRequest{Name: "dev", EC2Classic: true}, &created); code != 200 {
		t.Fatalf("create = %d %s", code, body)
	}
	if created.AccountID != "000000000001" || created.AccessKeyID != "AKIA" || created.SecretAccessKey != "secret" || !created.EC2Classic {
		t.Errorf("created = %+v", created)
	}
	var list []AccountSummary
	if code, body := call(t, c, "GET", "/v1/accounts", nil, &list); code != 200 || len(list) != 1 || list[0].Name != "dev" || !list[0].EC2Classic {
		t.Errorf("list = %d %s", code, body)
	}
	if code, _ := call(t, c, "POST", "/v1/accounts", "not an object", nil); code != 400 {
		t.Errorf("create with a bad body = %d, want 400", code)
	}
}

// The namespace lookups answer paths; the network's refusals are 400s
// with their message, its failures 500s.
func TestNamespaces(t *testing.T) {
	c := start(t)
	var oc OutsideClientResponse
	if code, body := call(t, c, "POST", "/v1/outside-clients", OutsideClientRequest{Address: "198.51.100.27"}, &oc); code != 200 ||
		oc.Netns != "/run/netns/cltest-outside-198.51.100.27" || oc.Address != "198.51.100.27" {
		t.Errorf("outside client = %d %s", code, body)
	}
	var ns NamespaceResponse
	if code, body := call(t, c, "GET", "/v1/instances/i-1/netns?region=us-east-1", nil, &ns); code != 200 ||
		!cmp.Equal(ns, NamespaceResponse{Instance: "i-1", ID: "eni-1", Netns: "/run/netns/cltest-eni-1",
			Enter: []string{"nsenter", "--net=/run/netns/cltest-eni-1", "--", "with-resolv.conf"}}) {
		t.Errorf("instance netns = %d %s", code, body)
	}
	for _, tc := range []struct {
		method, path string
		body         any
		code         int
		want         string
	}{
		{"POST", "/v1/outside-clients", OutsideClientRequest{Address: "192.0.2.1"}, 400, "192.0.2.1 is not usable"},
		{"POST", "/v1/outside-clients", OutsideClientRequest{Address: "nope"}, 400, `"nope" is not an IP address`},
		{"POST", "/v1/outside-clients", OutsideClientRequest{Address: "198.51.100.99"}, 500, "nft exploded"},
		{"GET", "/v1/instances/i-1/netns?region=eu-west-1", nil, 400, "no such instance"},
		{"GET", "/v1/instances/i-2/netns", nil, 400, "no such instance"},
	} {
		if code, body := call(t, c, tc.method, tc.path, tc.body, nil); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %v = %d %q; want %d mentioning %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.want)
		}
	}
}
