// Package vpcnet is the VPC-network controller: it converges the kernel to
// the EC2 network model. It reads the whole EC2 topology, maps it to
// netplane's desired state (VPCs, subnets, interfaces, security groups,
// peerings, internet gateways, outside clients) and applies it; and it is
// the one place that knows how a process runs in, dials from and listens in
// an interface's network — inside its namespace, or on the host's loopback
// in the loopback network mode, where it also keeps each interface's host
// ports (so that no domain record holds one).
//
// It is a reconcile.Controller. Only the wiring (internal/app) imports it;
// other controllers reach it through interfaces of their own.
package vpcnet
