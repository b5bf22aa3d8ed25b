//go:build linux

package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// authAs runs AUTH tok (tok "": none) then GET k on a new connection
// and returns the first error's text, "" when both succeed.
func authAs(t *testing.T, addr, tok string) string {
	t.Helper()
	ctx := ctxT(t)
	c, err := redis.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tok != "" {
		if _, err := c.Do(ctx, "AUTH", tok); err != nil {
			return err.Error()
		}
	}
	if _, err := c.Do(ctx, "GET", "k"); err != nil {
		return err.Error()
	}
	return ""
}

// TestRedisAuthTokens: the default user's passwords follow the spec
// live: one token, a rotation (both accepted), then the new one only;
// the engine is never restarted.
func TestRedisAuthTokens(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	const old, next = "old-token-0123456789", "new-token-0123456789"
	spec := redisSpec(t, in, "auth-0001")
	spec.AuthTokens = []string{tokenHash(old)}
	ctx := ctxT(t)
	st, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	check := func(stage string, want map[string]string) {
		t.Helper()
		for tok, prefix := range want {
			got := authAs(t, spec.Addr(), tok)
			if (prefix == "" && got != "") || (prefix != "" && !strings.HasPrefix(got, prefix)) {
				t.Errorf("%s: AUTH %q then GET = %q, want %q", stage, tok, got, prefix)
			}
		}
	}
	check("one token", map[string]string{old: "", next: "WRONGPASS", "": "NOAUTH"})

	spec.AuthTokens = []string{tokenHash(old), tokenHash(next)}
	if _, err := s.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, EventAuthSet, 5*time.Second)
	check("rotating", map[string]string{old: "", next: "", "": "NOAUTH"})

	spec.AuthTokens = []string{tokenHash(next)}
	st2, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	check("set", map[string]string{old: "WRONGPASS", next: "", "": "NOAUTH"})
	if st2.PID != st.PID || st2.Auth != AuthID(spec.AuthTokens) {
		t.Errorf("after the changes: pid %d (was %d), auth %q; want the same process with %q", st2.PID, st.PID, st2.Auth, AuthID(spec.AuthTokens))
	}
	// The supervisor's own admin user is untouched.
	if got := configGet(t, s, spec, "maxmemory"); got == "" {
		t.Error("admin CONFIG GET failed after the changes")
	}

	spec.AuthTokens = nil
	if _, err := s.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	check("none", map[string]string{"": ""})
}
