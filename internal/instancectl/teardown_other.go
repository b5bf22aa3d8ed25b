//go:build !linux

package instancectl

import (
	"context"
	"errors"

	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

// KillAll is only implemented on Linux.
func KillAll(context.Context, *identity.Allocator) error { return errors.ErrUnsupported }
