//go:build linux

package engine

import (
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// as runs AUTH user pass (user "": none) then cmd on a new connection
// and returns the first error's text, "" when all succeed.
func as(t *testing.T, addr, user, pass string, cmd ...string) string {
	t.Helper()
	ctx := ctxT(t)
	c, err := redis.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if user != "" {
		if _, err := c.Do(ctx, "AUTH", user, pass); err != nil {
			return err.Error()
		}
	}
	if _, err := c.Do(ctx, cmd...); err != nil {
		return err.Error()
	}
	return ""
}

// TestRedisUsers: RBAC users follow the spec live (ACL SETUSER/DELUSER,
// no restart): a read-only user reads but may not write, a wrong
// password is refused, the default user off refuses unauthenticated
// commands, a changed access string takes effect, a removed user is
// gone; restricted commands stay denied to every user; a restart keeps
// the users (the rendered configuration has them).
func TestRedisUsers(t *testing.T) {
	in := requireEngine(t, catalog.Redis)
	rec := newRecorder()
	s, _ := newSupervisor(t, rec)
	const pw = "reader-password-0001"
	hash := "#" + tokenHash(pw)
	spec := redisSpec(t, in, "users-0001")
	ctx := ctxT(t)
	if _, err := s.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	spec.Users = []ACLUser{
		{Name: "default", Rules: []string{"nopass", "&*", "off"}},
		{Name: "reader", Rules: []string{hash, "&*", "on", "~*", "-@all", "+get"}},
		{Name: "writer", Rules: []string{hash, "&*", "on", "~*", "+@all"}},
	}
	st, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	addr := spec.Addr()
	check := func(stage string, user, pass, want string, cmd ...string) {
		t.Helper()
		if got := as(t, addr, user, pass, cmd...); (want == "" && got != "") || (want != "" && !strings.HasPrefix(got, want)) {
			t.Errorf("%s: %s %v = %q, want %q", stage, user, cmd, got, want)
		}
	}
	check("users", "writer", pw, "", "SET", "k", "v")
	check("users", "reader", pw, "", "GET", "k")
	check("users", "reader", pw, "NOPERM", "SET", "k", "v")
	check("users", "reader", "wrong-password-000000", "WRONGPASS", "GET", "k")
	check("users", "", "", "NOAUTH", "GET", "k")
	check("users", "writer", pw, "ERR unknown command", "CONFIG", "GET", "maxmemory")
	check("users", "writer", pw, "NOPERM", "PSYNC", "?", "-1")

	spec.Users[1].Rules = append(spec.Users[1].Rules, "+set")
	spec.Users = spec.Users[:2] // writer removed
	mod, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if mod.PID != st.PID {
		t.Errorf("pid %d after the users changed, was %d: want the same process", mod.PID, st.PID)
	}
	check("modified", "reader", pw, "", "SET", "k", "v2")
	check("modified", "writer", pw, "WRONGPASS", "GET", "k")

	if err := s.Reboot(ctx, spec.NodeID); err != nil {
		t.Fatal(err)
	}
	st2, _ := s.Status(spec.NodeID)
	check("rebooted", "reader", pw, "", "GET", "k")
	check("rebooted", "", "", "NOAUTH", "GET", "k")
	if st2.Auth != AuthID(nil, spec.Users...) || st.Auth == st2.Auth {
		t.Errorf("auth id %q (was %q), want %q", st2.Auth, st.Auth, AuthID(nil, spec.Users...))
	}
	if got := configGet(t, s, spec, "maxmemory"); got == "" {
		t.Error("admin CONFIG GET failed after the changes")
	}
}
