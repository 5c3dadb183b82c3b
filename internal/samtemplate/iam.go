package samtemplate

import (
	"fmt"
	"slices"
	"strings"
)

// Statement is one statement of an IAM policy document the template
// declares, resolved: the one model of an IAM statement that the template
// tests, the compliance check and the local stack's IAM enforcement
// share.
type Statement struct {
	// Holder is the logical ID of the function or IAM resource (role,
	// policy) whose policy holds the statement.
	Holder string
	// Sid is its Sid, or "Statement[i]" by its position in its document.
	Sid string
	// Effect is "Allow" or "Deny".
	Effect string
	// Actions and Resources are its Action and Resource lists, wildcards
	// (* and ?) kept; NotActions and NotResources its NotAction and
	// NotResource lists, nil when it has none.
	Actions, Resources, NotActions, NotResources []string
	// StringEquals holds its StringEquals conditions: condition key to the
	// values one of which the request's must equal.
	StringEquals map[string][]string
	// Condition is its whole Condition block as the template gives it (nil
	// without one), for a caller that must refuse the operators it does
	// not understand.
	Condition map[string]any
}

// String names the statement for a report, e.g. "SendFunction/DataTable".
func (s Statement) String() string { return s.Holder + "/" + s.Sid }

// Allows reports whether the statement, read as an Allow, grants action
// on resource to a request with the condition keys ctx (for KMS,
// kms:EncryptionContext:<key>): some action and some resource match, and
// the request meets every StringEquals condition. Actions compare
// case-insensitively, resources case-sensitively, as IAM does. NotAction,
// NotResource and other condition operators are not evaluated.
func (s Statement) Allows(action, resource string, ctx map[string]string) bool {
	return matchAny(s.Actions, strings.ToLower(action), true) && matchAny(s.Resources, resource, false) && s.meets(ctx)
}

// meets reports whether ctx satisfies the statement's StringEquals
// conditions.
func (s Statement) meets(ctx map[string]string) bool {
	for k, want := range s.StringEquals {
		v, ok := ctx[k]
		if !ok || !slices.Contains(want, v) {
			return false
		}
	}
	return true
}

func matchAny(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		if Glob(p, v) {
			return true
		}
	}
	return false
}

// Glob matches IAM's wildcards: * any run of characters (including none
// and "/"), ? one character. It compares bytes as they are; callers fold
// case where IAM does.
func Glob(pattern, v string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(v) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == v[i]):
			p, i = p+1, i+1
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// NamedPolicy is a permission granted by name rather than by statements:
// a managed policy (its name or ARN), or a SAM policy template with its
// parameters.
type NamedPolicy struct {
	// Holder is the logical ID of the function or IAM role that has it.
	Holder string
	// Name is the managed policy's name or ARN, or the policy template's.
	Name string
	// Params are a policy template's parameters, printed and followed by
	// a space (so that "Ref(X) " cannot match "Ref(XY)"); "" for a
	// managed policy.
	Params string
}

// iamTypes are the IAM resource types whose policies [Template.Statements]
// reads, besides functions'.
var iamTypes = []string{"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}

// Statements returns every statement of every policy the template
// declares: each function's Policies (sorted by logical ID), then each IAM
// role's and policy's, in document order.
func (t *Template) Statements() []Statement {
	var out []Statement
	for _, fn := range t.ResourceIDs("AWS::Serverless::Function") {
		for _, pol := range t.policyEntries(fn) {
			if m, ok := pol.(map[string]any); ok && m["Statement"] != nil {
				out = append(out, statements(fn, m)...)
			}
		}
	}
	for _, typ := range iamTypes {
		for _, id := range t.ResourceIDs(typ) {
			p := t.properties(id)
			out = append(out, statements(id, p["PolicyDocument"])...)
			inline, _ := p["Policies"].([]any)
			for _, pol := range inline {
				m, _ := pol.(map[string]any)
				out = append(out, statements(id, m["PolicyDocument"])...)
			}
		}
	}
	return out
}

// NamedPolicies returns every permission granted by name: the managed
// policies and SAM policy templates of functions' Policies, and the
// ManagedPolicyArns of IAM resources.
func (t *Template) NamedPolicies() []NamedPolicy {
	var out []NamedPolicy
	for _, fn := range t.ResourceIDs("AWS::Serverless::Function") {
		for _, pol := range t.policyEntries(fn) {
			switch p := pol.(type) {
			case string:
				out = append(out, NamedPolicy{Holder: fn, Name: p})
			case map[string]any:
				if p["Statement"] != nil {
					continue
				}
				for _, name := range sortedKeys(p) {
					out = append(out, NamedPolicy{Holder: fn, Name: name, Params: fmt.Sprint(p[name]) + " "})
				}
			}
		}
	}
	for _, typ := range iamTypes {
		for _, id := range t.ResourceIDs(typ) {
			for _, arn := range Strings(t.properties(id)["ManagedPolicyArns"]) {
				out = append(out, NamedPolicy{Holder: id, Name: arn})
			}
		}
	}
	return out
}

// policyEntries returns the entries of a function's Policies: a list, or
// one entry given alone.
func (t *Template) policyEntries(fn string) []any {
	p := t.properties(fn)["Policies"]
	if l, ok := p.([]any); ok {
		return l
	}
	if p == nil {
		return nil
	}
	return []any{p}
}

func (t *Template) properties(id string) map[string]any {
	p, _ := t.Resource(id)["Properties"].(map[string]any)
	return p
}

// statements reads a policy document's statements: a list, or one
// statement given alone.
func statements(holder string, doc any) []Statement {
	d, _ := doc.(map[string]any)
	sts, _ := d["Statement"].([]any)
	if m, ok := d["Statement"].(map[string]any); ok {
		sts = []any{m}
	}
	out := make([]Statement, 0, len(sts))
	for i, raw := range sts {
		m, _ := raw.(map[string]any)
		s := Statement{Holder: holder, Sid: fmt.Sprintf("Statement[%d]", i), Effect: str(m["Effect"]),
			Actions: Strings(m["Action"]), Resources: Strings(m["Resource"]),
			NotActions: Strings(m["NotAction"]), NotResources: Strings(m["NotResource"])}
		if sid, ok := m["Sid"].(string); ok {
			s.Sid = sid
		}
		if c, ok := m["Condition"].(map[string]any); ok {
			s.Condition = c
			eq, _ := c["StringEquals"].(map[string]any)
			for _, k := range sortedKeys(eq) {
				if s.StringEquals == nil {
					s.StringEquals = map[string][]string{}
				}
				s.StringEquals[k] = Strings(eq[k])
			}
		}
		out = append(out, s)
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
