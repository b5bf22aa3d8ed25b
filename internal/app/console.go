package app

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/console"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/iam"
)

// withConsole serves the web console under console.Prefix beside the API
// handler h, on the same listener. The console calls the API in-process,
// through h.Invoke: the same decoding and authorization as a signed
// request of the signed-in principal.
func (a *App) withConsole(h *endpoint.Handler, id *identity) (http.Handler, error) {
	regions := a.cfg.Regions
	if len(regions) > 12 {
		regions = nil // the console's default short list
	}
	cons, err := console.New(console.Config{
		API:  h,
		Keys: id.keys,
		Password: func(ctx context.Context, acct, user, pw, code string) (auth.Principal, error) {
			p, err := id.svc.SignInPassword(ctx, acct, user, pw, code)
			if errors.Is(err, iam.ErrMFARequired) {
				return p, console.ErrMFARequired
			}
			return p, err
		},
		Regions: regions,
		Logger:  a.log,
	})
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, console.Prefix):
			cons.ServeHTTP(w, r)
		case r.URL.Path == strings.TrimSuffix(console.Prefix, "/") && r.Method == http.MethodGet:
			http.Redirect(w, r, console.Prefix, http.StatusMovedPermanently)
		default:
			h.ServeHTTP(w, r)
		}
	}), nil
}

// ConsoleURL is the web console's URL.
func (a *App) ConsoleURL() string {
	if a.ln == nil {
		return ""
	}
	return a.URL() + console.Prefix
}
