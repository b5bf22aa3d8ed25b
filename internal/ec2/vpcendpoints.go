package ec2

import "time"

// vpceRec is a VPC endpoint.
type vpceRec struct {
	tagged
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	VpcID       string    `json:"vpcId"`
	Type        string    `json:"type"` // Gateway, Interface
	Service     string    `json:"service"`
	Policy      string    `json:"policy,omitempty"`
	PrivateDNS  bool      `json:"privateDns,omitempty"`
	RouteTables []string  `json:"routeTables,omitempty"`
	Subnets     []string  `json:"subnets,omitempty"`
	Groups      []string  `json:"groups,omitempty"`
	ENIs        []string  `json:"enis,omitempty"`
	ClientToken string    `json:"clientToken,omitempty"`
	Created     time.Time `json:"created"`
}

func (r *vpceRec) id() string { return r.ID }
