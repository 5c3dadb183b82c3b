// Package apispec checks a handler's real responses against the API's
// contract, docs/openapi.yaml (OpenAPI 3.1, JSON Schema 2020-12): every
// status a route answers must be documented for it, every body must
// validate against that response's schema, and every documented header
// must be present. The send and erase functions' tests use it, so the
// document cannot drift from the code.
//
// # Non-goals
//
// It validates responses, not requests, and knows only the parts of
// OpenAPI the spec uses (paths, responses, $ref into components).
package apispec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// specURL names the document inside the schema compiler; refs such as
// "#/components/schemas/Error" resolve against the whole document.
const specURL = "https://waguard.invalid/docs/openapi.json"

// Spec is the loaded document with its response schemas compiled on
// demand. It is not safe for concurrent use.
type Spec struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

// Load reads the OpenAPI document at path (YAML) or fails t.
func Load(t testing.TB, path string) *Spec {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read spec: %v", err)
	}
	var y any
	if err := yaml.Unmarshal(b, &y); err != nil {
		t.Fatalf("yaml.Unmarshal(%s) err = %v, want nil", path, err)
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
	return &Spec{doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}}
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

// operation splits a route key such as "GET /v1/erasure-requests/{id}"
// into its JSON pointer, "/paths/~1v1~1erasure-requests~1{id}/get".
func operation(route string) string {
	method, path, _ := strings.Cut(route, " ")
	return "/paths/" + escape(path) + "/" + strings.ToLower(method)
}

// response returns the spec's response object for route and status and
// its JSON pointer, following a $ref into #/components/responses.
func (s *Spec) response(route string, status int) (map[string]any, string, bool) {
	ptr := operation(route) + "/responses/" + strconv.Itoa(status)
	r, ok := s.lookup(ptr)
	if ref, isRef := r["$ref"].(string); ok && isRef && strings.HasPrefix(ref, "#/") {
		ptr = ref[1:]
		r, ok = s.lookup(ptr)
	}
	return r, ptr, ok
}

func (s *Spec) lookup(ptr string) (map[string]any, bool) {
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

// Check fails t unless the spec documents status for route ("POST
// /v1/messages"), the body validates against that response's schema and
// the documented headers are present (optional ones named in optional
// may be absent).
func (s *Spec) Check(t testing.TB, route string, status int, body map[string]any, headers map[string]string, optional ...string) {
	t.Helper()
	r, ptr, ok := s.response(route, status)
	if !ok {
		t.Errorf("%s answered %d %v: status not in docs/openapi.yaml", route, status, body)
		return
	}
	sch, err := s.schema(ptr)
	if err != nil {
		t.Fatalf("Compile(%s) err = %v, want nil", ptr, err)
	}
	b, _ := json.Marshal(body)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("UnmarshalJSON(body) err = %v, want nil", err)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s %d body %v does not match the spec (code %q): %v", route, status, body, Code(body), err)
	}
	documented, _ := r["headers"].(map[string]any)
	for name := range documented {
		if _, ok := headers[name]; !ok && !contains(optional, name) {
			t.Errorf("%s %d: documented header %s missing (headers %v)", route, status, name, headers)
		}
	}
}

func (s *Spec) schema(ptr string) (*jsonschema.Schema, error) {
	loc := specURL + "#" + ptr + "/content/application~1json/schema"
	if sch, ok := s.schemas[loc]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(loc)
	if err == nil {
		s.schemas[loc] = sch
	}
	return sch, err
}

// CheckCompiles fails t unless every documented response of route has a
// schema that compiles, and route has at least one.
func (s *Spec) CheckCompiles(t testing.TB, route string) {
	t.Helper()
	responses, ok := s.lookup(operation(route) + "/responses")
	if !ok || len(responses) == 0 {
		t.Fatalf("spec has no responses for %s", route)
	}
	for status := range responses {
		n, err := strconv.Atoi(status)
		if err != nil {
			t.Fatalf("%s: response key %q is not a status", route, status)
		}
		_, ptr, _ := s.response(route, n)
		if _, err := s.schema(ptr); err != nil {
			t.Errorf("%s %d: Compile err = %v, want nil", route, n, err)
		}
	}
}

// Code is the error code of an error body ("" for any other body).
func Code(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
