package cachalot_test

import (
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/cachalot-dev/cachalot/"

// layers places every package of the tree. A package the table does not
// place fails the test: a new package is placed here, with its rule, when
// it is written. Patterns ending in "/..." match a package and everything
// below it.
var layers = []struct {
	pattern string
	layer   string
}{
	// The command and the wiring.
	{"cmd/cachalot", "main"},
	{"internal/cli", "cli"},
	{"internal/app", "wiring"},
	// Controllers: they join domains to mechanisms.
	{"internal/cachectl", "controller"},
	{"internal/vpcnet", "controller"},
	{"internal/instancectl", "controller"},
	{"internal/publishctl", "controller"},
	{"internal/dnsctl", "controller"},
	{"internal/metricsctl", "controller"},
	{"internal/snapctl", "controller"},
	// The admin socket: a server of its own, reached only by the CLI.
	{"internal/admin", "admin"},
	// The wire edge and the codecs.
	{"internal/endpoint", "edge"},
	{"internal/console", "edge"},   // the web console, an in-process API client beside the endpoint
	{"internal/telemetry", "edge"}, // /health, /ready, /metrics beside the endpoint
	{"internal/iamauth", "edge"},   // ElastiCache IAM authentication tokens (presigned SigV4), checked for the data path
	// The instance metadata service: HTTP to instances, from the EC2 domain's Go API.
	{"internal/imds", "metadata"},
	{"internal/awsproto", "codec"},
	{"internal/sigv4", "codec"},
	{"internal/api/gen", "tool"},
	{"internal/api/...", "contract"},
	// The domains.
	{"internal/elasticache", "domain"},
	{"internal/ec2/...", "domain"},
	{"internal/iam/...", "domain"},
	{"internal/sts", "domain"},
	{"internal/access", "domain"},
	{"internal/account", "domain"},
	{"internal/cloudwatch", "domain"},
	// The shared vocabulary every layer may use.
	{"internal/auth", "vocabulary"},
	{"internal/awserr", "vocabulary"},
	// Leaves every layer may use: storage, the controller framework, the
	// engine catalog and endpoint names. They know nothing of the domains.
	{"internal/reconcile", "leaf"},
	{"internal/store", "leaf"},
	{"internal/catalog", "leaf"},
	{"internal/dnsname", "leaf"},
	{"internal/paramtable", "leaf"}, // "no silent parameter": the refused fields a request sets
	{"internal/pki", "leaf"},        // the installation's CA and server certificates
	// Mechanisms: processes and kernel objects. They know nothing of the
	// domains, and the domains never import them.
	{"internal/engine/...", "mechanism"},
	{"internal/netplane", "mechanism"},
	{"internal/resolver", "mechanism"},
	{"internal/hostsfile", "mechanism"},
	// Test harnesses, benchmarks and tools may build anything.
	{"internal/app/apptest/...", "harness"},
	{"internal/privtest", "harness"},
	{"internal/console/consoletest", "harness"},
	{"internal/sdktest", "harness"},
	{"internal/apicheck", "harness"}, // "no silent parameter": reads a service's code for its tests
	{"bench/...", "harness"},
	{"examples", "harness"},
	{"tools/...", "tool"},
	{"", "harness"}, // this test's own package
}

// allowed lists, per package pattern, the only packages of the tree it may
// import (patterns as above). A package without an entry here is held only
// to the layer rules below.
var allowed = map[string][]string{
	"internal/catalog":             nil,
	"internal/dnsname":             nil,
	"internal/pki":                 nil,
	"internal/netplane":            nil,
	"internal/hostsfile":           nil,
	"internal/store":               nil,
	"internal/sigv4":               nil,
	"internal/auth":                nil,
	"internal/awserr":              nil,
	"internal/resolver":            {"internal/dnsname"},
	"internal/reconcile":           {"internal/store"},
	"internal/engine":              {"internal/catalog", "internal/engine/..."},
	"internal/engine/identity":     nil,
	"internal/engine/redis":        {"internal/catalog"},
	"internal/engine/memcached":    {"internal/catalog"},
	"internal/awsproto":            {"internal/awserr"},
	"internal/api/...":             {"internal/awserr", "internal/awsproto"},
	"internal/ec2/sgeval":          {"internal/ec2"},
	"internal/iam/policy":          {"internal/auth"},
	"internal/admin":               {"internal/account"},
	"internal/telemetry":           nil,
	"internal/iamauth":             {"internal/auth", "internal/sigv4"},
	"internal/imds":                {"internal/ec2", "internal/store"}, // store: the change feed its metadata cache follows
	"internal/console":             {"internal/auth", "internal/awserr", "internal/api/..."},
	"internal/endpoint":            {"internal/auth", "internal/awserr", "internal/awsproto", "internal/sigv4", "internal/dnsname"},
	"cmd/cachalot":                 {"internal/cli"},
	"internal/instancectl":         {"internal/ec2", "internal/engine/identity"},
	"internal/publishctl":          {"internal/access", "internal/hostsfile"},
	"internal/snapctl":             {"internal/elasticache", "internal/engine", "internal/catalog", "internal/reconcile"},
	"internal/dnsctl":              {"internal/ec2", "internal/elasticache", "internal/dnsname", "internal/resolver", "internal/reconcile"},
	"internal/account":             {"internal/auth", "internal/store"},
	"internal/cloudwatch":          {"internal/api/cloudwatchapi", "internal/auth", "internal/awserr"},
	"internal/metricsctl":          {"internal/catalog", "internal/cloudwatch", "internal/elasticache", "internal/engine"},
	"internal/api/gen":             nil,
	"internal/privtest":            nil,
	"internal/sdktest":             nil,
	"tools/...":                    nil,
	"internal/app/apptest":         {"internal/account", "internal/app", "internal/sdktest"},
	"internal/app/apptest/nettest": {"internal/app/apptest", "internal/ec2/...", "internal/netplane", "internal/privtest"},
}

// external lists, for the packages held to it, the only imports from
// outside the tree and the standard library they may have.
var external = map[string][]string{
	"internal/dnsname":    nil,
	"internal/pki":        nil,
	"internal/catalog":    nil,
	"internal/iam/policy": nil,
	"internal/resolver":   {"github.com/miekg/dns"},
	"internal/telemetry":  {"github.com/prometheus/client_golang/prometheus", "github.com/prometheus/client_golang/prometheus/collectors", "github.com/prometheus/client_golang/prometheus/promhttp"},
	"internal/ec2/...":    {"github.com/aws/aws-sdk-go-v2/aws"},
	"internal/console":    nil,
}

// forbidden are the layer rules: what no package of a layer imports.
var forbidden = map[string]struct {
	layers []string // layers of the tree it may not import
	std    []string // other imports it may not have (prefixes)
	why    string
}{
	"domain": {
		layers: []string{"main", "cli", "wiring", "controller", "admin", "edge", "codec", "mechanism"},
		std:    []string{"net/http", "github.com/vishvananda/", "github.com/miekg/"},
		why:    "domain packages never import the engine, the network plane, the codecs, controllers or net/http; they export small APIs the controllers call",
	},
	"mechanism": {
		layers: []string{"main", "cli", "wiring", "controller", "admin", "edge", "domain", "contract"},
		std:    []string{"net/http"},
		why:    "mechanism packages import nothing of the project's domains",
	},
	"leaf": {
		layers: []string{"main", "cli", "wiring", "controller", "admin", "edge", "domain", "contract", "mechanism", "codec"},
		std:    []string{"net/http"},
		why:    "leaf packages import nothing of the project's domains or mechanisms",
	},
	"controller": {
		layers: []string{"main", "cli", "wiring", "admin", "edge", "codec", "contract"},
		std:    []string{"net/http"},
		why:    "controllers converge the machine; they serve nothing and know no wire",
	},
	"admin": {
		layers: []string{"main", "cli", "wiring", "controller", "edge", "mechanism"},
		why:    "the admin socket reaches the service through interfaces the wiring satisfies",
	},
	"edge": {
		layers: []string{"main", "cli", "wiring", "controller", "admin", "domain", "mechanism"},
		why:    "the wire edge knows no service: the wiring binds the operations",
	},
	"codec": {
		layers: []string{"main", "cli", "wiring", "controller", "admin", "edge", "domain", "mechanism", "contract"},
		why:    "the codecs know no service",
	},
	"contract": {
		layers: []string{"main", "cli", "wiring", "controller", "admin", "edge", "domain", "mechanism"},
		why:    "generated contracts depend only on the codec",
	},
	"metadata": {
		layers: []string{"main", "cli", "wiring", "controller", "admin", "edge", "codec", "contract", "mechanism"},
		why:    "the metadata service reads the EC2 domain's Go API and reaches IAM through an interface the wiring satisfies",
	},
	"cli": {
		layers: []string{"controller", "edge", "mechanism"},
		why:    "the CLI builds the app and talks to a running service through the API and the admin socket",
	},
}

// TestImportRules pins the architecture of docs/architecture.md for the
// whole tree: the wire edge is the only HTTP code facing AWS clients (the
// admin socket also serves HTTP, JSON on the installation's 0600 Unix
// socket), the codecs know no service, domain packages never import the
// engine, the network plane, the codecs or net/http, mechanism packages
// import nothing of the project's domains, only the wiring imports the
// controllers and the edge, and only the CLI builds the app.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], mod), strings.TrimSuffix(mod, "/"))
		imports[pkg] = f[1:]
	}
	for pkg, imps := range imports {
		layer := layerOf(pkg)
		if layer == "" {
			t.Errorf("%s is in no layer: place it in deps_test.go's layers table with the rule it follows", pkg)
			continue
		}
		allow, hasAllow := lookup(allowed, pkg)
		rule, hasRule := forbidden[layer]
		for _, imp := range imps {
			if !strings.HasPrefix(imp, mod) {
				first, _, _ := strings.Cut(imp, "/")
				if ext, ok := lookup(external, pkg); ok && strings.Contains(first, ".") && !slices.Contains(ext, imp) {
					t.Errorf("%s imports %s: outside the standard library it may import only %v", pkg, imp, ext)
				}
				if hasRule && slices.ContainsFunc(rule.std, func(p string) bool { return strings.HasPrefix(imp, p) }) {
					t.Errorf("%s (%s) imports %s: %s", pkg, layer, imp, rule.why)
				}
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			if hasAllow && !slices.ContainsFunc(allow, func(p string) bool { return match(p, dep) }) {
				t.Errorf("%s imports %s: it may import only %v of the tree", pkg, dep, allow)
			}
			depLayer := layerOf(dep)
			if hasRule && slices.Contains(rule.layers, depLayer) {
				t.Errorf("%s (%s) imports %s (%s): %s", pkg, layer, dep, depLayer, rule.why)
			}
			if layer == "harness" || layer == "tool" {
				continue
			}
			switch {
			case depLayer == "controller" && layer != "wiring":
				t.Errorf("%s imports %s: only the wiring imports controllers", pkg, dep)
			case depLayer == "edge" && layer != "wiring":
				t.Errorf("%s imports %s: only the wiring builds the wire edge", pkg, dep)
			case depLayer == "wiring" && layer != "cli":
				t.Errorf("%s imports %s: only the CLI builds the app", pkg, dep)
			}
		}
	}
}

// layerOf is the layer of pkg, "" when the table does not place it. The
// longest matching pattern wins.
func layerOf(pkg string) string {
	best, layer := -1, ""
	for _, l := range layers {
		if match(l.pattern, pkg) && len(l.pattern) > best {
			best, layer = len(l.pattern), l.layer
		}
	}
	return layer
}

func lookup(m map[string][]string, pkg string) ([]string, bool) {
	best, found := -1, false
	var out []string
	for p, v := range m {
		if match(p, pkg) && len(p) > best {
			best, out, found = len(p), v, true
		}
	}
	return out, found
}

func match(pattern, pkg string) bool {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	if pattern == "" {
		return pkg == ""
	}
	ok, _ := path.Match(pattern, pkg)
	return ok
}
