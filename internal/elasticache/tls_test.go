package elasticache

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// TestModifyTransit: every transition of a group's in-transit encryption
// through ModifyReplicationGroup — allowed ones change the group and its
// members, refused ones change nothing and say why with AWS's code.
func TestModifyTransit(t *testing.T) {
	pref, req := aws.String(TransitPreferred), aws.String(TransitRequired)
	on, off := aws.Bool(true), aws.Bool(false)
	cases := []struct {
		name      string
		from      string
		enabled   *bool
		mode      *string
		group     func(g *ReplicationGroup)
		want      string // the mode after; ignored when code is set
		plain     bool   // names without TLS kept
		code, msg string
	}{
		{name: "nothing", from: "", want: ""},
		{name: "enable-preferred", from: "", enabled: on, mode: pref, want: TransitPreferred, plain: true},
		{name: "preferred-required", from: TransitPreferred, mode: req, want: TransitRequired},
		{name: "preferred-required-enabled", from: TransitPreferred, enabled: on, mode: req, want: TransitRequired},
		{name: "required-preferred", from: TransitRequired, mode: pref, want: TransitPreferred},
		{name: "preferred-disable", from: TransitPreferred, enabled: off, want: ""},
		{name: "same", from: TransitRequired, enabled: on, mode: req, want: TransitRequired},
		{name: "enabled-again", from: TransitRequired, enabled: on, want: TransitRequired},
		{name: "mode-without-enabling", from: "", mode: pref, code: "InvalidParameterCombination", msg: "set encryption-in-transit as enabled"},
		{name: "enable-without-mode", from: "", enabled: on, code: "InvalidParameterCombination", msg: "preferred"},
		{name: "enable-required", from: "", enabled: on, mode: req, code: "InvalidParameterCombination", msg: "two steps"},
		{name: "required-disable", from: TransitRequired, enabled: off, code: "InvalidParameterCombination", msg: "preferred first"},
		{name: "disable-with-mode", from: TransitPreferred, enabled: off, mode: pref, code: "InvalidParameterCombination", msg: "TransitEncryptionEnabled is true"},
		{name: "bad-mode", from: TransitPreferred, mode: aws.String("sometimes"), code: "InvalidParameterValue", msg: "sometimes"},
		{name: "user-group", from: TransitRequired, mode: pref, group: func(g *ReplicationGroup) { g.UserGroupID = "app" },
			code: "InvalidParameterCombination", msg: "access control enabled clusters"},
		{name: "auth-token-disable", from: TransitPreferred, enabled: off, group: func(g *ReplicationGroup) { g.AuthTokens = []string{"h"} },
			code: "InvalidParameterValue", msg: "AUTH token"},
		{name: "old-redis", from: "", enabled: on, mode: pref, group: func(g *ReplicationGroup) { g.EngineVersion = "6.2" },
			code: "InvalidParameterCombination", msg: "7.0"},
		{name: "cluster-mode", from: "", enabled: on, mode: pref, group: func(g *ReplicationGroup) { g.ClusterMode = "enabled" },
			want: TransitPreferred, plain: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &ReplicationGroup{ID: "rg", Engine: "redis", EngineVersion: "7.0", TransitEncryptionMode: tc.from}
			if tc.group != nil {
				tc.group(g)
			}
			c := &Cluster{ID: "rg-001", Status: StatusAvailable, TransitEncryptionMode: tc.from}
			changed, err := modifyTransit(g, []*Cluster{c}, tc.enabled, tc.mode)
			if tc.code != "" {
				var ae *awserr.Error
				if !errors.As(err, &ae) || ae.Code != tc.code || !strings.Contains(ae.Message, tc.msg) {
					t.Fatalf("modifyTransit = %v, want %s containing %q", err, tc.code, tc.msg)
				}
				if changed || g.TransitEncryptionMode != tc.from || c.TransitEncryptionMode != tc.from || c.Status != StatusAvailable {
					t.Errorf("refused, yet changed: group %q, member %q %s", g.TransitEncryptionMode, c.TransitEncryptionMode, c.Status)
				}
				return
			}
			if err != nil {
				t.Fatalf("modifyTransit = %v", err)
			}
			if changed != (tc.want != tc.from) || g.TransitEncryptionMode != tc.want || c.TransitEncryptionMode != tc.want ||
				g.PlainNames != tc.plain || c.PlainNames != tc.plain {
				t.Errorf("modifyTransit = %v: group %q (plain names %v), member %q (%v); want %q (%v)", changed,
					g.TransitEncryptionMode, g.PlainNames, c.TransitEncryptionMode, c.PlainNames, tc.want, tc.plain)
			}
			if changed && (g.TransitPending == nil || g.TransitPending.From != tc.from || c.Status != StatusModifying) {
				t.Errorf("changed: pending %+v, member %s; want pending from %q, member modifying", g.TransitPending, c.Status, tc.from)
			}
		})
	}
}
