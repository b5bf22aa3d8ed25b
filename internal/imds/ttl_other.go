//go:build !linux

package imds

import (
	"errors"
	"net"
)

// setTTL is only implemented on Linux.
func setTTL(net.Conn, int) error { return errors.ErrUnsupported }
