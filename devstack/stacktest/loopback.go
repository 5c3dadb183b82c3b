package stacktest

import (
	"net/http"

	"github.com/waguard/waguard/internal/loopback"
)

// LoopbackOnly wraps base so that any request not addressed to a loopback
// IP literal fails, so a test can never reach the network
// ([loopback.Only]).
func LoopbackOnly(base http.RoundTripper) http.RoundTripper { return loopback.Only(base) }

// RestrictToLoopback makes http.DefaultTransport loopback-only. Call it
// from TestMain before m.Run.
func RestrictToLoopback() { http.DefaultTransport = LoopbackOnly(http.DefaultTransport) }
