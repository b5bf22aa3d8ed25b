// Package console is Cachalot's web console: server-rendered pages, in the
// AWS console's vocabulary and navigation, for the flows the ElastiCache
// user guide walks through in the console (create a cache, set up a compute
// connection, edit a security group's inbound rules, EC2-Classic cache
// security groups, IAM users, policies and MFA).
//
// The console is an API client of the service, in-process: every page and
// every action calls the API's operations through Invoker — the endpoint's
// own decoding, resource naming, conditions and authorizer — as the signed-in
// principal, so the console can do nothing that IAM does not allow that
// principal, and shows the API's own messages ("You are not authorized to
// perform this operation.") where the API refuses. It owns sign-in (account
// root access keys, or an IAM user's console password with MFA), sessions in
// HTTP-only, same-site, expiring cookies, CSRF tokens and the Origin check.
// Templates, CSS and a small progressive-enhancement script are embedded.
//
// It is served under /console/ on the API's listener. Only the wiring
// (internal/app) imports it.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Prefix is the path under which the console is served.
const Prefix = "/console/"

// Invoker runs one API operation as a principal, exactly as a signed
// request of that principal would run (endpoint.Handler.Invoke). params
// holds Action and the operation's parameters in the service's query
// protocol; the answer is the operation's output shape or the API's error.
type Invoker interface {
	Invoke(ctx context.Context, p auth.Principal, region, service string, params url.Values, sourceIP string, secure bool) (any, error)
}

// PasswordSignIn checks an IAM user's console password and, when the user
// has an MFA device, a one-time code; it returns ErrMFARequired when a
// code is needed and none was given, and any other error for a failed
// sign-in (never saying which part was wrong).
type PasswordSignIn func(ctx context.Context, accountID, userName, password, mfaCode string) (auth.Principal, error)

// ErrMFARequired is PasswordSignIn's answer to a right password of a user
// with MFA, given without a code.
var ErrMFARequired = errors.New("console: MFA code required")

// Config configures a Console. API, Keys and Password are required.
type Config struct {
	API Invoker
	// Keys resolves access keys for the access-key sign-in (account root
	// credentials, or an IAM user's long-term keys).
	Keys     auth.KeyResolver
	Password PasswordSignIn
	// Regions offered by the region selector; default us-east-1 and a few
	// others.
	Regions []string
	// DefaultRegion of a new session; default us-east-1.
	DefaultRegion string
	// SessionTTL is how long a session lasts after sign-in; default 12h.
	SessionTTL time.Duration
	Logger     *slog.Logger     // default slog.Default()
	Now        func() time.Time // default time.Now
}

// Console is the console's http.Handler.
type Console struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template

	mu       sync.Mutex          // guards sessions and pending
	sessions map[string]*session // by cookie value
	pending  map[string]*pendingSignIn
}

//go:embed templates static
var assets embed.FS

// New returns a Console; it has no side effects.
func New(cfg Config) (*Console, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "us-east-1"
	}
	if len(cfg.Regions) == 0 {
		cfg.Regions = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-1"}
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	c := &Console{cfg: cfg, sessions: map[string]*session{}, pending: map[string]*pendingSignIn{}}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) parseTemplates() error {
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return nil
}

// ServeHTTP serves the console. Every answer forbids framing and caching.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	if !strings.HasPrefix(r.URL.Path, Prefix+"static/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	}
	c.mux.ServeHTTP(w, r)
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

// page is what every template receives.
type page struct {
	Title   string
	Service string // elasticache, ec2, iam: the navigation shown
	Nav     string // the navigation entry shown as current
	S       *sessionView
	Flash   string
	Error   *apiErr
	Data    any
}

// sessionView is what a page may know of the session: never a secret but
// the CSRF token, which the page must carry.
type sessionView struct {
	Name, Account, ARN, Region, CSRF string
	Regions                          []string
}

// apiErr is an error as the console shows it: the API's code and message.
type apiErr struct {
	Code, Message string
	Field         string // the form field it names, if any
}

func (e *apiErr) Error() string { return e.Code + ": " + e.Message }

// render writes the named page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no page "+name, http.StatusInternalServerError)
		return
	}
	if s := sessionFrom(r); s != nil {
		p.S = s.view(c.cfg.Regions)
	}
	if s := sessionFrom(r); s != nil && p.Flash == "" {
		p.Flash = s.popFlash()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, p); err != nil {
		c.cfg.Logger.Error("console: render", "page", name, "err", err)
	}
}

// call invokes an operation as the session's principal in its region.
// An error is returned as the console shows it (*apiErr); anything that
// is not an AWS error is logged and shown as the API's InternalFailure.
func (c *Console) call(r *http.Request, service string, params url.Values) (any, error) {
	s := sessionFrom(r)
	if s == nil {
		return nil, &apiErr{Code: "AuthFailure", Message: "not signed in"}
	}
	out, err := c.cfg.API.Invoke(r.Context(), s.principal, s.region(), service, params, sourceIP(r), r.TLS != nil)
	if act := params.Get("Action"); r.Method == http.MethodPost && !strings.HasPrefix(act, "Describe") && !strings.HasPrefix(act, "List") && !strings.HasPrefix(act, "Get") {
		// The console's changes are logged as the endpoint logs signed
		// requests: who, what, the answer.
		code := ""
		if e, ok := awserr.As(err); ok {
			code = e.Code
		}
		c.cfg.Logger.Info("console action", "principal", s.principal.ARN, "region", s.region(), "service", service,
			"action", params.Get("Action"), "error_code", code)
	}
	if err == nil {
		return out, nil
	}
	e, ok := awserr.As(err)
	if !ok {
		c.cfg.Logger.Error("console: internal failure", "service", service, "action", params.Get("Action"), "err", err)
		e = awserr.Internal()
	}
	return nil, &apiErr{Code: e.Code, Message: e.Message}
}

// asAPIErr returns err as the console shows it.
func asAPIErr(err error) *apiErr {
	var e *apiErr
	if errors.As(err, &e) {
		return e
	}
	return &apiErr{Code: "InternalFailure", Message: err.Error()}
}

// fieldOf names the form field among fields an API message is about, by
// the parameter name it cites; "" when it cites none.
func fieldOf(e *apiErr, fields ...string) string {
	for _, f := range fields {
		if strings.Contains(strings.ToLower(e.Message), strings.ToLower(f)) {
			return f
		}
	}
	return ""
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// redirect answers a POST with 303 to path (under the console), with a
// flash message for the next page the session renders (kept in the
// session, never in the URL, so that no link can put words in the
// console's mouth).
func redirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if s := sessionFrom(r); s != nil && flash != "" {
		s.mu.Lock()
		s.flash = flash
		s.mu.Unlock()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// staticFiles serves the embedded CSS and script.
func staticFiles() http.Handler {
	sub, _ := fs.Sub(assets, "static")
	return http.StripPrefix(Prefix+"static/", http.FileServer(http.FS(sub)))
}
