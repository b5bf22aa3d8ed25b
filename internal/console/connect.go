package console

import (
	"net/http"
	"net/url"
	"slices"

	cap "github.com/cachalot-dev/cachalot/internal/api/cachalotapi"
	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	ec "github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
)

// connectedRow is one connected compute resource.
type connectedRow = cap.ComputeConnection

// connectedRows lists the compute resources connected to a cache
// (DescribeConnectedComputeResources).
func (c *Console) connectedRows(r *http.Request, id string) ([]connectedRow, *apiErr) {
	out, err := c.call(r, ecSvc, params("DescribeConnectedComputeResources", "CacheClusterId", id))
	if err != nil {
		return nil, asAPIErr(err)
	}
	return out.(*cap.DescribeConnectedComputeResourcesResult).ConnectedComputeResources, nil
}

// instanceChoice is an instance offered by "Set up compute connection".
type instanceChoice struct {
	Instance  ec2api.Instance
	Name      string
	Available bool // in the cache's VPC and running
	Why       string
}

type connectData struct {
	Cache     ec.CacheCluster
	VpcID     string
	Instances []instanceChoice
	Chosen    string
	Preview   *cap.ConnectComputeResult
	Result    *cap.ConnectComputeResult
}

// connectSetup reads what every step of the flow shows: the cache and its
// VPC.
func (c *Console) connectSetup(w http.ResponseWriter, r *http.Request) (*connectData, bool) {
	id := r.PathValue("id")
	caches, err := c.oneCache(r, id)
	if err != nil {
		e := asAPIErr(err)
		c.render(w, r, statusOf(e), "connect", page{Title: "Set up compute connection", Service: "elasticache", Error: e, Data: &connectData{}})
		return nil, false
	}
	d := &connectData{Cache: caches[0]}
	d.VpcID = c.subnetGroupVPC(r, deref(d.Cache.CacheSubnetGroupName))
	return d, true
}

func (c *Console) connectPage(w http.ResponseWriter, r *http.Request, status int, d *connectData, e *apiErr) {
	c.render(w, r, status, "connect", page{Title: "Set up compute connection", Service: "elasticache",
		Nav: family(deref(d.Cache.Engine)), Error: e, Data: d})
}

// connectForm is step 1: choose an EC2 instance. Instances of other VPCs
// are listed as unavailable, with the user guide's pointer.
func (c *Console) connectForm(w http.ResponseWriter, r *http.Request) {
	d, ok := c.connectSetup(w, r)
	if !ok {
		return
	}
	insts, err := c.allInstances(r)
	if err != nil {
		c.connectPage(w, r, statusOf(asAPIErr(err)), d, asAPIErr(err))
		return
	}
	for _, in := range insts {
		ch := instanceChoice{Instance: in, Name: tagName(in.Tags), Available: true}
		state := ""
		if in.State != nil {
			state = deref(in.State.Name)
		}
		switch {
		case deref(in.VpcId) != d.VpcID:
			ch.Available = false
			ch.Why = "This instance is in " + deref(in.VpcId) + ", not in the cache's VPC " + d.VpcID +
				". To connect an instance, create an EC2 instance in " + d.VpcID + " and connect that one."
		case state != "running":
			ch.Available = false
			ch.Why = "The instance is " + state + "."
		}
		d.Instances = append(d.Instances, ch)
	}
	slices.SortStableFunc(d.Instances, func(a, b instanceChoice) int {
		if a.Available != b.Available {
			if a.Available {
				return -1
			}
			return 1
		}
		return 0
	})
	d.Chosen = r.URL.Query().Get("instance")
	c.connectPage(w, r, http.StatusOK, d, nil)
}

// connectPreview is step 2: what will happen, per the decision table
// (ConnectCompute with Preview: decided and authorized, nothing changed).
func (c *Console) connectPreview(w http.ResponseWriter, r *http.Request) {
	d, ok := c.connectSetup(w, r)
	if !ok {
		return
	}
	d.Chosen = r.PostFormValue("instance")
	out, err := c.call(r, ecSvc, params("ConnectCompute", "CacheClusterId", deref(d.Cache.CacheClusterId), "InstanceId", d.Chosen, "Preview", "true"))
	if err != nil {
		e := asAPIErr(err)
		e.Field = "instance"
		c.connectPage(w, r, http.StatusBadRequest, d, e)
		return
	}
	d.Preview = out.(*cap.ConnectComputeResult)
	c.connectPage(w, r, http.StatusOK, d, nil)
}

// connect is step 3: set up the connection and show the result.
func (c *Console) connect(w http.ResponseWriter, r *http.Request) {
	d, ok := c.connectSetup(w, r)
	if !ok {
		return
	}
	d.Chosen = r.PostFormValue("instance")
	out, err := c.call(r, ecSvc, params("ConnectCompute", "CacheClusterId", deref(d.Cache.CacheClusterId), "InstanceId", d.Chosen))
	if err != nil {
		c.connectPage(w, r, http.StatusBadRequest, d, asAPIErr(err))
		return
	}
	d.Result = out.(*cap.ConnectComputeResult)
	c.connectPage(w, r, http.StatusOK, d, nil)
}

type explainData struct {
	Cache     ec.CacheCluster
	Instances []ec2api.Instance
	Chosen    string
	Answer    *cap.ExplainCacheReachabilityResult
}

// explain answers "Why can't this instance connect?"
// (ExplainCacheReachability).
func (c *Console) explain(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d := &explainData{Chosen: r.URL.Query().Get("instance")}
	p := page{Title: "Why can't this instance connect?", Service: "elasticache", Data: d}
	caches, err := c.oneCache(r, id)
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, statusOf(p.Error), "explain", p)
		return
	}
	d.Cache = caches[0]
	p.Nav = family(deref(d.Cache.Engine))
	if insts, err := c.allInstances(r); err == nil {
		d.Instances = insts
	}
	if d.Chosen != "" {
		out, err := c.call(r, ecSvc, params("ExplainCacheReachability", "CacheClusterId", id, "InstanceId", d.Chosen))
		if err != nil {
			p.Error = asAPIErr(err)
		} else {
			d.Answer = out.(*cap.ExplainCacheReachabilityResult)
		}
	}
	c.render(w, r, http.StatusOK, "explain", p)
}

func tagName(tags []ec2api.Tag) string {
	for _, t := range tags {
		if deref(t.Key) == "Name" {
			return deref(t.Value)
		}
	}
	return ""
}

// cache security groups (EC2-Classic).

type cacheSGData struct {
	Groups    []ec.CacheSecurityGroup
	Group     *ec.CacheSecurityGroup
	EC2Groups []ec2api.SecurityGroup
	List      list
	Account   string
	Errors    map[string]string
}

func (c *Console) cacheSecurityGroups(w http.ResponseWriter, r *http.Request) {
	d := &cacheSGData{}
	p := page{Title: "Security groups", Service: "elasticache", Nav: "security-groups", Data: d}
	out, err := c.call(r, ecSvc, params("DescribeCacheSecurityGroups", "MaxRecords", "100"))
	if err != nil {
		p.Error = asAPIErr(err)
	} else {
		d.Groups, d.List = paginate(r, out.(*ec.CacheSecurityGroupMessage).CacheSecurityGroups, func(g ec.CacheSecurityGroup) string {
			return deref(g.CacheSecurityGroupName) + " " + deref(g.Description)
		})
	}
	c.render(w, r, http.StatusOK, "cache_security_groups", p)
}

func (c *Console) cacheSecurityGroup(w http.ResponseWriter, r *http.Request) {
	c.showCacheSecurityGroup(w, r, nil, "")
}

func (c *Console) showCacheSecurityGroup(w http.ResponseWriter, r *http.Request, e *apiErr, flash string) {
	name := r.PathValue("name")
	d := &cacheSGData{Account: sessionFrom(r).principal.AccountID}
	p := page{Title: name, Service: "elasticache", Nav: "security-groups", Data: d, Error: e, Flash: flash}
	if e != nil {
		d.Errors = map[string]string{e.Field: e.Message}
	}
	out, err := c.call(r, ecSvc, params("DescribeCacheSecurityGroups", "CacheSecurityGroupName", name))
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, statusOf(p.Error), "cache_security_group", p)
		return
	}
	if gs := out.(*ec.CacheSecurityGroupMessage).CacheSecurityGroups; len(gs) > 0 {
		d.Group = &gs[0]
	}
	if groups, err := c.allSecurityGroups(r); err == nil {
		// EC2-Classic groups have no VPC.
		d.EC2Groups = slices.DeleteFunc(groups, func(g ec2api.SecurityGroup) bool { return g.VpcId != nil && *g.VpcId != "" })
	}
	status := http.StatusOK
	if e != nil {
		status = http.StatusBadRequest
	}
	c.render(w, r, status, "cache_security_group", p)
}

func (c *Console) cacheSecurityGroupAuthorize(w http.ResponseWriter, r *http.Request) {
	c.cacheSecurityGroupChange(w, r, "AuthorizeCacheSecurityGroupIngress", "added")
}

func (c *Console) cacheSecurityGroupRevoke(w http.ResponseWriter, r *http.Request) {
	c.cacheSecurityGroupChange(w, r, "RevokeCacheSecurityGroupIngress", "removed")
}

func (c *Console) cacheSecurityGroupChange(w http.ResponseWriter, r *http.Request, action, verb string) {
	name := r.PathValue("name")
	group, owner := r.PostFormValue("ec2_group"), r.PostFormValue("owner")
	if owner == "" {
		owner = sessionFrom(r).principal.AccountID
	}
	_, err := c.call(r, ecSvc, params(action, "CacheSecurityGroupName", name, "EC2SecurityGroupName", group, "EC2SecurityGroupOwnerId", owner))
	if err != nil {
		e := asAPIErr(err)
		e.Field = "ec2_group"
		c.showCacheSecurityGroup(w, r, e, "")
		return
	}
	redirect(w, r, Prefix+"elasticache/security-groups/"+url.PathEscape(name), "EC2 security group "+group+" "+verb+".")
}
