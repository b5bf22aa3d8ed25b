package ec2

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorsFromTable pins errors.go as the one table of EC2's error codes:
// no other file of the package builds an awserr.Error from a code string
// (awserr.New, awserr.WithStatus) or compares with a code literal.
func TestErrorsFromTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if f == "errors.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(pf, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "awserr" {
				return true
			}
			switch sel.Sel.Name {
			case "New", "WithStatus":
				t.Errorf("%s: awserr.%s: build the error with a constructor of errors.go", fset.Position(call.Pos()), sel.Sel.Name)
			case "HasCode":
				if len(call.Args) == 2 {
					if _, lit := call.Args[1].(*ast.BasicLit); lit {
						t.Errorf("%s: awserr.HasCode with a code literal: name the code in errors.go", fset.Position(call.Pos()))
					}
				}
			}
			return true
		})
	}
}
