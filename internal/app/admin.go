package app

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
	"path/filepath"
	"time"
)

// AdminSocket is the installation's admin endpoint: a Unix socket in the data
// dir, mode 0600, so only the installation's owner reaches it. It serves
// what has no AWS API: creating accounts.
const AdminSocket = "admin.sock"

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

// startAdmin serves the admin socket until Close.
func (a *App) startAdmin() error {
	path := filepath.Join(a.cfg.DataDir, AdminSocket)
	os.Remove(path) // a stale socket of a killed daemon
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("admin socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/accounts", func(w http.ResponseWriter, r *http.Request) {
		var req NewAccountRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		acct, err := a.accounts.Create(r.Context(), req.Name, req.Email, req.EC2Classic)
		if err != nil {
			a.log.Error("admin: create account", "err", err)
			http.Error(w, "cannot create the account", http.StatusInternalServerError)
			return
		}
		a.log.Info("admin: account created", "account", acct.ID, "ec2_classic", acct.EC2Classic)
		writeJSON(w, NewAccountResponse{AccountID: acct.ID, AccessKeyID: acct.RootAccessKeyID, SecretAccessKey: acct.RootSecretAccessKey, EC2Classic: acct.EC2Classic})
	})
	mux.HandleFunc("GET /v1/accounts", func(w http.ResponseWriter, r *http.Request) {
		accts, err := a.accounts.List(r.Context())
		if err != nil {
			http.Error(w, "cannot list accounts", http.StatusInternalServerError)
			return
		}
		out := []AccountSummary{}
		for _, ac := range accts {
			out = append(out, AccountSummary{AccountID: ac.ID, Name: ac.Name, EC2Classic: ac.EC2Classic, CreatedAt: ac.CreatedAt})
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("POST /v1/outside-clients", func(w http.ResponseWriter, r *http.Request) {
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
		id, err := a.OutsideClient(r.Context(), addr)
		if errors.Is(err, ErrOutsideAddress) || a.net == nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var path string
		if err == nil {
			path, err = a.plane.NetnsPath(id)
		}
		if err != nil {
			a.log.Error("admin: outside client", "addr", addr, "err", err)
			http.Error(w, "cannot realise the outside client: "+err.Error(), http.StatusInternalServerError)
			return
		}
		a.log.Info("admin: outside client", "addr", addr, "netns", path)
		writeJSON(w, OutsideClientResponse{Address: addr.String(), Netns: path})
	})
	a.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := a.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin socket stopped", "err", err)
		}
	}()
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// AdminClient talks to a running installation's admin socket.
func AdminClient(dataDir string) *http.Client {
	path := filepath.Join(dataDir, AdminSocket)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}
