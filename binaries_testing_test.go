// Tests that no binary of the module links the testing package.
package waguard_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestBinariesDoNotLinkTesting: no main package — the functions' bootstraps,
// cmd/compliance, cmd/recordsgen, cmd/auditverify, the local stack's and
// the benchmarks' commands — links the testing package, which comes in
// with a test helper (devstack/stacktest) and brings its flags and init
// work into a production or operator binary. Shared code that tests and
// commands both need lives outside test helpers (internal/loopback).
func TestBinariesDoNotLinkTesting(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Name}} {{.ImportPath}} {{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list ./... err = %v, want nil", err)
	}
	mains := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "main" {
			continue
		}
		mains++
		if slices.Contains(f[2:], "testing") {
			t.Errorf("%s links the testing package, want it kept out of every binary (`go list -deps %s | grep -x testing`)", f[1], f[1])
		}
	}
	if mains < 6 {
		t.Errorf("found %d main packages, want at least the six functions", mains)
	}
}
