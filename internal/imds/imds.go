// Package imds is the instance metadata service: the HTTP server an
// instance reaches at 169.254.169.254:80 from inside its own network,
// answering IMDSv1 and IMDSv2 (session tokens from PUT /latest/api/token)
// as EC2 does, with the instance's identity, network, user data, tags
// (when InstanceMetadataTags is enabled), the instance identity document
// and, for an instance profile's role, temporary credentials that the
// installation's IAM accepts.
//
// It serves one instance per listener: the instance controller
// (internal/instancectl) opens a listener inside each running instance's
// network namespace and hands it to Server.Serve, so a connection's
// instance is known by where it arrived, never by what it claims. Every
// request serves the instance's current record, read through the EC2
// domain's Go API (ec2.Service.InstanceMetadata) and cached while nothing
// in its scope changes (cache.go), so a metadata options change
// (HttpTokens, hop limit, tags) or a disassociated profile takes effect on
// the next request. Credentials come through Roles, which the wiring
// implements over IAM; they are cached per instance and association and
// rotated before they expire, as on AWS.
//
// Only the wiring imports it.
package imds

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// Address is where instances reach the service.
const Address = "169.254.169.254:80"

// Instances reads what the service tells an instance about itself
// (ec2.Service).
type Instances interface {
	InstanceMetadata(ctx context.Context, account, region, instance string) (*ec2.Metadata, error)
}

// Credentials are temporary credentials of a role.
type Credentials struct {
	AccessKeyID, SecretAccessKey, Token string
	Expires                             time.Time
}

// ErrCannotAssume is returned by Roles.RoleCredentials when the role's
// trust policy does not allow ec2.amazonaws.com.
var ErrCannotAssume = errors.New("EC2 cannot assume the role")

// Roles is what the service needs of IAM; the wiring implements it.
type Roles interface {
	// ProfileRole returns the role of the instance profile (name, unique
	// id) of account, "" when it has none; ok is false when the profile
	// no longer exists.
	ProfileRole(ctx context.Context, account, profile, profileID string) (role string, ok bool, err error)
	// RoleCredentials issues credentials of role for instance, valid for d.
	RoleCredentials(ctx context.Context, account, role, instance string, d time.Duration) (Credentials, error)
}

// Config configures a Server.
type Config struct {
	Instances Instances
	Roles     Roles
	// CredentialTTL is how long issued credentials are valid; default 6h,
	// as EC2's.
	CredentialTTL time.Duration
	// RotateBefore is how long before their expiry credentials are
	// replaced by new ones; default 1h (AWS makes new credentials
	// available at least five minutes before the old ones expire).
	RotateBefore time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server serves the metadata of instances, one listener each. It is safe
// for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	key [32]byte // signs session tokens; new at each start

	mu    sync.Mutex // guards creds
	creds map[string]*credEntry
	// issue serialises the issuing of credentials, so that concurrent
	// first requests of an instance share one session.
	issue sync.Mutex
	// cache holds the instances' metadata (cache.go).
	cache metaCache
}

// credEntry is the credentials cached for one instance's association.
type credEntry struct {
	assoc, role string
	c           Credentials
	updated     time.Time
}

// New returns a server; it has no side effects.
func New(cfg Config) *Server {
	if cfg.CredentialTTL <= 0 {
		cfg.CredentialTTL = 6 * time.Hour
	}
	if cfg.RotateBefore <= 0 {
		cfg.RotateBefore = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, creds: map[string]*credEntry{}}
	s.cache.entries, s.cache.changed = map[string]metaEntry{}, map[string]uint64{}
	if _, err := rand.Read(s.key[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	return s
}

// Serve answers the metadata requests of one instance arriving on l until
// l is closed; it closes l.
func (s *Server) Serve(l net.Listener, account, region, instance string) error {
	srv := &http.Server{
		Handler:           s.Handler(account, region, instance),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &connState{c: c, ttl: -1})
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	err := srv.Serve(l)
	srv.Close() // and the connections kept alive: the instance's access ends with the listener
	if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Forget drops what is cached for an instance (it is gone).
func (s *Server) Forget(account, region, instance string) {
	s.forgetMetadata(account + "/" + region + "/" + instance)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creds, account+"/"+region+"/"+instance)
}

type connKey struct{}

// connState is a connection's, for the hop limit of token responses.
type connState struct {
	c   net.Conn
	ttl int // the IP TTL set on it; -1: the system's
}

// Handler returns the handler of one instance's requests.
func (s *Server) Handler(account, region, instance string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, account, region, instance)
	})
}

const (
	tokenHeader    = "X-Aws-Ec2-Metadata-Token"
	tokenTTLHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	maxTokenTTL    = 21600
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request, account, region, instance string) {
	h := w.Header()
	h.Set("Server", "EC2ws")
	m, tree, err := s.metadata(r.Context(), account, region, instance)
	if err != nil || m.State != "running" || !m.Endpoint {
		// The instance is gone, stopped or its endpoint disabled since the
		// listener was opened: the controller closes it shortly.
		plain(w, http.StatusServiceUnavailable, "")
		return
	}
	s.hopLimit(r, m)
	if r.URL.Path == "/latest/api/token" {
		s.token(w, r, instance)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "OPTIONS, GET, HEAD, PUT")
		plain(w, http.StatusMethodNotAllowed, "")
		return
	}
	if tok := r.Header.Get(tokenHeader); tok != "" {
		left, ok := s.checkToken(tok, instance)
		if !ok {
			plain(w, http.StatusUnauthorized, "")
			return
		}
		h.Set(tokenTTLHeader, strconv.Itoa(left))
	} else if m.Tokens {
		plain(w, http.StatusUnauthorized, "") // IMDSv1 refused: HttpTokens required
		return
	}
	body, ctype, status := s.lookup(r.Context(), m, tree, r.URL.Path)
	switch status {
	case http.StatusOK:
	case http.StatusNotFound:
		notFound(w)
		return
	default:
		plain(w, status, "")
		return
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// token answers PUT /latest/api/token: a session token for the instance,
// valid for the seconds its TTL header asks (1 to 21600).
func (s *Server) token(w http.ResponseWriter, r *http.Request, instance string) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", "OPTIONS, PUT")
		plain(w, http.StatusMethodNotAllowed, "")
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		plain(w, http.StatusForbidden, "") // EC2 refuses tokens to what is forwarded
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(tokenTTLHeader))
	if err != nil || ttl < 1 || ttl > maxTokenTTL {
		plain(w, http.StatusBadRequest, "")
		return
	}
	exp := s.cfg.Now().Add(time.Duration(ttl) * time.Second).Unix()
	tok := s.signToken(instance, exp)
	w.Header().Set(tokenTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(tok)))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(tok))
}

// signToken returns a token: its expiry and a MAC of the instance and the
// expiry under the server's key, so that a token is good for its instance
// only and dies with the daemon (clients ask for a new one on 401).
func (s *Server) signToken(instance string, exp int64) string {
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(exp))
	mac := hmac.New(sha256.New, s.key[:])
	mac.Write(b[:8])
	mac.Write([]byte(instance))
	copy(b[8:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkToken returns the seconds a token has left, and whether it is good.
func (s *Server) checkToken(tok, instance string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != 8+sha256.Size {
		return 0, false
	}
	exp := int64(binary.BigEndian.Uint64(b[:8]))
	if !hmac.Equal([]byte(s.signToken(instance, exp)), []byte(tok)) {
		return 0, false
	}
	left := exp - s.cfg.Now().Unix()
	if left <= 0 {
		return 0, false
	}
	return int(left), true
}

// hopLimit sets the IP TTL of the connection's packets to the instance's
// HttpPutResponseHopLimit for token responses (so that a token does not
// travel further than that many hops, to a container behind the
// instance say), and back to the system's otherwise.
func (s *Server) hopLimit(r *http.Request, m *ec2.Metadata) {
	cs, ok := r.Context().Value(connKey{}).(*connState)
	if !ok {
		return
	}
	want := -1
	if r.Method == http.MethodPut {
		want = int(m.HopLimit)
	}
	if want == cs.ttl {
		return
	}
	if err := setTTL(cs.c, want); err != nil {
		s.log.Debug("metadata: set hop limit", "instance", m.InstanceID, "err", err)
		return
	}
	cs.ttl = want
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body))
}

const notFoundPage = `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
         "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
`

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(notFoundPage)))
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(notFoundPage))
}

// trimDir strips a trailing slash.
func trimDir(p string) string { return strings.TrimSuffix(p, "/") }
