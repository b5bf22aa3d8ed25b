//go:build !linux

package netplane

import (
	"context"
	"errors"
	"net"
	"os/exec"
)

// Apply is only implemented on Linux.
func (p *Plane) Apply(ctx context.Context, st State) error { return errors.ErrUnsupported }

// ApplyPlan is only implemented on Linux.
func (p *Plane) ApplyPlan(ctx context.Context, plan *Plan) error { return errors.ErrUnsupported }

// ApplyChange is only implemented on Linux.
func (p *Plane) ApplyChange(ctx context.Context, st State) error { return errors.ErrUnsupported }

// ApplyPlanChange is only implemented on Linux.
func (p *Plane) ApplyPlanChange(ctx context.Context, plan *Plan) error { return errors.ErrUnsupported }

// Teardown is only implemented on Linux.
func (p *Plane) Teardown(ctx context.Context) error { return errors.ErrUnsupported }

// Command is only implemented on Linux.
func (p *Plane) Command(ctx context.Context, id string, argv ...string) (*exec.Cmd, error) {
	return nil, errors.ErrUnsupported
}

// CommandWith is only implemented on Linux.
func (p *Plane) CommandWith(ctx context.Context, id string, opt EnterOptions, argv ...string) (*exec.Cmd, error) {
	return nil, errors.ErrUnsupported
}

// EnterArgs is only implemented on Linux.
func (p *Plane) EnterArgs(id string, opt EnterOptions) ([]string, error) {
	return nil, errors.ErrUnsupported
}

// Dial is only implemented on Linux.
func (p *Plane) Dial(ctx context.Context, id, network, address string) (net.Conn, error) {
	return nil, errors.ErrUnsupported
}

// Listen is only implemented on Linux.
func (p *Plane) Listen(ctx context.Context, id, network, address string) (net.Listener, error) {
	return nil, errors.ErrUnsupported
}

// ListenPacket is only implemented on Linux.
func (p *Plane) ListenPacket(ctx context.Context, id, network, address string) (net.PacketConn, error) {
	return nil, errors.ErrUnsupported
}

// nsHandle is an open namespace on Linux.
type nsHandle struct{}

func (*nsHandle) close() {}
