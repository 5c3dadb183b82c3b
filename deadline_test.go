package waguard_test

import (
	"testing"
	"time"

	"github.com/waguard/waguard/shared/deadline"
	"github.com/waguard/waguard/shared/whatsapp"
)

// TestCallTimeoutsFitEveryFunction checks that no remote call can outlive
// the invocation that makes it: each kind's timeout plus the reserve it
// keeps to record the outcome stays below the Lambda Timeout of every
// function that makes such calls, and the WhatsApp client's own HTTP
// timeout is not longer than the provider kind's (it was 15 s, above the
// webhook's 10 s: a hung provider consumed the whole invocation).
func TestCallTimeoutsFitEveryFunction(t *testing.T) {
	if got, limit := whatsapp.NewHTTPClient().Timeout, deadline.Provider.Timeout(); got <= 0 || got > limit {
		t.Errorf("whatsapp.NewHTTPClient().Timeout = %v, want in (0, %v] (deadline.Provider)", got, limit)
	}
	tpl := loadTemplate(t, nil)
	fns := tpl.Functions()
	if len(fns) == 0 {
		t.Fatal("template has no functions")
	}
	for _, f := range fns {
		lambda := time.Duration(f.TimeoutSeconds) * time.Second
		for _, k := range deadline.Kinds() {
			if k == deadline.Endpoint && f.Env["EVENT_BUS_NAME"] == "" {
				continue // only the events function delivers to endpoints
			}
			if k.Timeout()+k.Reserve() >= lambda {
				t.Errorf("%s: %s timeout %v + reserve %v >= Lambda Timeout %v", f.LogicalID, k, k.Timeout(), k.Reserve(), lambda)
			}
		}
		// The client's own timeout is what a provider call takes when no
		// deadline bounds it.
		if c := whatsapp.NewHTTPClient().Timeout; c+deadline.Provider.Reserve() >= lambda {
			t.Errorf("%s: WhatsApp client timeout %v + reserve %v >= Lambda Timeout %v", f.LogicalID, c, deadline.Provider.Reserve(), lambda)
		}
	}
}
