// Tests that each function's bootstrap links only what it uses. Retention
// and rotate never parse a phone number, so they must not link
// libphonenumber (github.com/nyaruka/phonenumbers), whose metadata and the
// protobuf and x/text packages it brings were most of their size (18.7 MiB
// before, about 10 MiB without; `make build` prints every size against its
// budget).
package waguard_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// parserDeps are the modules only libphonenumber brings into a binary.
var parserDeps = []string{"github.com/nyaruka/phonenumbers", "google.golang.org/protobuf", "golang.org/x/text"}

// TestBinariesLinkOnlyWhatTheyUse lists the packages each function links,
// as `make build` builds it, and fails, naming the import chain, when one
// that never parses a number links a parser dependency. The functions
// that validate numbers must link libphonenumber, so the check cannot pass
// on an empty listing.
func TestBinariesLinkOnlyWhatTheyUse(t *testing.T) {
	tests := []struct {
		fn     string
		parses bool // validates phone numbers with libphonenumber
	}{
		{"webhook", true}, {"send", true}, {"erase", true}, {"events", true},
		{"retention", false}, {"rotate", false},
	}
	for _, tc := range tests {
		t.Run(tc.fn, func(t *testing.T) {
			t.Parallel()
			g := importGraph(t, "./functions/"+tc.fn)
			for _, dep := range parserDeps {
				chain := g.chain(dep)
				switch {
				case !tc.parses && chain != nil:
					t.Errorf("%s links %s (%s), want it left out: it parses no phone number", tc.fn, dep, strings.Join(chain, " → "))
				case tc.parses && chain == nil && dep == parserDeps[0]:
					t.Errorf("%s does not link %s, want it linked: it validates phone numbers", tc.fn, dep)
				}
			}
		})
	}
}

// graph is a binary's import graph: each package's imports, from root.
type graph struct {
	root    string
	imports map[string][]string
}

// importGraph lists the packages linked into the main package pkg when
// built for Lambda (linux/arm64, lambda.norpc), as the Makefile builds it.
func importGraph(t *testing.T, pkg string) graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	g := graph{imports: map[string][]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		g.imports[f[0]] = f[1:]
		g.root = f[0] // go list -deps prints the named package last
	}
	return g
}

// chain returns the shortest import path from the root to a package of
// module mod, or nil when none is linked.
func (g graph) chain(mod string) []string {
	parent := map[string]string{g.root: ""}
	queue := []string{g.root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == mod || strings.HasPrefix(p, mod+"/") {
			var path []string
			for ; p != ""; p = parent[p] {
				path = append(path, strings.TrimPrefix(p, modulePath+"/"))
			}
			slices.Reverse(path)
			return path
		}
		for _, q := range g.imports[p] {
			if _, seen := parent[q]; !seen {
				parent[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}
