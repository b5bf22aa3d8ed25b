package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules pins the architecture (docs/architecture.md): the wire
// edge is the only HTTP code, the codec knows no service, the mechanism
// packages know nothing of Cachalot, and only the CLI builds the app.
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
		}
	}
}

func isHTTP(imp string) bool { return imp == "net/http" }

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
