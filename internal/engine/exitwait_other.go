//go:build !linux

package engine

// exitNotifier is Linux's (pidfd); elsewhere the watcher polls.
type exitNotifier struct{}

func openExitNotifier(procID) *exitNotifier { return nil }
func (*exitNotifier) wait() bool            { return false }
func (*exitNotifier) close()                {}
