// Package apicheck is the automated half of "no silent parameter": it
// reads an API implementation's Go source (go/parser, no type checking)
// and lists, for each operation the package implements, the fields of the
// operation's input shape that its code never reads. Each service's test
// then requires every such field to be placed in its parameter tables
// (refused with an error naming it, or accepted with the reason it changes
// nothing), so a parameter a new botocore model adds, or a new operation
// ignores, fails the build until someone decides what it does.
//
// An operation is an exported method of the package with two parameters, the second
// a pointer to a struct of the generated API package (apiPkg, e.g.
// "ec2api"). A field is read when any function of the package (methods,
// functions, closures; not tests) selects it on a parameter of that type:
// in.Field, whichever function in is passed on to.
package apicheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
)

// Unread returns, by operation name, the input fields (Go names, sorted)
// the non-test Go files of the package in dir never read; operations
// reading every field are left out. shapesDir is the generated API
// package's directory, whose zz_shapes.go declares the input structs.
func Unread(dir, apiPkg, shapesDir string) (map[string][]string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	ops := map[string]string{}           // operation → input type
	read := map[string]map[string]bool{} // input type → fields read
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			var ft *ast.FuncType
			var body *ast.BlockStmt
			switch x := n.(type) {
			case *ast.FuncDecl:
				ft, body = x.Type, x.Body
				if x.Recv != nil && x.Name.IsExported() && len(ft.Params.List) == 2 && len(ft.Params.List[1].Names) <= 1 {
					if typ, ok := apiType(ft.Params.List[1].Type, apiPkg, true); ok {
						ops[x.Name.Name] = typ
					}
				}
			case *ast.FuncLit:
				ft, body = x.Type, x.Body
			default:
				return true
			}
			if body == nil {
				return true
			}
			params := map[string]string{}
			for _, p := range ft.Params.List {
				if typ, ok := apiType(p.Type, apiPkg, false); ok {
					for _, name := range p.Names {
						params[name.Name] = typ
					}
				}
			}
			if len(params) == 0 {
				return true
			}
			ast.Inspect(body, func(m ast.Node) bool {
				if se, ok := m.(*ast.SelectorExpr); ok {
					if id, ok := se.X.(*ast.Ident); ok {
						if typ, ok := params[id.Name]; ok {
							if read[typ] == nil {
								read[typ] = map[string]bool{}
							}
							read[typ][se.Sel.Name] = true
						}
					}
				}
				return true
			})
			return true
		})
	}
	fields, err := structFields(fset, filepath.Join(shapesDir, "zz_shapes.go"))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for op, typ := range ops {
		fs, ok := fields[typ]
		if !ok {
			return nil, fmt.Errorf("operation %s: no struct %s in %s", op, typ, shapesDir)
		}
		for _, f := range fs {
			if !read[typ][f] {
				out[op] = append(out[op], f)
			}
		}
		slices.Sort(out[op])
	}
	return out, nil
}

// apiType returns the name of the API package's type an expression names
// (*api.T or api.T; only the pointer when pointer is set).
func apiType(e ast.Expr, apiPkg string, pointer bool) (string, bool) {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	} else if pointer {
		return "", false
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != apiPkg {
		return "", false
	}
	return sel.Sel.Name, true
}

// structFields returns the field names of every struct type a file
// declares.
func structFields(fset *token.FileSet, file string) (map[string][]string, error) {
	af, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	out := map[string][]string{}
	for _, d := range af.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, sp := range gd.Specs {
			ts, ok := sp.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fl := range st.Fields.List {
				for _, name := range fl.Names {
					out[ts.Name.Name] = append(out[ts.Name.Name], name.Name)
				}
			}
		}
	}
	return out, nil
}
