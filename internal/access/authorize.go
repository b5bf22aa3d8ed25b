package access

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
)

// Authorization of the ec2: permissions the flows need.
//
// The flows are ElastiCache actions of Cachalot's own (the endpoint checks
// elasticache:ConnectCompute and the others) that act through EC2, as the
// console's "Set up compute connection" acts through EC2's API: each also
// needs the ec2: permissions of the calls it makes, on the resources those
// calls act on, as if the caller had made them. Two checks:
//
//   - Before anything is written, every action the flow will take in this
//     state (authorizeEC2), so that a refusal names all the missing
//     permissions at once and nothing is half done. The Describe actions
//     have no resource-level permissions (as on AWS) and are checked on
//     "*" before anything is read; the others once the cache and the
//     instance are read, on the ARNs ec2.Service.ResourceARNs gives for
//     the calls about to be made (the canonical ids, however they were
//     named), plus the instance whose network interface changes. A group
//     the flow has yet to create is named by its type's wildcard ARN,
//     arn:aws:ec2:<region>:<account>:security-group/*: an Allow on every
//     group matches it, a Deny naming an existing group does not (it is
//     not that group).
//   - Each write call, as it is made, on the ARNs of its exact input
//     (checkedEC2), which names the new groups by their ids. A refusal
//     there undoes what the flow did, as any failure does; the undo is the
//     flow's own and is not checked.

// need is one ec2: permission a flow needs and the resources it needs it
// on; none means "*".
type need struct {
	action    string
	resources []string
}

// onAny needs each action on "*".
func onAny(actions []string) []need {
	out := make([]need, len(actions))
	for i, a := range actions {
		out[i] = need{action: a}
	}
	return out
}

// describeOnly returns the Describe actions of actions: the ones checked
// before anything is read.
func describeOnly(actions []string) []string {
	var out []string
	for _, a := range actions {
		if strings.HasPrefix(a, "Describe") {
			out = append(out, a)
		}
	}
	return out
}

// authorizeEC2 is the one place the access flows check the caller's ec2:
// permissions: every need is asked of the authorizer, and the answer names
// all the missing actions at once (flowActions: what the flow needs in
// general, for the message).
func (s *Service) authorizeEC2(ctx context.Context, flow string, flowActions []string, needs []need) error {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return awserr.WithStatus(statusForbidden, "AccessDenied", "No caller identity in the request.")
	}
	scope := auth.ScopeFrom(ctx)
	var denied []string
	for _, n := range needs {
		resources := n.resources
		if len(resources) == 0 {
			resources = []string{"*"}
		}
		err := s.cfg.Authorizer.Authorize(ctx, auth.Request{
			Principal: p, Service: "ec2", Action: n.action, Resources: resources,
			Region: scope.Region, Time: s.cfg.Now(),
		})
		if err == nil {
			continue
		}
		if e, ok := awserr.As(err); ok && e.HTTPStatus() == statusForbidden || isDenial(err) {
			if a := "ec2:" + n.action; !slices.Contains(denied, a) {
				denied = append(denied, a)
			}
			continue
		}
		return fmt.Errorf("authorize ec2:%s: %w", n.action, err)
	}
	if len(denied) > 0 {
		return awserr.WithStatus(statusForbidden, "AccessDenied",
			"User: %s is not authorized to perform: %s (%s needs %s)",
			p.ARN, strings.Join(denied, ", "), flow, "ec2:"+strings.Join(flowActions, ", ec2:"))
	}
	return nil
}

func isDenial(err error) bool {
	e, ok := awserr.As(err)
	if !ok {
		return false
	}
	switch e.Code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return true
	}
	return false
}

// arns returns the resources of the inputs, as the endpoint names them.
func (s *Service) arns(ctx context.Context, ins ...any) ([]string, error) {
	var out []string
	for _, in := range ins {
		a, err := s.cfg.EC2.ResourceARNs(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("resources of %T: %w", in, err)
		}
		for _, r := range a {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

func ec2ARN(ctx context.Context, typ, id string) string {
	sc := auth.ScopeFrom(ctx)
	return policy.EC2ARN(sc.Region, sc.AccountID, typ, id)
}

// newGroupARN names a security group the flow has yet to create.
func newGroupARN(ctx context.Context) string { return ec2ARN(ctx, policy.EC2SecurityGroup, "*") }

// groupARNs returns the ARNs of existing groups by id, or of a new one for
// "".
func (s *Service) groupARNs(ctx context.Context, ids ...string) ([]string, error) {
	var out []string
	for _, id := range ids {
		if id == "" {
			out = append(out, newGroupARN(ctx))
			continue
		}
		a, err := s.arns(ctx, &ec2api.DeleteSecurityGroupRequest{GroupId: &id})
		if err != nil {
			return nil, err
		}
		out = append(out, a...)
	}
	return out, nil
}

// interfaceARNs returns what setting the instance's interface's groups to
// groups acts on: the interface, the groups ("" for a new one) and the
// instance.
func (s *Service) interfaceARNs(ctx context.Context, w *world, groups []string) ([]string, error) {
	var existing []string
	var out []string
	for _, g := range groups {
		if g == "" {
			out = append(out, newGroupARN(ctx))
		} else {
			existing = append(existing, g)
		}
	}
	a, err := s.arns(ctx, &ec2api.ModifyNetworkInterfaceAttributeRequest{NetworkInterfaceId: &w.instance.ID, Groups: existing})
	if err != nil {
		return nil, err
	}
	return append(append(a, out...), ec2ARN(ctx, policy.EC2Instance, w.instance.InstanceID)), nil
}

// connectNeeds returns the ec2: permissions Connect needs to carry out d,
// on the resources it will act on.
func (s *Service) connectNeeds(ctx context.Context, w *world, d Decision) ([]need, error) {
	switch d.Action {
	case ActionNone:
		return nil, nil
	case ActionAssociate:
		r, err := s.interfaceARNs(ctx, w, append(slices.Clone(w.instance.Groups), d.Pair.InstanceSide.ID))
		return []need{{"ModifyNetworkInterfaceAttribute", r}}, err
	}
	vpc, err := s.arns(ctx, &ec2api.CreateSecurityGroupRequest{VpcId: &w.cache.VpcID})
	if err != nil {
		return nil, err
	}
	newGroup := []string{newGroupARN(ctx)}
	ifc, err := s.interfaceARNs(ctx, w, append(slices.Clone(w.instance.Groups), ""))
	if err != nil {
		return nil, err
	}
	return []need{
		{"CreateSecurityGroup", append(vpc, newGroup...)},
		{"AuthorizeSecurityGroupIngress", newGroup},
		{"RevokeSecurityGroupEgress", newGroup},
		{"AuthorizeSecurityGroupEgress", newGroup},
		{"ModifyNetworkInterfaceAttribute", ifc},
	}, nil
}

// disconnectNeeds returns the ec2: permissions Disconnect needs to remove
// pairs: revoke their rules, delete them, and take the instance side off
// the instance's interface (keep: the groups it keeps; nil when it holds
// no group of the pairs).
func (s *Service) disconnectNeeds(ctx context.Context, w *world, pairs []Pair, keep []string) ([]need, error) {
	var cacheSides, instanceSides []string
	for _, p := range pairs {
		cacheSides = append(cacheSides, p.CacheSide.ID)
		instanceSides = append(instanceSides, p.InstanceSide.ID)
	}
	cs, err := s.groupARNs(ctx, cacheSides...)
	if err != nil {
		return nil, err
	}
	is, err := s.groupARNs(ctx, instanceSides...)
	if err != nil {
		return nil, err
	}
	needs := []need{
		{"RevokeSecurityGroupIngress", cs},
		{"RevokeSecurityGroupEgress", is},
		{"DeleteSecurityGroup", append(slices.Clone(cs), is...)},
	}
	if keep != nil {
		r, err := s.interfaceARNs(ctx, w, keep)
		if err != nil {
			return nil, err
		}
		needs = append(needs, need{"ModifyNetworkInterfaceAttribute", r})
	}
	return needs, nil
}

// checkedEC2 is the EC2 service as a flow's write calls reach it: each is
// authorized on the resources of its input (and, for the instance's
// interface, the instance) before it is made.
type checkedEC2 struct {
	EC2
	s           *Service
	flow        string
	flowActions []string
	instance    string // ARN of the instance whose interface the flow changes
}

func (s *Service) checked(ctx context.Context, flow string, flowActions []string, w *world) *checkedEC2 {
	c := &checkedEC2{EC2: s.cfg.EC2, s: s, flow: flow, flowActions: flowActions}
	if w.instance != nil {
		c.instance = ec2ARN(ctx, policy.EC2Instance, w.instance.InstanceID)
	}
	return c
}

func (c *checkedEC2) check(ctx context.Context, action string, in any, extra ...string) error {
	r, err := c.s.arns(ctx, in)
	if err != nil {
		return err
	}
	return c.s.authorizeEC2(ctx, c.flow, c.flowActions, []need{{action, append(r, extra...)}})
}

func (c *checkedEC2) CreateSecurityGroup(ctx context.Context, in *ec2api.CreateSecurityGroupRequest) (*ec2api.CreateSecurityGroupResult, error) {
	if err := c.check(ctx, "CreateSecurityGroup", in); err != nil {
		return nil, err
	}
	return c.EC2.CreateSecurityGroup(ctx, in)
}

func (c *checkedEC2) DeleteSecurityGroup(ctx context.Context, in *ec2api.DeleteSecurityGroupRequest) (*ec2api.DeleteSecurityGroupResult, error) {
	if err := c.check(ctx, "DeleteSecurityGroup", in); err != nil {
		return nil, err
	}
	return c.EC2.DeleteSecurityGroup(ctx, in)
}

func (c *checkedEC2) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2api.AuthorizeSecurityGroupIngressRequest) (*ec2api.AuthorizeSecurityGroupIngressResult, error) {
	if err := c.check(ctx, "AuthorizeSecurityGroupIngress", in); err != nil {
		return nil, err
	}
	return c.EC2.AuthorizeSecurityGroupIngress(ctx, in)
}

func (c *checkedEC2) AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2api.AuthorizeSecurityGroupEgressRequest) (*ec2api.AuthorizeSecurityGroupEgressResult, error) {
	if err := c.check(ctx, "AuthorizeSecurityGroupEgress", in); err != nil {
		return nil, err
	}
	return c.EC2.AuthorizeSecurityGroupEgress(ctx, in)
}

func (c *checkedEC2) RevokeSecurityGroupIngress(ctx context.Context, in *ec2api.RevokeSecurityGroupIngressRequest) (*ec2api.RevokeSecurityGroupIngressResult, error) {
	if err := c.check(ctx, "RevokeSecurityGroupIngress", in); err != nil {
		return nil, err
	}
	return c.EC2.RevokeSecurityGroupIngress(ctx, in)
}

func (c *checkedEC2) RevokeSecurityGroupEgress(ctx context.Context, in *ec2api.RevokeSecurityGroupEgressRequest) (*ec2api.RevokeSecurityGroupEgressResult, error) {
	if err := c.check(ctx, "RevokeSecurityGroupEgress", in); err != nil {
		return nil, err
	}
	return c.EC2.RevokeSecurityGroupEgress(ctx, in)
}

func (c *checkedEC2) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2api.ModifyNetworkInterfaceAttributeRequest) error {
	var extra []string
	if c.instance != "" {
		extra = []string{c.instance}
	}
	if err := c.check(ctx, "ModifyNetworkInterfaceAttribute", in, extra...); err != nil {
		return err
	}
	return c.EC2.ModifyNetworkInterfaceAttribute(ctx, in)
}
