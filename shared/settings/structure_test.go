package settings

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/waguard/waguard/internal/samtemplate"
)

// repoRoot is the module root, from this package's directory.
const repoRoot = "../.."

// TestNoOtherEnvironmentReaders is what makes a default unique: outside
// this package, no non-test code in functions/ or shared/ calls a getenv
// (getenv("X"), os.Getenv, os.LookupEnv, os.Environ), and only a
// function's main refers to os.Getenv at all, to hand it to its loader.
// So every setting is read through its one declaration here, and two
// functions cannot default the same variable differently.
func TestNoOtherEnvironmentReaders(t *testing.T) {
	for _, dir := range []string{"functions", "shared"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, path)
			rel = filepath.ToSlash(rel)
			if strings.HasPrefix(rel, "shared/settings/") {
				return nil
			}
			for _, p := range envReads(t, path, isMain(rel)) {
				t.Errorf("%s:%s reads the environment outside shared/settings; declare the setting there and read it in the function's config.go", rel, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// isMain reports whether rel is a function's main.go, which may pass
// os.Getenv to its loader.
func isMain(rel string) bool {
	parts := strings.Split(rel, "/")
	return len(parts) == 3 && parts[0] == "functions" && parts[2] == "main.go"
}

// envReads returns the positions in the file at path of a call of a
// function named getenv, Getenv, LookupEnv or Environ, and (unless
// mainOK) of any use of os.Getenv, os.LookupEnv or os.Environ.
func envReads(t *testing.T, path string, mainOK bool) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]bool{"getenv": true, "Getenv": true, "LookupEnv": true, "Environ": true}
	var out []string
	at := func(n ast.Node) { out = append(out, strings.TrimPrefix(fset.Position(n.Pos()).String(), path+":")) }
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			switch fn := n.Fun.(type) {
			case *ast.Ident:
				if readers[fn.Name] {
					at(n)
				}
			case *ast.SelectorExpr:
				if readers[fn.Sel.Name] {
					at(n)
					return false
				}
			}
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && x.Name == "os" && readers[n.Sel.Name] && !mainOK {
				at(n)
			}
		}
		return true
	})
	return out
}

// TestTemplateVariablesDeclared: every environment variable template.yaml
// gives a function (its Globals and each function's own) is declared
// here, and where it is set from a parameter with a default, that default
// is the setting's own (so a function run without the template, or with
// the variable unset, behaves as deployed).
func TestTemplateVariablesDeclared(t *testing.T) {
	declared := map[string]Spec{}
	for _, s := range All() {
		declared[s.Spec().Name] = s.Spec()
	}
	// Deliberate differences, each with its reason.
	differs := map[string]string{
		"STAGE": "unset means no Stage dimension; the template always sets one",
	}
	tpl := loadTemplate(t)
	vars := tpl.variables()
	if len(vars) < 40 {
		t.Fatalf("found %d variables in template.yaml, want all of them (is the reader broken?)", len(vars))
	}
	for name, param := range vars {
		spec, ok := declared[name]
		if !ok {
			t.Errorf("template.yaml sets %s, which shared/settings does not declare", name)
			continue
		}
		def, hasDefault := tpl.paramDefault(param)
		if !hasDefault || def == "" || spec.Default == "(required)" || differs[name] != "" {
			continue
		}
		if def != spec.Default {
			t.Errorf("%s: template parameter %s defaults to %q, the setting to %q", name, param, def, spec.Default)
		}
	}
	for name := range differs {
		if _, ok := vars[name]; !ok {
			t.Errorf("differs lists %s, which template.yaml does not set", name)
		}
	}
}

// template is template.yaml as written (intrinsics kept), read by the
// one template reader, internal/samtemplate.
type template struct{ root map[string]any }

func loadTemplate(t *testing.T) template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join(repoRoot, "template.yaml"), samtemplate.Resolver{})
	if err != nil {
		t.Fatal(err)
	}
	return template{root: tpl.Unresolved()}
}

// get returns the value under the path of mapping keys, or nil.
func get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// variables maps every variable of the Globals and of each function to
// the parameter it is set from (!Ref Param), or "".
func (tp template) variables() map[string]string {
	out := map[string]string{}
	add := func(vars any) {
		m, _ := vars.(map[string]any)
		for name, v := range m {
			param, _ := samtemplate.RefTo(v)
			out[name] = param
		}
	}
	add(get(tp.root, "Globals", "Function", "Environment", "Variables"))
	res, _ := get(tp.root, "Resources").(map[string]any)
	for _, r := range res {
		if get(r, "Type") == "AWS::Serverless::Function" {
			add(get(r, "Properties", "Environment", "Variables"))
		}
	}
	return out
}

// paramDefault returns the default of the template parameter name.
func (tp template) paramDefault(name string) (string, bool) {
	switch d := get(tp.root, "Parameters", name, "Default").(type) {
	case nil:
		return "", false
	case string:
		return d, true
	case float64: // JSON numbers: 3145728, not 3.145728e+06
		return strconv.FormatFloat(d, 'f', -1, 64), true
	default:
		return fmt.Sprint(d), true
	}
}
