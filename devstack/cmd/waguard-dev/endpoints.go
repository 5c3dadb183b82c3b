package main

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// endpointServices are the services -function-endpoint may redirect, as
// the suffixes of the SDK's AWS_ENDPOINT_URL_<SERVICE> variables.
// DYNAMODB_STREAMS and SQS also apply to a function's stream triggers,
// which read the stream and write to the on-failure queue with the
// function's role, as Lambda's event source mappings do.
var endpointServices = []string{"DYNAMODB", "KMS", "SECRETS_MANAGER", "EVENTBRIDGE", "SQS", "DYNAMODB_STREAMS"}

// endpointOverrides are the -function-endpoint flags: a key SERVICE
// applies to every function, a key FUNCTION:SERVICE (a logical ID, such
// as EventsFunction:DYNAMODB) to that function only, and wins.
type endpointOverrides map[string]string

// set parses one flag value, [FUNCTION:]SERVICE=URL.
func (e endpointOverrides) set(v string) error {
	target, u, ok := strings.Cut(v, "=")
	if !ok || u == "" {
		return errors.New("want [FUNCTION:]SERVICE=URL")
	}
	fn, svc, scoped := strings.Cut(target, ":")
	if !scoped {
		fn, svc = "", target
	}
	if scoped && !validLogicalID(fn) {
		return fmt.Errorf("bad function logical ID %q", fn)
	}
	if !slices.Contains(endpointServices, svc) {
		return fmt.Errorf("unknown service %q (want one of %s)", svc, strings.Join(endpointServices, ", "))
	}
	if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return errors.New("want an http(s) URL with a host")
	}
	e[target] = u
	return nil
}

// validLogicalID reports whether id can be a template logical ID
// (alphanumeric).
func validLogicalID(id string) bool {
	if id == "" {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// forFunction returns the overrides that apply to the function with
// logical ID fn, by service.
func (e endpointOverrides) forFunction(fn string) map[string]string {
	out := map[string]string{}
	for _, svc := range endpointServices {
		if u, ok := e[fn+":"+svc]; ok {
			out[svc] = u
		} else if u, ok := e[svc]; ok {
			out[svc] = u
		}
	}
	return out
}
