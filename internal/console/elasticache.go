package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	ec "github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
)

const ecSvc = "elasticache"

// family is the console's split of the engines: Valkey and Redis OSS
// caches on one page, Memcached caches on another.
func family(engine string) string {
	if engine == "memcached" {
		return "memcached"
	}
	return "redis"
}

func familyTitle(f string) string {
	if f == "memcached" {
		return "Memcached caches"
	}
	return "Valkey and Redis OSS caches"
}

// allCaches describes every cache cluster of the region, following the
// API's markers.
func (c *Console) allCaches(r *http.Request, id string) ([]ec.CacheCluster, error) {
	var all []ec.CacheCluster
	marker := ""
	for {
		out, err := c.call(r, ecSvc, params("DescribeCacheClusters", "CacheClusterId", id, "ShowCacheNodeInfo", "true", "MaxRecords", "100", "Marker", marker))
		if err != nil {
			return nil, err
		}
		m := out.(*ec.CacheClusterMessage)
		all = append(all, m.CacheClusters...)
		if m.Marker == nil || *m.Marker == "" {
			return all, nil
		}
		marker = *m.Marker
	}
}

// oneCache describes the cache id: a list of exactly one, or the API's
// error (CacheClusterNotFound when the API answers none).
func (c *Console) oneCache(r *http.Request, id string) ([]ec.CacheCluster, error) {
	caches, err := c.allCaches(r, id)
	if err == nil && len(caches) == 0 {
		err = &apiErr{Code: "CacheClusterNotFound", Message: "CacheCluster not found: " + id}
	}
	return caches, err
}

type cachesData struct {
	Family, Title string
	Caches        []ec.CacheCluster
	List          list
}

func (c *Console) caches(w http.ResponseWriter, r *http.Request) {
	fam := family(r.URL.Query().Get("engine"))
	d := cachesData{Family: fam, Title: familyTitle(fam)}
	all, err := c.allCaches(r, "")
	p := page{Title: d.Title, Service: "elasticache", Nav: fam, Data: &d}
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, http.StatusOK, "caches", p)
		return
	}
	all = slices.DeleteFunc(all, func(cc ec.CacheCluster) bool { return family(deref(cc.Engine)) != fam })
	d.Caches, d.List = paginate(r, all, func(cc ec.CacheCluster) string {
		return deref(cc.CacheClusterId) + " " + deref(cc.CacheClusterStatus) + " " + deref(cc.CacheNodeType)
	})
	c.render(w, r, http.StatusOK, "caches", p)
}

// cacheStatus answers the statuses of the caches named by id (all when
// none), as JSON: the script of the caches pages polls it.
func (c *Console) cacheStatus(w http.ResponseWriter, r *http.Request) {
	ids := r.URL.Query()["id"]
	one := ""
	if len(ids) == 1 {
		one = ids[0]
	}
	all, err := c.allCaches(r, one)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]string{"error": asAPIErr(err).Message})
		return
	}
	st := map[string]string{}
	for _, cc := range all {
		if len(ids) == 0 || slices.Contains(ids, deref(cc.CacheClusterId)) {
			st[deref(cc.CacheClusterId)] = deref(cc.CacheClusterStatus)
		}
	}
	json.NewEncoder(w).Encode(st)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// cacheForm is the create-cache form, as entered (the auth token is never
// rendered back).
type cacheForm struct {
	Family, Name, Engine, Version, NodeType, Port, Nodes, SubnetGroup string
	SecurityGroups                                                    []string
	TLS                                                               bool
	Errors                                                            map[string]string
	// Choices.
	Versions     []ec.CacheEngineVersion
	NodeTypes    []string
	SubnetGroups []ec.CacheSubnetGroup
	VPCGroups    []ec2api.SecurityGroup
	ChoiceErrors []string
}

var nodeTypes = []string{"cache.t4g.micro", "cache.t4g.small", "cache.t3.micro", "cache.t3.small", "cache.t3.medium",
	"cache.m7g.large", "cache.m6g.large", "cache.m5.large", "cache.r7g.large", "cache.r6g.large"}

func (c *Console) createCacheForm(w http.ResponseWriter, r *http.Request) {
	fam := family(r.URL.Query().Get("engine"))
	f := &cacheForm{Family: fam, Engine: "valkey", Port: "6379", NodeType: "cache.t3.micro", Nodes: "1"}
	if fam == "memcached" {
		f.Engine, f.Port = "memcached", "11211"
	}
	c.showCacheForm(w, r, http.StatusOK, f, nil)
}

func (c *Console) showCacheForm(w http.ResponseWriter, r *http.Request, status int, f *cacheForm, e *apiErr) {
	f.NodeTypes = nodeTypes
	if out, err := c.call(r, ecSvc, params("DescribeCacheEngineVersions")); err == nil {
		for _, v := range out.(*ec.CacheEngineVersionMessage).CacheEngineVersions {
			if family(deref(v.Engine)) == f.Family {
				f.Versions = append(f.Versions, v)
			}
		}
	} else {
		f.ChoiceErrors = append(f.ChoiceErrors, asAPIErr(err).Message)
	}
	if out, err := c.call(r, ecSvc, params("DescribeCacheSubnetGroups")); err == nil {
		f.SubnetGroups = out.(*ec.CacheSubnetGroupMessage).CacheSubnetGroups
	} else {
		f.ChoiceErrors = append(f.ChoiceErrors, asAPIErr(err).Message)
	}
	if groups, err := c.allSecurityGroups(r); err == nil {
		f.VPCGroups = slices.DeleteFunc(groups, func(g ec2api.SecurityGroup) bool { return g.VpcId == nil })
	} else {
		f.ChoiceErrors = append(f.ChoiceErrors, asAPIErr(err).Message)
	}
	c.render(w, r, status, "cache_create", page{Title: "Create " + strings.ToLower(familyTitle(f.Family)[:len(familyTitle(f.Family))-1]),
		Service: "elasticache", Nav: f.Family, Error: e, Data: f})
}

// createCache creates the cache of the form; the API's message comes
// back next to the field it names, and nothing is created.
func (c *Console) createCache(w http.ResponseWriter, r *http.Request) {
	f := &cacheForm{Family: family(r.PostFormValue("engine")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Engine: r.PostFormValue("engine"), Version: r.PostFormValue("version"), NodeType: r.PostFormValue("node_type"),
		Port: strings.TrimSpace(r.PostFormValue("port")), Nodes: strings.TrimSpace(r.PostFormValue("nodes")),
		SubnetGroup: r.PostFormValue("subnet_group"), SecurityGroups: r.PostForm["security_groups"],
		TLS: r.PostFormValue("tls") == "on"}
	p := params("CreateCacheCluster", "CacheClusterId", f.Name, "Engine", f.Engine, "EngineVersion", f.Version,
		"CacheNodeType", f.NodeType, "Port", f.Port, "NumCacheNodes", f.Nodes, "CacheSubnetGroupName", f.SubnetGroup,
		"AuthToken", r.PostFormValue("auth_token"))
	if f.TLS {
		p.Set("TransitEncryptionEnabled", "true")
	}
	for i, g := range f.SecurityGroups {
		p.Set("SecurityGroupIds.SecurityGroupId."+strconv.Itoa(i+1), g)
	}
	if _, err := c.call(r, ecSvc, p); err != nil {
		e := asAPIErr(err)
		field := fieldOf(e, "CacheClusterId", "EngineVersion", "CacheNodeType", "Port", "NumCacheNodes", "CacheSubnetGroup", "SecurityGroup", "AuthToken", "TransitEncryption", "Engine")
		f.Errors = map[string]string{}
		if field == "" {
			field = "CacheClusterId"
		}
		f.Errors[field] = e.Message
		e.Field = field
		c.showCacheForm(w, r, http.StatusBadRequest, f, e)
		return
	}
	redirect(w, r, Prefix+"elasticache/caches/"+url.PathEscape(f.Name), "Creating cache "+f.Name+". Its status changes to available when it is ready.")
}

type cacheDetailData struct {
	Cache     ec.CacheCluster
	Tab       string
	VpcID     string
	Connected []connectedRow
	ConnErr   *apiErr
	Instances []ec2api.Instance
	Events    []ec.Event
	EventsErr *apiErr
}

func (c *Console) cacheDetail(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d := &cacheDetailData{Tab: r.URL.Query().Get("tab")}
	if d.Tab != "connectivity" && d.Tab != "events" {
		d.Tab = "details"
	}
	p := page{Title: id, Service: "elasticache", Data: d}
	caches, err := c.oneCache(r, id)
	if err != nil {
		p.Error = asAPIErr(err)
		c.render(w, r, statusOf(p.Error), "cache", p)
		return
	}
	d.Cache = caches[0]
	p.Nav = family(deref(d.Cache.Engine))
	d.VpcID = c.subnetGroupVPC(r, deref(d.Cache.CacheSubnetGroupName))
	switch d.Tab {
	case "connectivity":
		d.Connected, d.ConnErr = c.connectedRows(r, id)
		if insts, err := c.allInstances(r); err == nil {
			d.Instances = insts
		}
	case "events":
		out, err := c.call(r, ecSvc, params("DescribeEvents", "SourceIdentifier", id, "SourceType", "cache-cluster", "Duration", "20160"))
		if err != nil {
			d.EventsErr = asAPIErr(err)
		} else {
			d.Events = out.(*ec.EventsMessage).Events
		}
	}
	c.render(w, r, http.StatusOK, "cache", p)
}

// statusOf is the HTTP status of a page whose main call failed.
func statusOf(e *apiErr) int {
	switch {
	case strings.HasSuffix(e.Code, "NotFound") || strings.HasSuffix(e.Code, "NotFoundFault"):
		return http.StatusNotFound
	case e.Code == "AccessDenied" || e.Code == "UnauthorizedOperation":
		return http.StatusForbidden
	}
	return http.StatusOK
}

// subnetGroupVPC is the VPC of a cache subnet group ("" if unknown).
func (c *Console) subnetGroupVPC(r *http.Request, name string) string {
	if name == "" {
		return ""
	}
	out, err := c.call(r, ecSvc, params("DescribeCacheSubnetGroups", "CacheSubnetGroupName", name))
	if err != nil {
		return ""
	}
	for _, g := range out.(*ec.CacheSubnetGroupMessage).CacheSubnetGroups {
		return deref(g.VpcId)
	}
	return ""
}

func (c *Console) replicationGroups(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Groups []ec.ReplicationGroup
		List   list
	}
	d := &data{}
	p := page{Title: "Replication groups", Service: "elasticache", Nav: "replication-groups", Data: d}
	out, err := c.call(r, ecSvc, params("DescribeReplicationGroups", "MaxRecords", "100"))
	if err != nil {
		p.Error = asAPIErr(err)
	} else {
		d.Groups, d.List = paginate(r, out.(*ec.ReplicationGroupMessage).ReplicationGroups, func(g ec.ReplicationGroup) string {
			return deref(g.ReplicationGroupId) + " " + deref(g.Description)
		})
	}
	c.render(w, r, http.StatusOK, "replication_groups", p)
}

func (c *Console) subnetGroups(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Groups []ec.CacheSubnetGroup
		List   list
	}
	d := &data{}
	p := page{Title: "Subnet groups", Service: "elasticache", Nav: "subnet-groups", Data: d}
	out, err := c.call(r, ecSvc, params("DescribeCacheSubnetGroups", "MaxRecords", "100"))
	if err != nil {
		p.Error = asAPIErr(err)
	} else {
		d.Groups, d.List = paginate(r, out.(*ec.CacheSubnetGroupMessage).CacheSubnetGroups, func(g ec.CacheSubnetGroup) string {
			return deref(g.CacheSubnetGroupName) + " " + deref(g.VpcId)
		})
	}
	c.render(w, r, http.StatusOK, "subnet_groups", p)
}

func (c *Console) parameterGroups(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Groups []ec.CacheParameterGroup
		List   list
	}
	d := &data{}
	p := page{Title: "Parameter groups", Service: "elasticache", Nav: "parameter-groups", Data: d}
	out, err := c.call(r, ecSvc, params("DescribeCacheParameterGroups", "MaxRecords", "100"))
	if err != nil {
		p.Error = asAPIErr(err)
	} else {
		d.Groups, d.List = paginate(r, out.(*ec.CacheParameterGroupsMessage).CacheParameterGroups, func(g ec.CacheParameterGroup) string {
			return deref(g.CacheParameterGroupName) + " " + deref(g.CacheParameterGroupFamily)
		})
	}
	c.render(w, r, http.StatusOK, "parameter_groups", p)
}

func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Events []ec.Event
		List   list
	}
	d := &data{}
	p := page{Title: "Events", Service: "elasticache", Nav: "events", Data: d}
	out, err := c.call(r, ecSvc, params("DescribeEvents", "Duration", "20160", "MaxRecords", "100"))
	if err != nil {
		p.Error = asAPIErr(err)
	} else {
		d.Events, d.List = paginate(r, out.(*ec.EventsMessage).Events, func(e ec.Event) string {
			return deref(e.SourceIdentifier) + " " + deref(e.SourceType) + " " + deref(e.Message)
		})
	}
	c.render(w, r, http.StatusOK, "events", p)
}

func (c *Console) serverlessCaches(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Caches []ec.ServerlessCache
		List   list
	}
	d := &data{}
	p := page{Title: "Serverless caches", Service: "elasticache", Nav: "serverless", Data: d}
	out, err := c.call(r, ecSvc, params("DescribeServerlessCaches", "MaxResults", "100"))
	if err != nil {
		p.Error = asAPIErr(err)
	} else {
		d.Caches, d.List = paginate(r, out.(*ec.DescribeServerlessCachesResponse).ServerlessCaches, func(s ec.ServerlessCache) string {
			return deref(s.ServerlessCacheName) + " " + deref(s.Status)
		})
	}
	c.render(w, r, http.StatusOK, "serverless", p)
}

func (c *Console) cacheUsers(w http.ResponseWriter, r *http.Request) {
	type data struct {
		Users []ec.User
		List  list
	}
	d := &data{}
	p := page{Title: "User management", Service: "elasticache", Nav: "user-management", Data: d}
	out, err := c.call(r, ecSvc, params("DescribeUsers", "MaxRecords", "100"))
	if err != nil {
		p.Error = asAPIErr(err)
	} else {
		d.Users, d.List = paginate(r, out.(*ec.DescribeUsersResult).Users, func(u ec.User) string {
			return deref(u.UserId) + " " + deref(u.UserName) + " " + deref(u.Status)
		})
	}
	c.render(w, r, http.StatusOK, "cache_users", p)
}
