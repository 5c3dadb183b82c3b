// Command iamcheck is the last step of `make test`: it asks the local
// stack which calls the functions' roles made during the tests (GET
// /_local/iam/usage on the gateway) and fails, listing them, when
// template.yaml grants a function an action on a resource that no test
// exercised and devstack/iamguard's Exemptions does not excuse. With the
// IAM enforcement that refuses what a role lacks, this holds each policy
// to exactly what the code does (docs/threat-model.md).
//
// Usage (with the stack's environment, as devstack/with-stack.sh sets it):
//
//	iamcheck
//
// Without a stack, or on one that does not enforce IAM, it has nothing to
// check: it says so and succeeds, except when CI is set, where that fails,
// so the check can never be skipped silently.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/waguard/waguard/devstack/iamguard"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	os.Exit(run(ctx, os.Getenv, iamguard.Exemptions, os.Stdout))
}

// errNoRecord means there is no record to check: no stack, or a stack
// without IAM enforcement.
var errNoRecord = errors.New("no record of the functions' calls")

// run checks the running stack's record against exemptions and returns
// the exit status.
func run(ctx context.Context, getenv func(string) string, exemptions []iamguard.Exemption, out io.Writer) int {
	usage, err := fetch(ctx, getenv("WAGUARD_GATEWAY_URL"))
	switch {
	case errors.Is(err, errNoRecord) && getenv("CI") == "":
		fmt.Fprintf(out, "iamcheck: SKIPPED, %v (CI would fail here)\n", err)
		return 0
	case err != nil:
		fmt.Fprintf(out, "iamcheck: FAIL: %v\n", err)
		return 1
	}
	if getenv("WAGUARD_STACK_REUSED") != "" {
		fmt.Fprintln(out, "iamcheck: note: the stack was already running; its record includes calls made before these tests")
	}
	rep := iamguard.Check(usage.Grants, usage.Uses, exemptions)
	report(out, rep)
	if !rep.OK() {
		return 1
	}
	return 0
}

// fetch reads the stack's record.
func fetch(ctx context.Context, gateway string) (iamguard.Usage, error) {
	var u iamguard.Usage
	if gateway == "" {
		return u, fmt.Errorf("%w: WAGUARD_GATEWAY_URL is not set (run through devstack/with-stack.sh)", errNoRecord)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(gateway, "/")+"/_local/iam/usage", nil)
	if err != nil {
		return u, fmt.Errorf("usage request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return u, fmt.Errorf("%w: %v", errNoRecord, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	switch {
	case err != nil:
		return u, fmt.Errorf("read usage: %w", err)
	case resp.StatusCode == http.StatusNotFound:
		return u, fmt.Errorf("%w: the stack does not enforce IAM (%s)", errNoRecord, strings.TrimSpace(string(body)))
	case resp.StatusCode != http.StatusOK:
		return u, fmt.Errorf("usage: status %d", resp.StatusCode)
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return u, fmt.Errorf("decode usage: %w", err)
	}
	if len(u.Grants) == 0 {
		return u, errors.New("the stack reports no grants: template.yaml not read")
	}
	return u, nil
}

// report prints the outcome, every failing item on its own line.
func report(w io.Writer, r iamguard.Report) {
	status := "ok"
	if !r.OK() {
		status = "FAIL"
	}
	fmt.Fprintf(w, "iamcheck: %s: %d grants in template.yaml, %d exercised by the tests, %d exempt (devstack/iamguard/exemptions.go)\n",
		status, r.Grants, r.Exercised, len(r.Exempt))
	if len(r.Unexercised) > 0 {
		fmt.Fprintln(w, "granted but exercised by no test (remove the grant, or add a test that makes the call):")
		for _, g := range r.Unexercised {
			fmt.Fprintln(w, "  "+g.String())
		}
	}
	if len(r.NoStandIn) > 0 {
		fmt.Fprintln(w, "exempt only when a test makes the same call on a stand-in resource, which none did:")
		for _, x := range r.NoStandIn {
			fmt.Fprintf(w, "  %s: %s\n", x.Grant, x.Reason)
		}
	}
	if len(r.Stale) > 0 {
		fmt.Fprintln(w, "exemptions that excuse nothing any more (remove them):")
		for _, e := range r.Stale {
			fmt.Fprintln(w, "  "+e.String())
		}
	}
	if len(r.Invalid) > 0 {
		fmt.Fprintln(w, "exemptions without a selector or a reason:")
		for _, e := range r.Invalid {
			fmt.Fprintln(w, "  "+e.String())
		}
	}
}
