package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

const ec2Svc = "ec2"

// allInstances describes every instance of the region.
func (c *Console) allInstances(r *http.Request) ([]ec2api.Instance, error) {
	var all []ec2api.Instance
	token := ""
	for {
		out, err := c.call(r, ec2Svc, params("DescribeInstances", "MaxResults", "1000", "NextToken", token))
		if err != nil {
			return nil, err
		}
		res := out.(*ec2api.DescribeInstancesResult)
		for _, rv := range res.Reservations {
			all = append(all, rv.Instances...)
		}
		if res.NextToken == nil || *res.NextToken == "" {
			return all, nil
		}
		token = *res.NextToken
	}
}

// allSecurityGroups describes every security group of the region.
func (c *Console) allSecurityGroups(r *http.Request, kv ...string) ([]ec2api.SecurityGroup, error) {
	var all []ec2api.SecurityGroup
	token := ""
	for {
		out, err := c.call(r, ec2Svc, params("DescribeSecurityGroups", append([]string{"MaxResults", "1000", "NextToken", token}, kv...)...))
		if err != nil {
			return nil, err
		}
		res := out.(*ec2api.DescribeSecurityGroupsResult)
		all = append(all, res.SecurityGroups...)
		if res.NextToken == nil || *res.NextToken == "" {
			return all, nil
		}
		token = *res.NextToken
	}
}

func (c *Console) instances(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Instances []ec2api.Instance
		List      list
	}
	d := &data{}
	p := page{Title: "Instances", Service: "ec2", Nav: "instances", Data: d}
	all, err := c.allInstances(r)
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, statusOf(p.Error), "instances", p)
		return
	}
	d.Instances, d.List = paginate(r, all, func(in ec2api.Instance) string {
		return deref(in.InstanceId) + " " + tagName(in.Tags) + " " + deref(in.VpcId) + " " + deref(in.PrivateIpAddress)
	})
	c.render(w, r, http.StatusOK, "instances", p)
}

func (c *Console) securityGroups(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Groups []ec2api.SecurityGroup
		List   list
	}
	d := &data{}
	p := page{Title: "Security Groups", Service: "ec2", Nav: "security-groups", Data: d}
	all, err := c.allSecurityGroups(r)
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, statusOf(p.Error), "security_groups", p)
		return
	}
	d.Groups, d.List = paginate(r, all, func(g ec2api.SecurityGroup) string {
		return deref(g.GroupId) + " " + deref(g.GroupName) + " " + deref(g.VpcId) + " " + deref(g.Description)
	})
	c.render(w, r, http.StatusOK, "security_groups", p)
}

// securityGroup describes one group by id.
func (c *Console) oneGroup(r *http.Request) (*ec2api.SecurityGroup, *apiErr) {
	gs, err := c.allSecurityGroups(r, "GroupId.1", r.PathValue("id"))
	if err != nil {
		return nil, asAPIErr(err)
	}
	if len(gs) == 0 {
		return nil, &apiErr{Code: "InvalidGroup.NotFound", Message: "The security group '" + r.PathValue("id") + "' does not exist"}
	}
	return &gs[0], nil
}

// groupRules lists a group's rules (DescribeSecurityGroupRules), inbound
// and outbound.
func (c *Console) groupRules(r *http.Request, id string) (in, out []ec2api.SecurityGroupRule, e *apiErr) {
	res, err := c.call(r, ec2Svc, params("DescribeSecurityGroupRules", "Filter.1.Name", "group-id", "Filter.1.Value.1", id, "MaxResults", "1000"))
	if err != nil {
		return nil, nil, asAPIErr(err)
	}
	for _, rule := range res.(*ec2api.DescribeSecurityGroupRulesResult).SecurityGroupRules {
		if rule.IsEgress != nil && *rule.IsEgress {
			out = append(out, rule)
		} else {
			in = append(in, rule)
		}
	}
	return in, out, nil
}

type groupData struct {
	Group    *ec2api.SecurityGroup
	Inbound  []ec2api.SecurityGroupRule
	Outbound []ec2api.SecurityGroupRule
	RulesErr *apiErr
	Tab      string
}

func (c *Console) securityGroup(w http.ResponseWriter, r *http.Request) {
	g, e := c.oneGroup(r)
	d := &groupData{Group: g, Tab: r.URL.Query().Get("tab")}
	if d.Tab != "outbound" {
		d.Tab = "inbound"
	}
	p := page{Title: r.PathValue("id"), Service: "ec2", Nav: "security-groups", Data: d, Error: e}
	if e != nil {
		c.render(w, r, statusOf(e), "security_group", p)
		return
	}
	d.Inbound, d.Outbound, d.RulesErr = c.groupRules(r, deref(g.GroupId))
	c.render(w, r, http.StatusOK, "security_group", p)
}

// ruleTypes are the rule types the inbound editor offers, as the EC2
// console names them: protocol and fixed port ("" when entered).
var ruleTypes = []struct{ Name, Protocol, Port string }{
	{"Custom TCP", "tcp", ""},
	{"Custom UDP", "udp", ""},
	{"All TCP", "tcp", "0-65535"},
	{"All traffic", "-1", ""},
	{"SSH", "tcp", "22"},
	{"Redis", "tcp", "6379"},
	{"Memcached", "tcp", "11211"},
}

type inboundData struct {
	Group   *ec2api.SecurityGroup
	Rules   []ec2api.SecurityGroupRule
	Types   any
	New     newRule
	Errors  map[string]string
	Default bool // the VPC's default group: the user guide's warning applies
}

// newRule is the rule being added, as entered.
type newRule struct {
	Type, Port, Source, CIDR, Description string
}

func (c *Console) inboundForm(w http.ResponseWriter, r *http.Request) {
	c.showInbound(w, r, http.StatusOK, newRule{Type: "Custom TCP", Source: "custom"}, nil)
}

func (c *Console) showInbound(w http.ResponseWriter, r *http.Request, status int, nr newRule, e *apiErr) {
	g, ge := c.oneGroup(r)
	d := &inboundData{Group: g, Types: ruleTypes, New: nr}
	if e != nil {
		d.Errors = map[string]string{e.Field: e.Message}
	}
	if ge != nil {
		e, status = ge, statusOf(ge)
	} else {
		d.Default = deref(g.GroupName) == "default"
		var re *apiErr
		if d.Rules, _, re = c.groupRules(r, deref(g.GroupId)); re != nil && e == nil {
			e = re
		}
	}
	c.render(w, r, status, "inbound", page{Title: "Edit inbound rules", Service: "ec2", Nav: "security-groups", Data: d, Error: e})
}

// saveInbound adds the new rule (AuthorizeSecurityGroupIngress) and
// revokes the rules marked for deletion (RevokeSecurityGroupIngress).
func (c *Console) saveInbound(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	nr := newRule{Type: r.PostFormValue("type"), Port: strings.TrimSpace(r.PostFormValue("port")), Source: r.PostFormValue("source"),
		CIDR: strings.TrimSpace(r.PostFormValue("cidr")), Description: r.PostFormValue("description")}
	for _, del := range r.PostForm["delete"] {
		if _, err := c.call(r, ec2Svc, params("RevokeSecurityGroupIngress", "GroupId", id, "SecurityGroupRuleId.1", del)); err != nil {
			c.showInbound(w, r, http.StatusBadRequest, nr, asAPIErr(err))
			return
		}
	}
	if nr.Type != "" && (nr.Port != "" || nr.Source != "custom" || nr.CIDR != "") {
		p, e := inboundParams(id, nr)
		if e == nil {
			if _, err := c.call(r, ec2Svc, p); err != nil {
				e = asAPIErr(err)
				e.Field = fieldOf(e, "port", "cidr", "source")
				if e.Field == "" {
					e.Field = "cidr"
				}
			}
		}
		if e != nil {
			c.showInbound(w, r, http.StatusBadRequest, nr, e)
			return
		}
	}
	redirect(w, r, Prefix+"ec2/security-groups/"+url.PathEscape(id), "Inbound security group rules successfully modified on security group ("+id+")")
}

// inboundParams builds AuthorizeSecurityGroupIngress for a new rule.
func inboundParams(id string, nr newRule) (url.Values, *apiErr) {
	proto, port := "", ""
	for _, t := range ruleTypes {
		if t.Name == nr.Type {
			proto, port = t.Protocol, t.Port
		}
	}
	if proto == "" {
		return nil, &apiErr{Code: "InvalidParameterValue", Message: "Choose a rule type.", Field: "type"}
	}
	if port == "" {
		port = nr.Port
	}
	from, to, _ := strings.Cut(port, "-")
	if to == "" {
		to = from
	}
	cidr := nr.CIDR
	switch nr.Source {
	case "anywhere-ipv4":
		cidr = "0.0.0.0/0"
	case "anywhere-ipv6":
		cidr = "::/0"
	}
	p := params("AuthorizeSecurityGroupIngress", "GroupId", id, "IpPermissions.1.IpProtocol", proto)
	if proto != "-1" {
		if _, err := strconv.Atoi(strings.TrimSpace(from)); err != nil {
			return nil, &apiErr{Code: "InvalidParameterValue", Message: "Port range must be a number or a range (e.g. 6379 or 6379-6380).", Field: "port"}
		}
		p.Set("IpPermissions.1.FromPort", strings.TrimSpace(from))
		p.Set("IpPermissions.1.ToPort", strings.TrimSpace(to))
	}
	if strings.Contains(cidr, ":") {
		p.Set("IpPermissions.1.Ipv6Ranges.1.CidrIpv6", cidr)
		if nr.Description != "" {
			p.Set("IpPermissions.1.Ipv6Ranges.1.Description", nr.Description)
		}
	} else {
		p.Set("IpPermissions.1.IpRanges.1.CidrIp", cidr)
		if nr.Description != "" {
			p.Set("IpPermissions.1.IpRanges.1.Description", nr.Description)
		}
	}
	return p, nil
}
