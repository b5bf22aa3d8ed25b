package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// ruleString is the canonical form of one TCP ingress rule of a port from
// a CIDR or a group (by name).
func ruleString(port int, cidr, group string) string {
	if group != "" {
		return fmt.Sprintf("tcp:%d-%d:sg=%s", port, port, group)
	}
	return fmt.Sprintf("tcp:%d-%d:%s", port, port, cidr)
}

// permission turns a rule string back into an IpPermission; groups are
// resolved through the model.
func (w *worker) permission(rule string) (ec2types.IpPermission, bool) {
	parts := strings.SplitN(rule, ":", 3)
	ports := strings.SplitN(parts[1], "-", 2)
	port, _ := strconv.Atoi(ports[0])
	p := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(port)), ToPort: aws.Int32(int32(port))}
	if g, ok := strings.CutPrefix(parts[2], "sg="); ok {
		st, ok := w.m.get("sg/" + g).(groupState)
		if !ok || st.id == "" {
			return p, false
		}
		p.UserIdGroupPairs = []ec2types.UserIdGroupPair{{GroupId: aws.String(st.id)}}
	} else {
		p.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(parts[2])}}
	}
	return p, true
}

// authorize adds one or two rules in one call: both or neither must be
// there after a crash.
func (w *worker) authorize() *call {
	gs := w.present("sg")
	if len(gs) == 0 {
		return nil
	}
	k := w.any(gs)
	cur := w.m.get(k).(groupState)
	post := cur
	post.rules = slices.Clone(cur.rules)
	var perms []ec2types.IpPermission
	for range 1 + w.rng.IntN(2) {
		port := 1000 + w.rng.IntN(9000)
		var r string
		if w.rng.IntN(3) == 0 {
			r = ruleString(port, "", nameOf(w.any(gs)))
		} else {
			r = ruleString(port, fmt.Sprintf("10.%d.%d.0/24", w.rng.IntN(256), w.rng.IntN(256)), "")
		}
		if slices.Contains(post.rules, r) {
			continue
		}
		p, ok := w.permission(r)
		if !ok {
			continue
		}
		post.rules = append(post.rules, r)
		perms = append(perms, p)
	}
	if len(perms) == 0 {
		return nil
	}
	slices.Sort(post.rules)
	return &call{key: k, op: fmt.Sprintf("AuthorizeSecurityGroupIngress %s (%d rules)", nameOf(k), len(perms)), post: post,
		do: func(ctx context.Context) (state, error) {
			_, err := w.s.w.ec2.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(cur.id), IpPermissions: perms})
			return post, err
		}}
}

func (w *worker) revoke() *call {
	var withRules []string
	for _, k := range w.present("sg") {
		if len(w.m.get(k).(groupState).rules) > 0 {
			withRules = append(withRules, k)
		}
	}
	if len(withRules) == 0 {
		return nil
	}
	k := w.any(withRules)
	cur := w.m.get(k).(groupState)
	r := cur.rules[w.rng.IntN(len(cur.rules))]
	p, ok := w.permission(r)
	if !ok {
		return nil
	}
	post := cur
	post.rules = slices.DeleteFunc(slices.Clone(cur.rules), func(x string) bool { return x == r })
	return &call{key: k, op: "RevokeSecurityGroupIngress " + nameOf(k), post: post, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec2.RevokeSecurityGroupIngress(ctx, &awsec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(cur.id), IpPermissions: []ec2types.IpPermission{p}})
		return post, err
	}}
}

func (w *worker) runInstance() *call {
	if len(w.present("instance")) >= maxInstances {
		return nil
	}
	name := w.name("crash-i")
	gid, gname := w.group()
	post := instanceState{groups: []string{gname}}
	return &call{key: "instance/" + name, op: "RunInstances " + name, post: post, do: func(ctx context.Context) (state, error) {
		out, err := w.s.w.ec2.RunInstances(ctx, &awsec2.RunInstancesInput{
			ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SecurityGroupIds: []string{gid}, ClientToken: aws.String(name),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}},
		})
		if err != nil {
			return nil, err
		}
		post.id = aws.ToString(out.Instances[0].InstanceId)
		return post, nil
	}}
}

func (w *worker) terminate() *call {
	is := w.present("instance")
	if len(is) == 0 {
		return nil
	}
	k := w.any(is)
	id := w.m.get(k).(instanceState).id
	return &call{key: k, op: "TerminateInstances " + nameOf(k), do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.ec2.TerminateInstances(ctx, &awsec2.TerminateInstancesInput{InstanceIds: []string{id}})
		return nil, err
	}}
}

func (w *worker) createUser() *call {
	if len(w.present("user")) >= maxUsers {
		return nil
	}
	name := w.name("crash-u")
	post := userState{tagged: true}
	return &call{key: "user/" + name, op: "CreateUser " + name, post: post, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name),
			Tags: []iamtypes.Tag{{Key: aws.String(tagKey), Value: aws.String(name)}}})
		return post, err
	}}
}

func (w *worker) deleteUser() *call {
	var free []string
	for _, k := range w.present("user") {
		if len(w.m.get(k).(userState).policies) == 0 {
			free = append(free, k)
		}
	}
	if len(free) == 0 {
		return nil
	}
	k := w.any(free)
	return &call{key: k, op: "DeleteUser " + nameOf(k), do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(nameOf(k))})
		return nil, err
	}}
}

const policyDocument = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticache:Describe*","Resource":"*"}]}`

func (w *worker) createPolicy() *call {
	if len(w.present("policy")) >= maxPolicies {
		return nil
	}
	name := w.name("crash-p")
	return &call{key: "policy/" + name, op: "CreatePolicy " + name, post: policyState{}, do: func(ctx context.Context) (state, error) {
		out, err := w.s.w.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(policyDocument)})
		if err != nil {
			return nil, err
		}
		return policyState{arn: aws.ToString(out.Policy.Arn)}, nil
	}}
}

// policyARN is the ARN of one of the account's customer managed policies.
func (w *worker) policyARN(name string) string {
	return fmt.Sprintf("arn:aws:iam::%s:policy/%s", w.account, name)
}

func (w *worker) deletePolicy() *call {
	var free []string
	for _, k := range w.present("policy") {
		used := false
		for _, u := range w.present("user") {
			used = used || slices.Contains(w.m.get(u).(userState).policies, nameOf(k))
		}
		if !used {
			free = append(free, k)
		}
	}
	if len(free) == 0 {
		return nil
	}
	k := w.any(free)
	return &call{key: k, op: "DeletePolicy " + nameOf(k), do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.iam.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(w.policyARN(nameOf(k)))})
		return nil, err
	}}
}

func (w *worker) attach() *call {
	us, ps := w.present("user"), w.present("policy")
	if len(us) == 0 || len(ps) == 0 {
		return nil
	}
	u, p := w.any(us), nameOf(w.any(ps))
	cur := w.m.get(u).(userState)
	if slices.Contains(cur.policies, p) {
		return nil
	}
	post := userState{policies: append(slices.Clone(cur.policies), p), tagged: cur.tagged}
	slices.Sort(post.policies)
	return &call{key: u, op: "AttachUserPolicy " + nameOf(u) + " " + p, post: post, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(nameOf(u)), PolicyArn: aws.String(w.policyARN(p))})
		return post, err
	}}
}

func (w *worker) detach() *call {
	var with []string
	for _, k := range w.present("user") {
		if len(w.m.get(k).(userState).policies) > 0 {
			with = append(with, k)
		}
	}
	if len(with) == 0 {
		return nil
	}
	u := w.any(with)
	cur := w.m.get(u).(userState)
	p := cur.policies[w.rng.IntN(len(cur.policies))]
	post := userState{policies: slices.DeleteFunc(slices.Clone(cur.policies), func(x string) bool { return x == p }), tagged: cur.tagged}
	return &call{key: u, op: "DetachUserPolicy " + nameOf(u) + " " + p, post: post, do: func(ctx context.Context) (state, error) {
		_, err := w.s.w.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(nameOf(u)), PolicyArn: aws.String(w.policyARN(p))})
		return post, err
	}}
}
