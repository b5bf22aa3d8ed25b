package engine

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestImports pins the package boundaries: of Cachalot's packages,
// internal/engine imports only its sub-packages and internal/catalog;
// the engine sub-packages import only internal/catalog, identity nothing; the
// catalog imports nothing of Cachalot's (the elasticache domain imports
// them, never the reverse). None imports net/http: none is a wire
// package.
func TestImports(t *testing.T) {
	const mod = "github.com/cachalot-dev/cachalot/"
	for _, tc := range []struct {
		dir     string
		allowed []string
	}{
		{".", []string{"internal/catalog", "internal/engine/redis", "internal/engine/memcached", "internal/engine/identity"}},
		{"identity", nil},
		{"redis", []string{"internal/catalog"}},
		{"memcached", []string{"internal/catalog"}},
		{"../catalog", nil},
	} {
		files, err := filepath.Glob(filepath.Join(tc.dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", tc.dir)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if p == "net/http" {
					t.Errorf("%s imports net/http", f)
				}
				rel, ok := strings.CutPrefix(p, mod)
				if ok && !slices.Contains(tc.allowed, rel) {
					t.Errorf("%s imports %s; allowed of Cachalot's: %v", f, p, tc.allowed)
				}
			}
		}
	}
}
