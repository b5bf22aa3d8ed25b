package ec2

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins what the domain packages may import: no net/http (the
// wire layer owns HTTP), no kernel packages, and sgeval only ec2 of ours.
func TestImports(t *testing.T) {
	for _, dir := range []string{".", "sgeval"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pf, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range pf.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				bad := p == "net/http" || strings.Contains(p, "netlink") || strings.Contains(p, "nftables") || strings.Contains(p, "internal/netplane")
				if dir == "sgeval" && strings.HasPrefix(p, "github.com/cachalot-dev/cachalot/") && p != "github.com/cachalot-dev/cachalot/internal/ec2" {
					bad = true
				}
				if bad {
					t.Errorf("%s imports %s", f, p)
				}
			}
		}
	}
}
