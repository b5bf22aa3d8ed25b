package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules pins the architecture (docs/architecture.md): the wire
// edge is the only HTTP code facing AWS clients (internal/admin also serves
// HTTP, JSON on the installation's 0600 Unix socket only, and its client
// is the CLI's), the codec knows no service, the mechanism packages know
// nothing of Cachalot, controllers serve nothing, only the wiring imports
// the controllers, and only the CLI builds the app.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/cachalot-dev/cachalot/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/cachalot-dev/cachalot/"
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[strings.TrimPrefix(f[0], mod)] = f[1:]
	}
	rules := []struct {
		pkgPrefix string
		forbidden func(imp string) bool
		why       string
	}{
		{"internal/elasticache", isHTTP, "domain packages never import net/http"},
		{"internal/ec2", isHTTP, "domain packages never import net/http"},
		{"internal/iam", isHTTP, "domain packages never import net/http"},
		{"internal/sts", isHTTP, "domain packages never import net/http"},
		{"internal/access", isHTTP, "domain packages never import net/http"},
		{"internal/store", isHTTP, "storage never imports net/http"},
		{"internal/reconcile", isHTTP, "reconcilers never import net/http"},
		{"internal/vpcnet", isHTTP, "controllers never import net/http"},
		{"internal/instancectl", isHTTP, "controllers never import net/http"},
		{"internal/cachectl", isHTTP, "controllers never import net/http"},
		{"internal/elasticache", isEngineOrPlane, "the domain never imports the engine or the network plane (the cache controller does)"},
		{"internal/admin", isController, "the admin socket reaches controllers through interfaces the wiring satisfies"},
		{"internal/awsproto", isDomain, "the codec knows no service"},
		{"internal/engine", isCachalotButCatalog, "engine supervision imports nothing of Cachalot but the catalog leaf"},
		{"internal/catalog", isCachalot, "the catalog leaf imports nothing of Cachalot"},
		{"internal/netplane", isCachalot, "the network plane imports nothing of Cachalot"},
		{"internal/store", isCachalot, "the store imports nothing of Cachalot"},
	}
	for pkg, imps := range imports {
		for _, r := range rules {
			if pkg != r.pkgPrefix && !strings.HasPrefix(pkg, r.pkgPrefix+"/") {
				continue
			}
			for _, imp := range imps {
				if r.forbidden(imp) {
					t.Errorf("%s imports %s: %s", pkg, imp, r.why)
				}
			}
		}
		for _, imp := range imps {
			// Test harnesses and benchmarks may build a whole service.
			if pkg == "internal/app/apptest" || strings.HasPrefix(pkg, "bench/") {
				continue
			}
			if imp == mod+"internal/app" && pkg != "internal/cli" {
				t.Errorf("%s imports internal/app: only the CLI builds the app", pkg)
			}
			if imp == mod+"internal/endpoint" && pkg != "internal/app" {
				t.Errorf("%s imports internal/endpoint: only the wiring does", pkg)
			}
			if isController(imp) && pkg != "internal/app" {
				t.Errorf("%s imports %s: only the wiring imports controllers", pkg, imp)
			}
		}
	}
}

func isHTTP(imp string) bool { return imp == "net/http" }

// controllers are the packages of reconcile.Controllers that join domains.
var controllers = []string{"vpcnet", "instancectl", "cachectl"}

func isController(imp string) bool {
	for _, c := range controllers {
		if imp == "github.com/cachalot-dev/cachalot/internal/"+c {
			return true
		}
	}
	return false
}

func isEngineOrPlane(imp string) bool {
	const mod = "github.com/cachalot-dev/cachalot/internal/"
	return imp == mod+"engine" || strings.HasPrefix(imp, mod+"engine/") || imp == mod+"netplane"
}

func isCachalot(imp string) bool { return strings.HasPrefix(imp, "github.com/cachalot-dev/cachalot/") }

// isCachalotButCatalog allows the catalog leaf and the engine's own
// sub-packages.
func isCachalotButCatalog(imp string) bool {
	const mod = "github.com/cachalot-dev/cachalot/internal/"
	return isCachalot(imp) && imp != mod+"catalog" && !strings.HasPrefix(imp, mod+"engine/")
}

func isDomain(imp string) bool {
	for _, d := range []string{"elasticache", "ec2", "iam", "sts", "account", "app", "endpoint"} {
		if imp == "github.com/cachalot-dev/cachalot/internal/"+d || strings.HasPrefix(imp, "github.com/cachalot-dev/cachalot/internal/"+d+"/") {
			return true
		}
	}
	return false
}
