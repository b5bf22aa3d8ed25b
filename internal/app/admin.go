package app

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"path/filepath"

	"github.com/cachalot-dev/cachalot/internal/admin"
	"github.com/cachalot-dev/cachalot/internal/vpcnet"
)

// AdminSocket is the installation's admin socket in the data dir
// (internal/admin).
const AdminSocket = admin.SocketFile

// startAdmin serves the admin socket until Close.
func (a *App) startAdmin() error {
	srv, err := admin.Start(admin.Config{
		Path:     filepath.Join(a.cfg.DataDir, AdminSocket),
		Accounts: a.accounts,
		Network:  adminNetwork{a},
		Logger:   a.log,
	})
	if err != nil {
		return err
	}
	a.admin = srv
	return nil
}

// AdminClient talks to a running installation's admin socket.
func AdminClient(dataDir string) *http.Client {
	return admin.Client(filepath.Join(dataDir, AdminSocket))
}

// adminNetwork is the VPC network as the admin socket sees it: the
// network's errors that are the asker's are marked as such.
type adminNetwork struct{ a *App }

func (n adminNetwork) OutsideClient(ctx context.Context, addr netip.Addr) (string, error) {
	id, err := n.a.OutsideClient(ctx, addr)
	if errors.Is(err, vpcnet.ErrOutsideAddress) || n.a.plane == nil {
		err = admin.Refuse(err)
	}
	return id, err
}

func (n adminNetwork) InstanceNamespace(ctx context.Context, region, instanceID string) (string, error) {
	id, err := n.a.net.InstanceNamespace(ctx, region, instanceID)
	if errors.Is(err, vpcnet.ErrNoInstance) || errors.Is(err, vpcnet.ErrNotRunning) || errors.Is(err, vpcnet.ErrNoNamespaces) {
		err = admin.Refuse(err)
	}
	return id, err
}

func (n adminNetwork) NetnsPath(id string) (string, error) { return n.a.net.NetnsPath(id) }

func (n adminNetwork) EnterArgs(ctx context.Context, id string) ([]string, error) {
	return n.a.net.EnterArgs(ctx, id)
}
