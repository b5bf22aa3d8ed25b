//go:build !linux

package instancectl

import (
	"context"
	"errors"
	"os/exec"

	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

// KillAll is only implemented on Linux.
func KillAll(context.Context, *identity.Allocator) error { return errors.ErrUnsupported }

// killGroupOnCancel leaves cmd as it is: the context's end kills the
// process alone.
func killGroupOnCancel(*exec.Cmd) {}
