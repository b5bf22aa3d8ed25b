package imds

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

type fakeInstances struct {
	mu sync.Mutex // guards m
	m  ec2.Metadata
}

func (f *fakeInstances) InstanceMetadata(_ context.Context, account, region, instance string) (*ec2.Metadata, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if instance != f.m.InstanceID {
		return nil, fmt.Errorf("no instance %s", instance)
	}
	m := f.m
	return &m, nil
}

func (f *fakeInstances) set(fn func(m *ec2.Metadata)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.m)
}

type fakeRoles struct {
	mu     sync.Mutex // guards issued
	issued int
	now    func() time.Time
	trust  bool
}

func (f *fakeRoles) ProfileRole(_ context.Context, account, profile, id string) (string, bool, error) {
	if profile == "web" && id == "AIPAWEB" {
		return "web-role", true, nil
	}
	return "", false, nil
}

func (f *fakeRoles) RoleCredentials(_ context.Context, account, role, instance string, d time.Duration) (Credentials, error) {
	if !f.trust {
		return Credentials{}, ErrCannotAssume
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued++
	return Credentials{AccessKeyID: fmt.Sprintf("ASIAKEY%d", f.issued), SecretAccessKey: "s", Token: "t", Expires: f.now().Add(d)}, nil
}

type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start serves one instance on a loopback listener, as the controller
// does in the instance's namespace.
func start(t *testing.T) (*fakeInstances, *fakeRoles, *clock, string) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	inst := &fakeInstances{m: ec2.Metadata{Account: "111111111111", Region: "us-east-1", AZ: "us-east-1a", AZID: "use1-az1",
		InstanceID: "i-0abc", State: "running", ImageID: "ami-12345678", InstanceType: "t3.micro", Architecture: "x86_64",
		PrivateIP: "172.31.5.6", MAC: "0e:00:00:00:00:01", InterfaceID: "eni-0abc", SubnetID: "subnet-1", VpcID: "vpc-1",
		SubnetCIDR: "172.31.0.0/20", VpcCIDR: "172.31.0.0/16", Hostname: "ip-172-31-5-6.ec2.internal", GroupNames: []string{"default", "web"},
		GroupIDs: []string{"sg-1", "sg-2"}, UserData: []byte("#!/bin/sh\necho hi\n"), Endpoint: true, HopLimit: 1,
		LaunchTime: clk.now(), KeyName: "my-key", PublicKey: "ssh-ed25519 AAAAC3Nz my-key", Profile: &ec2.MetadataProfile{AssociationID: "iip-assoc-1", ARN: "arn:aws:iam::111111111111:instance-profile/web", ID: "AIPAWEB", Name: "web"}}}
	roles := &fakeRoles{now: clk.now, trust: true}
	s := New(Config{Instances: inst, Roles: roles, Now: clk.now})
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l, "111111111111", "us-east-1", "i-0abc") }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v, want nil after close", err)
		}
	})
	return inst, roles, clk, "http://" + l.Addr().String()
}

func do(t *testing.T, method, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestTokens(t *testing.T) {
	inst, _, clk, base := start(t)
	for _, c := range []struct {
		name   string
		method string
		hdr    []string
		want   int
	}{
		{"no TTL", "PUT", nil, 400},
		{"TTL 0", "PUT", []string{"X-aws-ec2-metadata-token-ttl-seconds", "0"}, 400},
		{"TTL too long", "PUT", []string{"X-aws-ec2-metadata-token-ttl-seconds", "21601"}, 400},
		{"forwarded", "PUT", []string{"X-aws-ec2-metadata-token-ttl-seconds", "60", "X-Forwarded-For", "10.0.0.1"}, 403},
		{"GET", "GET", []string{"X-aws-ec2-metadata-token-ttl-seconds", "60"}, 405},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, _, _ := do(t, c.method, base+"/latest/api/token", c.hdr...); got != c.want {
				t.Errorf("%s token = %d, want %d", c.method, got, c.want)
			}
		})
	}
	code, tok, h := do(t, "PUT", base+"/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "60")
	if code != 200 || tok == "" || h.Get("X-aws-ec2-metadata-token-ttl-seconds") != "60" {
		t.Fatalf("PUT token = %d %q %v, want 200, a token, TTL 60", code, tok, h)
	}
	// IMDSv1 and v2 with optional tokens.
	if code, body, _ := do(t, "GET", base+"/latest/meta-data/instance-id"); code != 200 || body != "i-0abc" {
		t.Errorf("v1 instance-id = %d %q, want 200 i-0abc", code, body)
	}
	if code, body, _ := do(t, "GET", base+"/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); code != 200 || body != "i-0abc" {
		t.Errorf("v2 instance-id = %d %q, want 200 i-0abc", code, body)
	}
	if code, _, _ := do(t, "GET", base+"/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok+"x"); code != 401 {
		t.Errorf("bad token = %d, want 401", code)
	}
	// HttpTokens required refuses v1.
	inst.set(func(m *ec2.Metadata) { m.Tokens = true })
	if code, _, _ := do(t, "GET", base+"/latest/meta-data/instance-id"); code != 401 {
		t.Errorf("v1 with tokens required = %d, want 401", code)
	}
	if code, _, _ := do(t, "GET", base+"/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); code != 200 {
		t.Errorf("v2 with tokens required = %d, want 200", code)
	}
	// A token expires.
	clk.add(61 * time.Second)
	if code, _, _ := do(t, "GET", base+"/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", tok); code != 401 {
		t.Errorf("expired token = %d, want 401", code)
	}
	// A token of another server (another instance's, or before a restart)
	// is refused.
	other := New(Config{Instances: inst, Roles: &fakeRoles{}, Now: clk.now})
	if _, ok := other.checkToken(other.signToken("i-0abc", clk.now().Add(time.Hour).Unix()), "i-0other"); ok {
		t.Error("a token of i-0abc is good for i-0other")
	}
	if code, _, _ := do(t, "GET", base+"/latest/meta-data/instance-id", "X-aws-ec2-metadata-token", other.signToken("i-0abc", clk.now().Add(time.Hour).Unix())); code != 401 {
		t.Errorf("another server's token = %d, want 401", code)
	}
	// A disabled endpoint or a stopped instance answers nothing of it.
	inst.set(func(m *ec2.Metadata) { m.Endpoint = false })
	if code, _, _ := do(t, "PUT", base+"/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds", "60"); code != 503 {
		t.Errorf("token with the endpoint disabled = %d, want 503", code)
	}
}

func TestPaths(t *testing.T) {
	inst, _, _, base := start(t)
	for path, want := range map[string]string{
		"/latest/meta-data/ami-id":                      "ami-12345678",
		"/latest/meta-data/instance-type":               "t3.micro",
		"/latest/meta-data/local-ipv4":                  "172.31.5.6",
		"/latest/meta-data/mac":                         "0e:00:00:00:00:01",
		"/latest/meta-data/hostname":                    "ip-172-31-5-6.ec2.internal",
		"/latest/meta-data/placement/availability-zone": "us-east-1a",
		"/latest/meta-data/placement/region":            "us-east-1",
		"/latest/meta-data/placement/":                  "availability-zone\navailability-zone-id\nregion",
		"/latest/meta-data/security-groups":             "default\nweb",
		"/latest/meta-data/network/interfaces/macs/":    "0e:00:00:00:00:01/",
		"/latest/meta-data/network/interfaces/macs/0e:00:00:00:00:01/subnet-ipv4-cidr-block": "172.31.0.0/20",
		"/latest/meta-data/network/interfaces/macs/0e:00:00:00:00:01/security-group-ids":     "sg-1\nsg-2",
		"/latest/meta-data/iam/":                      "info\nsecurity-credentials/",
		"/latest/meta-data/iam/security-credentials/": "web-role",
		"/latest/user-data":                           "#!/bin/sh\necho hi\n",
		"/latest/dynamic/instance-identity/":          "document",
	} {
		if code, body, _ := do(t, "GET", base+path); code != 200 || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, code, body, want)
		}
	}
	_, top, _ := do(t, "GET", base+"/latest/meta-data/")
	for _, e := range []string{"ami-id", "iam/", "instance-id", "local-ipv4", "network/", "placement/", "public-keys/", "security-groups"} {
		if !strings.Contains("\n"+top+"\n", "\n"+e+"\n") {
			t.Errorf("meta-data/ = %q, lacks %s", top, e)
		}
	}
	var doc map[string]any
	_, body, _ := do(t, "GET", base+"/latest/dynamic/instance-identity/document")
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"accountId": "111111111111", "instanceId": "i-0abc", "region": "us-east-1", "privateIp": "172.31.5.6",
		"availabilityZone": "us-east-1a", "imageId": "ami-12345678", "instanceType": "t3.micro", "pendingTime": "2026-12-07T12:00:00Z"} {
		if doc[k] != v {
			t.Errorf("identity document %s = %v, want %v", k, doc[k], v)
		}
	}
	if code, _, _ := do(t, "GET", base+"/latest/meta-data/tags/instance"); code != 404 {
		t.Errorf("tags without InstanceMetadataTags = %d, want 404", code)
	}
	inst.set(func(m *ec2.Metadata) { m.Tags = map[string]string{"Name": "web-1"}; m.UserData = nil; m.Profile = nil })
	for path, want := range map[string]int{"/latest/meta-data/tags/instance/Name": 200, "/latest/user-data": 404,
		"/latest/meta-data/iam/info": 404, "/latest/meta-data/nosuch": 404, "/nosuch": 404} {
		if code, _, _ := do(t, "GET", base+path); code != want {
			t.Errorf("GET %s = %d, want %d", path, code, want)
		}
	}
}

func TestCredentialsRotate(t *testing.T) {
	inst, roles, clk, base := start(t)
	creds := func() map[string]string {
		t.Helper()
		code, body, _ := do(t, "GET", base+"/latest/meta-data/iam/security-credentials/web-role")
		var c map[string]string
		if err := json.Unmarshal([]byte(body), &c); code != 200 || err != nil {
			t.Fatalf("credentials = %d %q %v", code, body, err)
		}
		return c
	}
	first := creds()
	if first["Code"] != "Success" || first["Type"] != "AWS-HMAC" || first["AccessKeyId"] != "ASIAKEY1" || first["Expiration"] != "2026-12-07T18:00:00Z" {
		t.Errorf("credentials = %v, want ASIAKEY1 expiring in 6h", first)
	}
	clk.add(4 * time.Hour)
	if c := creds(); c["AccessKeyId"] != "ASIAKEY1" {
		t.Errorf("credentials 4h later = %s, want the same (2h left)", c["AccessKeyId"])
	}
	clk.add(61 * time.Minute)
	if c := creds(); c["AccessKeyId"] != "ASIAKEY2" || c["Expiration"] != "2026-12-07T23:01:00Z" {
		t.Errorf("credentials 59 min before expiry = %v, want new ones", c)
	}
	// A new association (replaced) gets new credentials.
	inst.set(func(m *ec2.Metadata) { m.Profile.AssociationID = "iip-assoc-2" })
	if c := creds(); c["AccessKeyId"] != "ASIAKEY3" {
		t.Errorf("credentials of a new association = %s, want new ones", c["AccessKeyId"])
	}
	roles.trust = false
	inst.set(func(m *ec2.Metadata) { m.Profile.AssociationID = "iip-assoc-3" })
	if c := creds(); c["Code"] != "AssumeRoleUnauthorizedAccess" || c["AccessKeyId"] != "" {
		t.Errorf("credentials of a role EC2 may not assume = %v, want AssumeRoleUnauthorizedAccess", c)
	}
}
