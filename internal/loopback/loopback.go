// Package loopback keeps HTTP traffic on this machine: a transport that
// refuses any request not addressed to a loopback IP literal, for tests,
// the compliance check's probes of a local stack and the benchmarks.
//
// It imports no testing code, so a command can use it without linking the
// testing package (devstack/stacktest re-exports it for tests).
package loopback

import (
	"errors"
	"net"
	"net/http"
	"net/url"
)

// Only wraps base so that any request not addressed to a loopback IP
// literal fails before it is sent ("localhost" too: a name could resolve
// elsewhere).
func Only(base http.RoundTripper) http.RoundTripper { return only{base: base} }

type only struct{ base http.RoundTripper }

func (t only) RoundTrip(r *http.Request) (*http.Response, error) {
	if !IsHost(r.URL.Hostname()) {
		return nil, errors.New("loopback transport: non-loopback request refused")
	}
	return t.base.RoundTrip(r)
}

// IsHost reports whether host is a loopback IP literal.
func IsHost(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsURL reports whether u is a URL whose host is a loopback IP literal.
func IsURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && IsHost(p.Hostname())
}
