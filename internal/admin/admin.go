// Package admin owns the installation's admin socket: a Unix socket in the
// data dir, mode 0600, so only the installation's owner reaches it. It
// serves what has no AWS API — creating and listing accounts, making
// outside clients on the simulated internet, and telling `cachalot exec`
// which network namespace to enter — as JSON over HTTP, and holds the
// request and response types both ends use (Client is the other end).
//
// It is the one package besides the wire edge that serves HTTP, and only on
// that socket. It reaches the rest of Cachalot through small interfaces
// (Accounts, Network); only the wiring (internal/app) builds a Server, and
// the CLI uses Client and the types.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/cachalot-dev/cachalot/internal/account"
)

// SocketFile is the socket's name in the data dir.
const SocketFile = "admin.sock"

// NewAccountRequest asks for an account.
type NewAccountRequest struct {
	Name       string `json:"name"`
	Email      string `json:"email"`
	EC2Classic bool   `json:"ec2_classic"`
}

// NewAccountResponse is a created account with its root credentials.
type NewAccountResponse struct {
	AccountID       string `json:"account_id"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	EC2Classic      bool   `json:"ec2_classic"`
}

// AccountSummary is an account as the admin listing shows it (no secrets).
type AccountSummary struct {
	AccountID  string    `json:"account_id"`
	Name       string    `json:"name,omitempty"`
	EC2Classic bool      `json:"ec2_classic"`
	CreatedAt  time.Time `json:"created_at"`
}

// OutsideClientRequest asks for a simulated client on the internet.
type OutsideClientRequest struct {
	Address string `json:"address"`
}

// OutsideClientResponse is a realised outside client: Netns is the path of
// its network namespace (nsenter --net=…).
type OutsideClientResponse struct {
	Address string `json:"address"`
	Netns   string `json:"netns"`
}

// NamespaceResponse is the realised network namespace of an instance (GET
// /v1/instances/{id}/netns?region=…): ID is its netplane id (the
// instance's primary interface), Netns its path (nsenter --net=…), Enter
// the argv prefix that runs a program, appended to it, as on the instance:
// in that namespace, with the VPC's resolv.conf as /etc/resolv.conf.
type NamespaceResponse struct {
	Instance string   `json:"instance"`
	ID       string   `json:"id"`
	Netns    string   `json:"netns"`
	Enter    []string `json:"enter"`
}

// Accounts creates and lists the installation's accounts.
type Accounts interface {
	Create(ctx context.Context, name, email string, ec2Classic bool) (*account.Account, error)
	List(ctx context.Context) ([]*account.Account, error)
}

// Network realises and finds network namespaces. Errors that are the
// asker's (an address an outside client cannot have, an unknown or stopped
// instance, the loopback network mode) wrap ErrRefused.
type Network interface {
	// OutsideClient makes (if needed) the outside client holding addr and
	// returns its netplane id.
	OutsideClient(ctx context.Context, addr netip.Addr) (id string, err error)
	// InstanceNamespace returns the netplane id of the realised namespace
	// of a running instance ("" region: any).
	InstanceNamespace(ctx context.Context, region, instanceID string) (id string, err error)
	// NetnsPath is the path of the namespace with that netplane id.
	NetnsPath(id string) (string, error)
	// EnterArgs is the argv prefix that runs a program as on the instance
	// whose interface has that netplane id.
	EnterArgs(ctx context.Context, id string) ([]string, error)
}

// ErrRefused marks the errors of a Network that are the asker's: the
// server answers them 400 with their message.
var ErrRefused = errors.New("refused")

// Config configures a Server.
type Config struct {
	Path     string // the socket's path
	Accounts Accounts
	Network  Network
	Logger   *slog.Logger
}

// Server serves the admin socket.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *http.Server
	done chan struct{}
}

// Start listens on the socket (replacing a stale one of a killed daemon)
// and serves until Close.
func Start(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	os.Remove(cfg.Path) // a stale socket of a killed daemon
	ln, err := net.Listen("unix", cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(cfg.Path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin socket stopped", "err", err)
		}
	}()
	return s, nil
}

// Close stops serving and removes the socket.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	os.Remove(s.cfg.Path)
	return err
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/accounts", s.createAccount)
	mux.HandleFunc("GET /v1/accounts", s.listAccounts)
	mux.HandleFunc("POST /v1/outside-clients", s.outsideClient)
	mux.HandleFunc("GET /v1/instances/{id}/netns", s.instanceNetns)
	return mux
}

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) {
	var req NewAccountRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	acct, err := s.cfg.Accounts.Create(r.Context(), req.Name, req.Email, req.EC2Classic)
	if err != nil {
		s.log.Error("admin: create account", "err", err)
		http.Error(w, "cannot create the account", http.StatusInternalServerError)
		return
	}
	s.log.Info("admin: account created", "account", acct.ID, "ec2_classic", acct.EC2Classic)
	writeJSON(w, NewAccountResponse{AccountID: acct.ID, AccessKeyID: acct.RootAccessKeyID, SecretAccessKey: acct.RootSecretAccessKey, EC2Classic: acct.EC2Classic})
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) {
	accts, err := s.cfg.Accounts.List(r.Context())
	if err != nil {
		http.Error(w, "cannot list accounts", http.StatusInternalServerError)
		return
	}
	out := []AccountSummary{}
	for _, ac := range accts {
		out = append(out, AccountSummary{AccountID: ac.ID, Name: ac.Name, EC2Classic: ac.EC2Classic, CreatedAt: ac.CreatedAt})
	}
	writeJSON(w, out)
}

func (s *Server) outsideClient(w http.ResponseWriter, r *http.Request) {
	var req OutsideClientRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	addr, err := netip.ParseAddr(req.Address)
	if err != nil {
		http.Error(w, fmt.Sprintf("%q is not an IP address", req.Address), http.StatusBadRequest)
		return
	}
	path, err := s.netns(func() (string, error) { return s.cfg.Network.OutsideClient(r.Context(), addr) })
	if err != nil {
		s.fail(w, err, "cannot realise the outside client", "addr", addr)
		return
	}
	s.log.Info("admin: outside client", "addr", addr, "netns", path)
	writeJSON(w, OutsideClientResponse{Address: addr.String(), Netns: path})
}

func (s *Server) instanceNetns(w http.ResponseWriter, r *http.Request) {
	inst := r.PathValue("id")
	var id string
	path, err := s.netns(func() (string, error) {
		var err error
		id, err = s.cfg.Network.InstanceNamespace(r.Context(), r.URL.Query().Get("region"), inst)
		return id, err
	})
	if err != nil {
		s.fail(w, err, "cannot find the instance's network", "instance", inst)
		return
	}
	enter, err := s.cfg.Network.EnterArgs(r.Context(), id)
	if err != nil {
		s.fail(w, err, "cannot enter the instance's network", "instance", inst)
		return
	}
	writeJSON(w, NamespaceResponse{Instance: inst, ID: id, Netns: path, Enter: enter})
}

// netns runs a lookup and returns the path of the namespace it names.
func (s *Server) netns(lookup func() (string, error)) (string, error) {
	id, err := lookup()
	if err != nil {
		return "", err
	}
	return s.cfg.Network.NetnsPath(id)
}

// fail answers 400 with the message of an error that is the asker's, and
// 500 otherwise (logged).
func (s *Server) fail(w http.ResponseWriter, err error, what string, args ...any) {
	if errors.Is(err, ErrRefused) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.log.Error("admin: "+what, append(args, "err", err)...)
	http.Error(w, what+": "+err.Error(), http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Client talks to the admin socket at path.
func Client(path string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// Refuse marks err as the asker's (errors.Is(err, ErrRefused)), its
// message unchanged.
func Refuse(err error) error {
	if err == nil {
		return nil
	}
	return refused{err}
}

type refused struct{ error }

func (r refused) Unwrap() []error { return []error{r.error, ErrRefused} }
