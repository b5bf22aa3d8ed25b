package elasticache

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
)

func TestAccessRules(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" = refused
	}{
		{"on ~* +@all", "on ~* +@all"},
		{"  on   ~app:*  -@all +get +client|id ", "on ~app:* -@all +get +client|id"},
		{"off", "off"},
		{"on %R~cache:* &chan:* allcommands", "on %R~cache:* &chan:* allcommands"},
		{"on >secret ~* +@all", ""},
		{"on nopass", ""},
		{"on #0123", ""},
		{"reset on", ""},
		{"on ~a\"b", ""},
		{"on everything", ""},
		{"", ""},
	} {
		got, err := accessRules(tc.in)
		if s := strings.Join(got, " "); (tc.want == "") != (err != nil) || s != tc.want {
			t.Errorf("accessRules(%q) = %q, %v; want %q", tc.in, s, err, tc.want)
		}
	}
	// A refused password rule is not echoed back.
	if _, err := accessRules("on >hunter2-secret ~*"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("accessRules with a password = %v, want an error without it", err)
	}
}

func TestUserAuth(t *testing.T) {
	p1, p2 := "password-0123456789", "password-9876543210"
	mode := func(typ string, pw ...string) *elasticacheapi.AuthenticationMode {
		return &elasticacheapi.AuthenticationMode{Type: aws.String(typ), Passwords: pw}
	}
	for _, tc := range []struct {
		name    string
		pw      []string
		noPass  *bool
		mode    *elasticacheapi.AuthenticationMode
		typ     string
		hashes  int
		set, ok bool
	}{
		{name: "passwords", pw: []string{p1, p2}, typ: AuthPassword, hashes: 2, set: true, ok: true},
		{name: "no-password", noPass: aws.Bool(true), typ: AuthNoPassword, set: true, ok: true},
		{name: "mode-password", mode: mode(AuthPassword, p1), typ: AuthPassword, hashes: 1, set: true, ok: true},
		{name: "mode-no-password", mode: mode(AuthNoPassword), typ: AuthNoPassword, set: true, ok: true},
		{name: "none", ok: true},
		{name: "both", pw: []string{p1}, noPass: aws.Bool(true)},
		{name: "mode-and-passwords", pw: []string{p1}, mode: mode(AuthPassword, p1)},
		{name: "mode-password-without", mode: mode(AuthPassword)},
		{name: "mode-no-password-with", mode: mode(AuthNoPassword, p1)},
		{name: "iam", mode: mode(AuthIAM), typ: AuthIAM, set: true, ok: true},
		{name: "iam-with-password", mode: mode(AuthIAM, p1)},
		{name: "three", pw: []string{p1, p2, p1 + "x"}},
		{name: "short", pw: []string{"short"}},
		{name: "space", pw: []string{"with a space 0123456789"}},
		{name: "no-password-false", noPass: aws.Bool(false), ok: true},
	} {
		typ, hashes, set, err := userAuth(tc.pw, tc.noPass, tc.mode)
		if (err == nil) != tc.ok || typ != tc.typ || len(hashes) != tc.hashes || set != tc.set {
			t.Errorf("%s: userAuth = %q, %d hashes, set %v, %v; want %q, %d, %v, ok %v", tc.name, typ, len(hashes), set, err, tc.typ, tc.hashes, tc.set, tc.ok)
		}
		for _, h := range hashes {
			if h == p1 || h == p2 || len(h) != 64 {
				t.Errorf("%s: hash %q is not a SHA-256 hex digest", tc.name, h)
			}
		}
	}
}

func TestACLUser(t *testing.T) {
	u := &User{Name: "reader", AccessString: "on ~app:* -@all +get", AuthType: AuthPassword, PasswordHashes: []string{tokenHash("password-0123456789")}}
	want := []string{"#" + tokenHash("password-0123456789"), "&*", "on", "~app:*", "-@all", "+get"}
	if got := aclUser(u); got.Name != "reader" || !slices.Equal(got.Rules, want) {
		t.Errorf("aclUser = %+v, want rules %q", got, want)
	}
	u = &User{Name: "default", AccessString: "off resetchannels", AuthType: AuthNoPassword}
	if got := aclUser(u); !slices.Equal(got.Rules, []string{"nopass", "off", "resetchannels"}) {
		t.Errorf("aclUser(no password, channels named) = %q", got.Rules)
	}
}
