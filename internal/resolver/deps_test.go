package resolver

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins what the package may import: the standard library,
// miekg/dns and internal/dnsname — no domain package, no store, no netplane
// (the caller opens the sockets in the right namespace).
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			switch {
			case !strings.Contains(first, "."):
			case path == "github.com/miekg/dns", path == "github.com/cachalot-dev/cachalot/internal/dnsname":
			default:
				t.Errorf("%s imports %s; resolver may import only the standard library, miekg/dns and internal/dnsname", f, path)
			}
		}
	}
}
