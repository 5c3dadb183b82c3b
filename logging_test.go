// Tests that every log line the functions write inside an invocation goes
// through a Context method of the logger: only those carry the Lambda
// context, from which the Lambda handler adds the requestId that ties a
// warning to its invocation (STYLE.md sections 7 and 11).
package waguard_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// contextFree are the functions, by file and name, that may log without a
// context: the cold start of every function (coldstart.Boot), before any
// invocation.
var contextFree = map[string]bool{
	"shared/coldstart/lazy.go Boot": true,
}

// logMethods are the slog.Logger methods without a context.
var logMethods = map[string]bool{"Debug": true, "Info": true, "Warn": true, "Error": true}

// TestLogLinesCarryTheContext fails on a call such as log.Warn("…") in the
// non-test code of functions/ and shared/ outside the cold start: it must
// be log.WarnContext(ctx, "…") with the invocation's ctx.
func TestLogLinesCarryTheContext(t *testing.T) {
	for _, root := range []string{"functions", "shared"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			for _, c := range contextFreeCalls(t, path) {
				t.Errorf("%s: %s logs without the invocation's context; use %sContext(ctx, …)", c.pos, c.call, c.method)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

type logCall struct{ pos, call, method string }

// contextFreeCalls returns the calls X.Info("…") (Debug, Warn, Error: a
// method of that name whose first argument is a string literal, as a log
// message is) in the file at path, except in the contextFree functions.
func contextFreeCalls(t *testing.T, path string) []logCall {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var out []logCall
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || contextFree[filepath.ToSlash(path)+" "+fn.Name.Name] {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if lit, isLit := call.Args[0].(*ast.BasicLit); ok && isLit && lit.Kind == token.STRING && logMethods[sel.Sel.Name] {
				out = append(out, logCall{pos: fset.Position(call.Pos()).String(), call: sel.Sel.Name + "(" + lit.Value + ")", method: sel.Sel.Name})
			}
			return true
		})
	}
	return out
}
