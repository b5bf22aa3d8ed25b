//go:build !linux

package netplane

// routerFastPath exists only on Linux.
type routerFastPath struct{}

func (p *Plane) closeFastPath(ns string) {}
