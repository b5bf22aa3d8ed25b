package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
)

// Cookies.
const (
	sessionCookie = "cachalot-console"
	// signinCookie carries the sign-in form's CSRF token before there is
	// a session (double submit), and the MFA step's pending sign-in.
	signinCookie = "cachalot-console-signin"
)

// pendingTTL is how long a sign-in waits for its MFA code.
const pendingTTL = 5 * time.Minute

// session is one signed-in principal. Its fields but mu-guarded ones are
// fixed at sign-in.
type session struct {
	id        string
	csrf      string
	principal auth.Principal
	expires   time.Time

	mu    sync.Mutex // guards reg, mfa and flash
	reg   string
	mfa   *mfaSetup // the virtual MFA device being set up, if any
	flash string    // the message of the next page rendered
}

func (s *session) popFlash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

func (s *session) region() string { s.mu.Lock(); defer s.mu.Unlock(); return s.reg }

func (s *session) view(regions []string) *sessionView {
	name := s.principal.Name
	if s.principal.Type == auth.Root {
		name = "root"
	}
	return &sessionView{Name: name, Account: s.principal.AccountID, ARN: s.principal.ARN, Region: s.region(), CSRF: s.csrf, Regions: regions}
}

// pendingSignIn is a password sign-in waiting for its MFA code. The
// password is held in memory only, for pendingTTL at most.
type pendingSignIn struct {
	account, user, password string
	expires                 time.Time
}

type sessionKey struct{}

func sessionFrom(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func tokenEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie builds a console cookie: HTTP-only, same-site strict, Secure when
// the request came over TLS, scoped to the console's path.
func cookie(r *http.Request, name, value string, expires time.Time) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: expires}
	if value == "" {
		ck.MaxAge = -1
	}
	return ck
}

// sameOrigin refuses a change sent from another origin: the Origin header
// (or, without it, the Referer) must name this host. A request with
// neither (not a browser's) is left to the CSRF token.
func sameOrigin(r *http.Request) bool {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	self := scheme + "://" + r.Host
	if o := r.Header.Get("Origin"); o != "" {
		return o == self
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == self
	}
	return true
}

// lookup returns the live session of the request's cookie.
func (c *Console) lookup(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[ck.Value]
	if !ok {
		return nil, true
	}
	if !c.cfg.Now().Before(s.expires) {
		delete(c.sessions, ck.Value)
		return nil, true
	}
	return s, true
}

// authed wraps a handler of a signed-in page: without a live session it
// sends to the sign-in page (saying when the session expired); a POST must
// come from this origin with the session's CSRF token.
func (c *Console) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, hadCookie := c.lookup(r)
		if s == nil {
			if r.Method != http.MethodGet {
				http.Error(w, "Your session has expired. Sign in again.", http.StatusUnauthorized)
				return
			}
			q := url.Values{"next": {r.URL.RequestURI()}}
			if hadCookie {
				q.Set("expired", "1")
			}
			http.Redirect(w, r, Prefix+"signin?"+q.Encode(), http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameOrigin(r) {
				http.Error(w, "Cross-origin request refused.", http.StatusForbidden)
				return
			}
			if !tokenEqual(r.PostFormValue("csrf"), s.csrf) {
				http.Error(w, "Invalid or missing CSRF token. Reload the page and try again.", http.StatusForbidden)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	}
}

type signinForm struct {
	Mode, Account, User, AccessKey, Next, CSRF string
	MFA, Expired, SignedOut                    bool
	Message                                    string
}

// signinPage shows the sign-in form with a fresh pre-session CSRF token.
func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	f := signinForm{Mode: r.URL.Query().Get("mode"), Next: safeNext(r.URL.Query().Get("next")), Expired: r.URL.Query().Get("expired") == "1",
		SignedOut: r.URL.Query().Get("signedout") == "1"}
	c.showSignin(w, r, http.StatusOK, f, "")
}

// showSignin shows the sign-in form under the pre-session token token (a
// new one when ""; the MFA step keeps the token naming its pending
// sign-in).
func (c *Console) showSignin(w http.ResponseWriter, r *http.Request, status int, f signinForm, token string) {
	if f.Mode != "keys" {
		f.Mode = "password"
	}
	if token == "" {
		token = randomToken()
	}
	f.CSRF = token
	http.SetCookie(w, cookie(r, signinCookie, f.CSRF, c.cfg.Now().Add(pendingTTL)))
	c.render(w, r, status, "signin", page{Title: "Sign in", Data: f})
}

// safeNext keeps a post-sign-in destination only inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return Prefix
	}
	return next
}

// signin checks the sign-in form: access keys (account root, or an IAM
// user's long-term keys), or an IAM user's password and, with MFA, a code.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(signinCookie)
	if !sameOrigin(r) || err != nil || !tokenEqual(r.PostFormValue("csrf"), ck.Value) {
		http.Error(w, "Invalid or missing CSRF token. Reload the page and try again.", http.StatusForbidden)
		return
	}
	f := signinForm{Mode: r.PostFormValue("mode"), Account: strings.TrimSpace(r.PostFormValue("account")),
		User: strings.TrimSpace(r.PostFormValue("user")), AccessKey: strings.TrimSpace(r.PostFormValue("access_key")),
		Next: safeNext(r.PostFormValue("next"))}
	p, err := c.checkSignin(r, &f, ck.Value)
	switch {
	case errors.Is(err, ErrMFARequired):
		f.MFA = true
		f.Message = "Enter the code of your MFA device."
		c.showSignin(w, r, http.StatusOK, f, ck.Value)
		return
	case err != nil:
		c.cfg.Logger.Info("console: sign-in refused", "mode", f.Mode, "account", f.Account, "user", f.User, "access_key", f.AccessKey)
		f.Message = "Your authentication information is incorrect. Please try again."
		c.showSignin(w, r, http.StatusUnauthorized, f, "")
		return
	}
	s := &session{id: randomToken(), csrf: randomToken(), principal: p, expires: c.cfg.Now().Add(c.cfg.SessionTTL), reg: c.cfg.DefaultRegion}
	c.mu.Lock()
	c.sessions[s.id] = s
	delete(c.pending, ck.Value)
	c.gcLocked()
	c.mu.Unlock()
	http.SetCookie(w, cookie(r, signinCookie, "", time.Time{}))
	http.SetCookie(w, cookie(r, sessionCookie, s.id, s.expires))
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// checkSignin returns the principal of a sign-in form. A password sign-in
// that needs an MFA code is kept pending under the form's token.
func (c *Console) checkSignin(r *http.Request, f *signinForm, token string) (auth.Principal, error) {
	ctx := r.Context()
	if code := strings.TrimSpace(r.PostFormValue("mfa_code")); code != "" || r.PostFormValue("mfa_step") == "1" {
		c.mu.Lock()
		pend, ok := c.pending[token]
		c.mu.Unlock()
		if !ok || !c.cfg.Now().Before(pend.expires) {
			return auth.Principal{}, errors.New("no pending sign-in")
		}
		f.Mode, f.Account, f.User = "password", pend.account, pend.user
		if code == "" {
			return auth.Principal{}, ErrMFARequired
		}
		return c.cfg.Password(ctx, pend.account, pend.user, pend.password, code)
	}
	if f.Mode == "keys" {
		k, err := c.cfg.Keys.ResolveKey(ctx, f.AccessKey)
		if err != nil || k.SessionToken != "" || !tokenEqual(r.PostFormValue("secret_key"), k.SecretAccessKey) {
			return auth.Principal{}, errors.New("bad access key")
		}
		return k.Principal, nil
	}
	pw := r.PostFormValue("password")
	p, err := c.cfg.Password(ctx, f.Account, f.User, pw, "")
	if errors.Is(err, ErrMFARequired) {
		c.mu.Lock()
		c.pending[token] = &pendingSignIn{account: f.Account, user: f.User, password: pw, expires: c.cfg.Now().Add(pendingTTL)}
		c.mu.Unlock()
		// The form's token now names the pending sign-in: keep the cookie.
	}
	return p, err
}

// gcLocked drops expired sessions and pending sign-ins. c.mu is held.
func (c *Console) gcLocked() {
	now := c.cfg.Now()
	for k, s := range c.sessions {
		if !now.Before(s.expires) {
			delete(c.sessions, k)
		}
	}
	for k, p := range c.pending {
		if !now.Before(p.expires) {
			delete(c.pending, k)
		}
	}
}

// signout ends the session.
func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	c.mu.Lock()
	delete(c.sessions, s.id)
	c.mu.Unlock()
	http.SetCookie(w, cookie(r, sessionCookie, "", time.Time{}))
	http.Redirect(w, r, Prefix+"signin?signedout=1", http.StatusSeeOther)
}

// setRegion changes the session's region.
func (c *Console) setRegion(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r)
	reg := r.PostFormValue("region")
	if !slices.Contains(c.cfg.Regions, reg) {
		http.Error(w, "unknown region", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.reg = reg
	s.mu.Unlock()
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}
