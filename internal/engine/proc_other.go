//go:build !linux

package engine

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// procID identifies one process; see proc_linux.go.
type procID struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

func identify(int) (procID, error)              { return procID{}, errors.ErrUnsupported }
func alive(procID) bool                         { return false }
func reap(int)                                  {}
func owned(procID, string) bool                 { return false }
func signal(procID, syscall.Signal) error       { return errors.ErrUnsupported }
func killGroup(procID) error                    { return errors.ErrUnsupported }
func detach(*exec.Cmd)                          {}
func engineProcsUnder(string) ([]procID, error) { return nil, errors.ErrUnsupported }
func rssBytes(int) (int64, error)               { return 0, errors.ErrUnsupported }
func fdHardLimit() int                          { return 0 }
func runningAsRoot() bool                       { return false }
func fileOwner(os.FileInfo) (uint32, bool)      { return 0, false }
func openRegular(string) (*os.File, error)      { return nil, errors.ErrUnsupported }

// supervisionSupported is false: only discovery (and the pure
// sub-packages) work here.
const supervisionSupported = false
