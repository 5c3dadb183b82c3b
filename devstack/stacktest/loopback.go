package stacktest

import (
	"errors"
	"net"
	"net/http"
)

// LoopbackOnly wraps base so that any request not addressed to a loopback
// IP literal fails, so a test can never reach the network.
func LoopbackOnly(base http.RoundTripper) http.RoundTripper { return loopbackOnly{base: base} }

// RestrictToLoopback makes http.DefaultTransport loopback-only. Call it
// from TestMain before m.Run.
func RestrictToLoopback() { http.DefaultTransport = LoopbackOnly(http.DefaultTransport) }

type loopbackOnly struct{ base http.RoundTripper }

func (t loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if ip := net.ParseIP(r.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, errors.New("test transport: non-loopback request refused")
	}
	return t.base.RoundTrip(r)
}
