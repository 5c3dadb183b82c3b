package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// specURL names docs/openapi.yaml inside the schema compiler; refs such as
// "#/components/schemas/Error" resolve against the whole document.
const specURL = "https://waguard.invalid/docs/openapi.json"

// spec is docs/openapi.yaml, loaded as JSON values, with its response
// schemas compiled on demand.
type spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatalf("read spec: %v", err)
	}
	var y any
	if err := yaml.Unmarshal(b, &y); err != nil {
		t.Fatalf("yaml.Unmarshal(openapi.yaml) err = %v, want nil", err)
	}
	j, err := json.Marshal(jsonValue(y))
	if err != nil {
		t.Fatalf("spec to JSON: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("jsonschema.UnmarshalJSON(spec) err = %v, want nil", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(specURL, doc); err != nil {
		t.Fatalf("AddResource(spec) err = %v, want nil", err)
	}
	m, _ := doc.(map[string]any)
	return &spec{doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}}
}

// jsonValue converts decoded YAML into values encoding/json accepts
// (yaml.v3 yields map[any]any for mappings with non-string keys).
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonValue(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonValue(e)
		}
		return v
	}
	return v
}

// response returns the spec's response object for route and status and
// its JSON pointer, following a $ref into #/components/responses.
func (s *spec) response(route string, status int) (map[string]any, string, bool) {
	path := strings.TrimPrefix(route, "POST ")
	ptr := "/paths/" + escape(path) + "/post/responses/" + strconv.Itoa(status)
	r, ok := s.lookup(ptr)
	if ref, isRef := r["$ref"].(string); ok && isRef && strings.HasPrefix(ref, "#/") {
		ptr = ref[1:]
		r, ok = s.lookup(ptr)
	}
	return r, ptr, ok
}

func (s *spec) lookup(ptr string) (map[string]any, bool) {
	var cur any = s.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

func escape(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// check fails t unless the spec documents status for route, the body
// validates against that response's schema and the documented headers are
// present.
func (s *spec) check(t *testing.T, route string, status int, out map[string]any, hdr map[string]string) {
	t.Helper()
	r, ptr, ok := s.response(route, status)
	if !ok {
		t.Errorf("%s answered %d %v: status not in docs/openapi.yaml", route, status, out)
		return
	}
	loc := specURL + "#" + ptr + "/content/application~1json/schema"
	sch, ok := s.schemas[loc]
	if !ok {
		var err error
		if sch, err = s.compiler.Compile(loc); err != nil {
			t.Fatalf("Compile(%s) err = %v, want nil", loc, err)
		}
		s.schemas[loc] = sch
	}
	b, _ := json.Marshal(out)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("UnmarshalJSON(body) err = %v, want nil", err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s %d body %v does not match the spec (code %q): %v", route, status, out, code(out), err)
	}
	headers, _ := r["headers"].(map[string]any)
	for name := range headers {
		if _, ok := hdr[name]; !ok && name != "Idempotent-Replayed" {
			t.Errorf("%s %d: documented header %s missing (headers %v)", route, status, name, hdr)
		}
	}
}

// injectFault makes the sandbox provider answer the next sends to to with
// fault (see devstack/sandbox).
func injectFault(t *testing.T, e *env, to string, fault map[string]any) {
	t.Helper()
	fault["to"] = to
	b, _ := json.Marshal(fault)
	resp, err := http.Post(e.st.SandboxURL+"/_sandbox/faults", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("inject fault: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("inject fault = %d", resp.StatusCode)
	}
}

// TestOpenAPIResponses checks the handler's real responses, on the local
// stack, against docs/openapi.yaml: every status it answers is documented
// for the route and every body (error codes included) matches its schema.
func TestOpenAPIResponses(t *testing.T) {
	e := newEnv(t)
	s := loadSpec(t)
	const msgs, consents, query = "POST /v1/messages", "POST /v1/consents", "POST /v1/consents/query"
	idemKey := func(to string) string { return "oas-" + to[1:] }
	send := func(to string, headers ...string) {
		status, out, hdr := e.call(t, msgs, e.key, template(to, "marketing"), headers...)
		s.check(t, msgs, status, out, hdr)
	}
	marketing := func(to string) { e.grant(t, to, "marketing") }
	fault := func(f map[string]any) func(string) {
		return func(to string) { marketing(to); injectFault(t, e, to, f) }
	}
	consent := func(to, action string) map[string]string {
		return map[string]string{"phone": to, "purpose": "marketing", "action": action, "method": "web_form", "policy_version": "2026-01"}
	}
	tests := []struct {
		name     string
		route    string
		setup    func(to string)
		key      string // "" the ops key, "-" none, else this key
		body     func(to string) any
		idem     bool // send Idempotency-Key idemKey(to)
		status   int
		code     string
		replayed bool
	}{
		{name: "sent", route: msgs, setup: marketing, body: func(to string) any { return template(to, "marketing") }, status: 202},
		{name: "malformed", route: msgs, body: func(string) any { return `{"to":` }, status: 400, code: "invalid_request"},
		{name: "unknown field", route: msgs, body: func(to string) any {
			return map[string]any{"to": to, "purpose": "otp", "text": "x", "cc": 1}
		}, status: 400, code: "invalid_request"},
		{name: "invalid phone", route: msgs, body: func(string) any { return template("+1555", "marketing") }, status: 400, code: "invalid_phone"},
		{name: "no key", route: msgs, key: "-", body: func(to string) any { return template(to, "marketing") }, status: 401, code: "unauthenticated"},
		{name: "wrong key", route: consents, key: "wg_ops_" + strings.Repeat("x", 48), body: func(to string) any { return consent(to, "grant") },
			status: 401, code: "unauthenticated"},
		{name: "no consent", route: msgs, body: func(to string) any { return template(to, "marketing") }, status: 403, code: "consent_required"},
		{name: "text outside the window", route: msgs, setup: marketing, body: func(to string) any {
			return map[string]any{"to": to, "purpose": "marketing", "text": "hello"}
		}, status: 422, code: "template_required"},
		{name: "provider 131050", route: msgs, setup: fault(map[string]any{"code": 131050}),
			body: func(to string) any { return template(to, "marketing") }, status: 403, code: "recipient_suppressed"},
		{name: "provider 131026", route: msgs, setup: fault(map[string]any{"code": 131026}),
			body: func(to string) any { return template(to, "marketing") }, status: 422, code: "undeliverable"},
		{name: "provider 130429", route: msgs, setup: fault(map[string]any{"code": 130429, "count": 4}),
			body: func(to string) any { return template(to, "marketing") }, status: 429, code: "upstream_rate_limited"},
		{name: "provider 500", route: msgs, setup: fault(map[string]any{"status": 500, "count": 4}),
			body: func(to string) any { return template(to, "marketing") }, status: 502, code: "provider_error"},
		{name: "rate limited", route: msgs, setup: func(to string) {
			e.grant(t, to, "otp")
			for range 3 { // RATE_LIMIT_OTP is 3 in newEnv
				status, out, hdr := e.call(t, msgs, e.key, template(to, "otp"))
				s.check(t, msgs, status, out, hdr)
			}
		}, body: func(to string) any { return template(to, "otp") }, status: 429, code: "rate_limited"},
		{name: "bad idempotency key", route: msgs, setup: marketing, body: func(to string) any { return template(to, "marketing") },
			idem: true, status: 400, code: "invalid_request"},
		{name: "idempotent replay", route: msgs, setup: func(to string) { marketing(to); send(to, "idempotency-key", idemKey(to)) },
			body: func(to string) any { return template(to, "marketing") }, idem: true, status: 202, replayed: true},
		{name: "idempotency conflict", route: msgs, setup: func(to string) { marketing(to); send(to, "idempotency-key", idemKey(to)) },
			body: func(to string) any {
				b := template(to, "marketing")
				b["template"].(map[string]any)["name"] = "another"
				return b
			}, idem: true, status: 409, code: "idempotency_conflict"},
		{name: "consent granted", route: consents, body: func(to string) any { return consent(to, "grant") }, status: 201},
		{name: "consent bad action", route: consents, body: func(to string) any {
			b := consent(to, "grant")
			b["action"] = "maybe"
			return b
		}, status: 400, code: "invalid_request"},
		{name: "consent invalid phone", route: consents, body: func(string) any { return consent("0044", "grant") }, status: 400, code: "invalid_phone"},
		{name: "query", route: query, setup: func(to string) {
			marketing(to)
			e.call(t, consents, e.key, consent(to, "revoke"))
		}, body: func(to string) any { return map[string]string{"phone": to} }, status: 200},
		{name: "query unknown number", route: query, body: func(to string) any { return map[string]string{"phone": to} }, status: 200},
		{name: "query unknown field", route: query, body: func(to string) any { return map[string]string{"phone": to, "x": "y"} },
			status: 400, code: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := number(t)
			if tc.setup != nil {
				tc.setup(to)
			}
			key := e.key
			if tc.key == "-" {
				key = ""
			} else if tc.key != "" {
				key = tc.key
			}
			var headers []string
			if tc.idem {
				k := idemKey(to)
				if tc.code == "invalid_request" {
					k = "bad\x01key"
				}
				headers = []string{"idempotency-key", k}
			}
			status, out, hdr := e.call(t, tc.route, key, tc.body(to), headers...)
			if status != tc.status || code(out) != tc.code {
				t.Fatalf("%s = %d %v, want %d %q", tc.route, status, out, tc.status, tc.code)
			}
			if got := hdr["Idempotent-Replayed"] == "true"; got != tc.replayed {
				t.Errorf("Idempotent-Replayed = %q, want replayed %v", hdr["Idempotent-Replayed"], tc.replayed)
			}
			s.check(t, tc.route, status, out, hdr)
		})
	}
}

// TestOpenAPISpec checks that every documented response of the send routes
// has a schema that compiles.
func TestOpenAPISpec(t *testing.T) {
	s := loadSpec(t)
	paths, _ := s.doc["paths"].(map[string]any)
	for _, path := range []string{"/v1/messages", "/v1/consents", "/v1/consents/query"} {
		op, _ := paths[path].(map[string]any)
		post, _ := op["post"].(map[string]any)
		responses, _ := post["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Fatalf("spec has no responses for POST %s", path)
		}
		for status := range responses {
			n, err := strconv.Atoi(status)
			if err != nil {
				t.Fatalf("POST %s: response key %q is not a status", path, status)
			}
			_, ptr, _ := s.response("POST "+path, n)
			if _, err := s.compiler.Compile(specURL + "#" + ptr + "/content/application~1json/schema"); err != nil {
				t.Errorf("POST %s %d: Compile err = %v, want nil", path, n, err)
			}
		}
	}
}
