package gateway

import (
	"net/url"
	"strings"
)

// match finds the route for method and path, with its path parameters.
// Routes without variables win over templated ones, as in API Gateway.
func (g *Gateway) match(method, path string) (Route, map[string]string, bool) {
	var best Route
	var bestParams map[string]string
	found, bestVars := false, 0
	for _, rt := range g.routes {
		if rt.Method != method && rt.Method != "ANY" {
			continue
		}
		params, vars, ok := matchPath(rt.Path, path)
		if !ok {
			continue
		}
		if !found || vars < bestVars {
			best, bestParams, bestVars, found = rt, params, vars, true
		}
	}
	return best, bestParams, found
}

// matchPath matches a path against a template such as /v1/items/{id} or
// /files/{proxy+}, returning the decoded variables and how many there were.
func matchPath(tmpl, path string) (map[string]string, int, bool) {
	tp := strings.Split(strings.Trim(tmpl, "/"), "/")
	pp := strings.Split(strings.Trim(path, "/"), "/")
	params := map[string]string{}
	for i, seg := range tp {
		name, isVar := strings.CutPrefix(seg, "{")
		if !isVar {
			if i >= len(pp) || pp[i] != seg {
				return nil, 0, false
			}
			continue
		}
		name = strings.TrimSuffix(name, "}")
		if greedy, ok := strings.CutSuffix(name, "+"); ok {
			if i >= len(pp) {
				return nil, 0, false
			}
			v, err := url.PathUnescape(strings.Join(pp[i:], "/"))
			if err != nil {
				return nil, 0, false
			}
			params[greedy] = v
			return params, len(params) + 100, true
		}
		if i >= len(pp) || pp[i] == "" {
			return nil, 0, false
		}
		v, err := url.PathUnescape(pp[i])
		if err != nil {
			return nil, 0, false
		}
		params[name] = v
	}
	if len(tp) != len(pp) {
		return nil, 0, false
	}
	if len(params) == 0 {
		params = nil
	}
	return params, len(params), true
}
