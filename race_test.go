// Tests that `make test` runs the race detector over every package whose
// state goroutines share.
package waguard_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// raceByHand are the packages whose shared state is not a lock or an
// atomic of their own: concurrent invocations share DynamoDB items through
// conditional writes (idempotency claims, rate-limit windows, the audit
// chain), and the gateway serves requests on many goroutines at once.
var raceByHand = []string{"./shared/audit", "./shared/idempotency", "./shared/ratelimit", "./devstack/gateway"}

// TestRacePackagesListed: RACE_PKGS in the Makefile, which `make test`
// runs under the race detector, names every package under shared/,
// functions/ and devstack/ whose non-test code imports sync or
// sync/atomic, and the packages of raceByHand; and nothing else.
func TestRacePackagesListed(t *testing.T) {
	want := map[string]bool{}
	for _, p := range raceByHand {
		want[p] = true
	}
	for _, root := range []string{"shared", "functions", "devstack"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			if importsSync(t, path) {
				want["./"+filepath.ToSlash(filepath.Dir(path))] = true
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	got := racePackages(t)
	for p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("RACE_PKGS lacks %s, whose state goroutines share; want it run under the race detector", p)
		}
	}
	for _, p := range got {
		if !want[p] {
			t.Errorf("RACE_PKGS names %s, which shares no state by this test's rule; add it to raceByHand with the reason, or drop it", p)
		}
	}
}

func importsSync(t *testing.T, path string) bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "sync" || p == "sync/atomic" {
			return true
		}
	}
	return false
}

// racePackages reads RACE_PKGS from the Makefile (one assignment, lines
// continued with a backslash).
func racePackages(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatalf("read Makefile: %v", err)
	}
	m := regexp.MustCompile(`(?m)^RACE_PKGS\s*:=((?:.*\\\n)*.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Makefile has no RACE_PKGS := line")
	}
	return strings.Fields(strings.ReplaceAll(string(m[1]), "\\\n", " "))
}
