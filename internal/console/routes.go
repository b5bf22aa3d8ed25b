package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// routes binds every page. GET pages read; POST actions change, each with
// the session's CSRF token and from this origin (authed).
func (c *Console) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+Prefix+"static/", staticFiles())
	m.HandleFunc("GET "+Prefix+"signin", c.signinPage)
	m.HandleFunc("POST "+Prefix+"signin", c.signin)
	m.HandleFunc("POST "+Prefix+"signout", c.authed(c.signout))
	m.HandleFunc("POST "+Prefix+"region", c.authed(c.setRegion))
	m.HandleFunc("GET "+Prefix+"{$}", c.authed(c.home))

	ec := Prefix + "elasticache/"
	m.HandleFunc("GET "+ec+"{$}", c.authed(c.home))
	m.HandleFunc("GET "+ec+"caches", c.authed(c.caches))
	m.HandleFunc("GET "+ec+"caches/status", c.authed(c.cacheStatus))
	m.HandleFunc("GET "+ec+"caches/create", c.authed(c.createCacheForm))
	m.HandleFunc("POST "+ec+"caches", c.authed(c.createCache))
	m.HandleFunc("GET "+ec+"caches/{id}", c.authed(c.cacheDetail))
	m.HandleFunc("GET "+ec+"caches/{id}/compute-connection", c.authed(c.connectForm))
	m.HandleFunc("POST "+ec+"caches/{id}/compute-connection/preview", c.authed(c.connectPreview))
	m.HandleFunc("POST "+ec+"caches/{id}/compute-connection", c.authed(c.connect))
	m.HandleFunc("GET "+ec+"caches/{id}/explain", c.authed(c.explain))
	m.HandleFunc("GET "+ec+"replication-groups", c.authed(c.replicationGroups))
	m.HandleFunc("GET "+ec+"serverless", c.authed(c.serverlessCaches))
	m.HandleFunc("GET "+ec+"user-management", c.authed(c.cacheUsers))
	m.HandleFunc("GET "+ec+"subnet-groups", c.authed(c.subnetGroups))
	m.HandleFunc("GET "+ec+"parameter-groups", c.authed(c.parameterGroups))
	m.HandleFunc("GET "+ec+"events", c.authed(c.events))
	m.HandleFunc("GET "+ec+"security-groups", c.authed(c.cacheSecurityGroups))
	m.HandleFunc("GET "+ec+"security-groups/{name}", c.authed(c.cacheSecurityGroup))
	m.HandleFunc("POST "+ec+"security-groups/{name}/authorize", c.authed(c.cacheSecurityGroupAuthorize))
	m.HandleFunc("POST "+ec+"security-groups/{name}/revoke", c.authed(c.cacheSecurityGroupRevoke))

	e2 := Prefix + "ec2/"
	m.HandleFunc("GET "+e2+"instances", c.authed(c.instances))
	m.HandleFunc("GET "+e2+"security-groups", c.authed(c.securityGroups))
	m.HandleFunc("GET "+e2+"security-groups/{id}", c.authed(c.securityGroup))
	m.HandleFunc("GET "+e2+"security-groups/{id}/inbound", c.authed(c.inboundForm))
	m.HandleFunc("POST "+e2+"security-groups/{id}/inbound", c.authed(c.saveInbound))

	im := Prefix + "iam/"
	m.HandleFunc("GET "+im+"users", c.authed(c.users))
	m.HandleFunc("GET "+im+"users/create", c.authed(c.createUserForm))
	m.HandleFunc("POST "+im+"users", c.authed(c.createUser))
	m.HandleFunc("GET "+im+"users/{name}", c.authed(c.user))
	m.HandleFunc("POST "+im+"users/{name}/policies", c.authed(c.attachPolicy))
	m.HandleFunc("POST "+im+"users/{name}/mfa", c.authed(c.createMFA))
	m.HandleFunc("GET "+im+"users/{name}/mfa", c.authed(c.mfaForm))
	m.HandleFunc("GET "+im+"users/{name}/mfa/qr.png", c.authed(c.mfaQR))
	m.HandleFunc("POST "+im+"users/{name}/mfa/enable", c.authed(c.enableMFA))
	m.HandleFunc("GET "+im+"policies", c.authed(c.policies))
	c.mux = m
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, Prefix+"elasticache/caches", http.StatusSeeOther)
}

// params builds an operation's query parameters: Action, then name/value
// pairs; empty values are left out (the API's default applies).
func params(action string, kv ...string) url.Values {
	v := url.Values{"Action": {action}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

// list is one page of a filtered list.
type list struct {
	Filter            string
	Page, Pages, Size int
	Total, Shown      int
	First, Last       int
	Prev, Next        string // URLs, "" at the ends
}

// pageSize is the rows of a list page.
const pageSize = 50

// paginate keeps the rows of items whose key contains the request's
// filter (case-insensitive), then the requested page of them.
func paginate[T any](r *http.Request, items []T, key func(T) string) ([]T, list) {
	q := r.URL.Query()
	l := list{Filter: strings.TrimSpace(q.Get("filter")), Size: pageSize}
	if l.Filter != "" {
		f := strings.ToLower(l.Filter)
		items = slices.DeleteFunc(slices.Clone(items), func(it T) bool { return !strings.Contains(strings.ToLower(key(it)), f) })
	}
	l.Total = len(items)
	l.Pages = max(1, (l.Total+pageSize-1)/pageSize)
	l.Page, _ = strconv.Atoi(q.Get("page"))
	l.Page = min(max(l.Page, 1), l.Pages)
	lo, hi := (l.Page-1)*pageSize, min(l.Page*pageSize, l.Total)
	items = items[lo:hi]
	l.Shown, l.First, l.Last = len(items), lo+1, hi
	link := func(p int) string {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("page", strconv.Itoa(p))
		return r.URL.Path + "?" + q2.Encode()
	}
	if l.Page > 1 {
		l.Prev = link(l.Page - 1)
	}
	if l.Page < l.Pages {
		l.Next = link(l.Page + 1)
	}
	return items, l
}

var funcs = template.FuncMap{
	"s": func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	},
	"i": func(p *int32) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(int(*p))
	},
	"b": func(p *bool) bool { return p != nil && *p },
	"t": func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format("January 2, 2006, 15:04:05 (UTC)")
	},
	"lower":    strings.ToLower,
	"managed":  func(arn string) bool { return strings.HasPrefix(arn, "arn:aws:iam::aws:policy/") },
	"contains": func(list []string, s string) bool { return slices.Contains(list, s) },
	"statusClass": func(s string) string {
		switch s {
		case "available", "active", "running", "authorized", "in-sync":
			return "ok"
		case "creating", "modifying", "pending", "authorizing", "revoking", "rebooting cache cluster nodes", "snapshotting":
			return "progress"
		case "":
			return ""
		}
		return "bad"
	},
	"final": func(s string) bool {
		return s != "creating" && s != "modifying" && s != "deleting" && !strings.HasPrefix(s, "rebooting")
	},
	"esc": url.QueryEscape,
	"add": func(a, b int) int { return a + b },
	"portOf": func(from, to *int32) string {
		switch {
		case from == nil || *from == -1:
			return "All"
		case to != nil && *to != *from:
			return fmt.Sprintf("%d - %d", *from, *to)
		}
		return strconv.Itoa(int(*from))
	},
}
