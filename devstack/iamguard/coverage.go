package iamguard

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/waguard/waguard/internal/samtemplate"
)

// Use is one call the local stack allowed a function's role: its action
// on a resource, with the request's condition keys (for KMS,
// kms:EncryptionContext:<key>).
type Use struct {
	Function string            `json:"function"`
	Action   string            `json:"action"`
	Resource string            `json:"resource"`
	Context  map[string]string `json:"context,omitempty"`
}

// key identifies u among the recorded uses.
func (u Use) key() string {
	var b strings.Builder
	b.WriteString(u.Function + "\x00" + strings.ToLower(u.Action) + "\x00" + u.Resource)
	for _, k := range slices.Sorted(maps.Keys(u.Context)) {
		b.WriteString("\x00" + k + "=" + u.Context[k])
	}
	return b.String()
}

// Grant is one action on one resource that a statement of a function's
// role allows, with the statement's conditions: the unit the coverage
// check counts, since a statement's lists are a cross product.
type Grant struct {
	Function     string              `json:"function"`
	Sid          string              `json:"sid"`
	Action       string              `json:"action"`
	Resource     string              `json:"resource"`
	StringEquals map[string][]string `json:"string_equals,omitempty"`
}

// String names the grant for a report, e.g. "EraseFunction/KeysTable
// dynamodb:PutItem on arn:...:table/waguard-dev-keys".
func (g Grant) String() string {
	s := fmt.Sprintf("%s/%s %s on %s", g.Function, g.Sid, g.Action, g.Resource)
	for _, k := range slices.Sorted(maps.Keys(g.StringEquals)) {
		s += fmt.Sprintf(" if %s=%s", k, strings.Join(g.StringEquals[k], "|"))
	}
	return s
}

// ExercisedBy reports whether u is a call of g's function that g allows.
func (g Grant) ExercisedBy(u Use) bool {
	st := Statement{Actions: []string{g.Action}, Resources: []string{g.Resource}, StringEquals: g.StringEquals}
	return u.Function == g.Function && Policy{st}.AllowsWith(u.Action, u.Resource, u.Context)
}

// Grants lists every grant of every function's role in the resolved
// template, in template order.
func Grants(t *samtemplate.Template) ([]Grant, error) {
	byFunction, err := functionPolicies(t)
	if err != nil {
		return nil, err
	}
	var out []Grant
	for _, fn := range slices.Sorted(maps.Keys(byFunction)) {
		for _, st := range byFunction[fn] {
			for _, a := range st.Actions {
				for _, r := range st.Resources {
					out = append(out, Grant{Function: fn, Sid: st.Sid, Action: a, Resource: r, StringEquals: st.StringEquals})
				}
			}
		}
	}
	return out, nil
}

// Usage is what the local stack reports for the coverage check: the
// template's grants, resolved to the stack's ARNs, and the calls it
// allowed the functions since it started.
type Usage struct {
	Grants []Grant `json:"grants"`
	Uses   []Use   `json:"uses"`
}

// Exemption accepts grants that no local emulator can exercise, with the
// reason; [Exemptions] is the reviewed list.
type Exemption struct {
	// Function, Sid and Action select the grants (all three required).
	Function, Sid, Action string
	// Resource, when set, is a pattern (* and ?) the grant's resource
	// must match; empty selects every resource of the statement.
	Resource string
	// StandIn, when set, is a pattern of resources on which a test must
	// have made the same call as the same function, for a grant whose
	// own resource the tests cannot touch safely: the exemption then
	// excuses the resource, never the action.
	StandIn string
	// Reason says why no test on the local stack can exercise it.
	Reason string
}

func (e Exemption) String() string {
	s := e.Function + "/" + e.Sid + " " + e.Action
	if e.Resource != "" {
		s += " on " + e.Resource
	}
	if e.StandIn != "" {
		s += " (stand-in " + e.StandIn + ")"
	}
	return s
}

// standInUsed reports whether some use is g's call on a stand-in resource.
func (e Exemption) standInUsed(g Grant, uses []Use) bool {
	return slices.ContainsFunc(uses, func(u Use) bool {
		return u.Function == g.Function && strings.EqualFold(u.Action, g.Action) && samtemplate.Glob(e.StandIn, u.Resource)
	})
}

// valid reports whether e selects grants and gives a reason.
func (e Exemption) valid() bool {
	return e.Function != "" && e.Sid != "" && e.Action != "" && strings.TrimSpace(e.Reason) != ""
}

func (e Exemption) covers(g Grant) bool {
	return e.valid() && e.Function == g.Function && e.Sid == g.Sid && strings.EqualFold(e.Action, g.Action) &&
		(e.Resource == "" || samtemplate.Glob(e.Resource, g.Resource))
}

// Exempt is a grant no test exercised that an [Exemption] accepts.
type Exempt struct {
	Grant  Grant
	Reason string
}

// Report is the outcome of [Check].
type Report struct {
	// Grants counts the template's grants; Exercised those some use matched.
	Grants, Exercised int
	// Unexercised are grants no test exercised and nothing exempts: the
	// template allows more than the code was seen to do.
	Unexercised []Grant
	// Exempt are grants no test exercised that an exemption accepts.
	Exempt []Exempt
	// NoStandIn are grants whose exemption needs a call on a stand-in
	// resource that no test made.
	NoStandIn []Exempt
	// Stale are exemptions that accept no unexercised grant (the grant is
	// gone, or a test now exercises it): the list must shrink with them.
	Stale []Exemption
	// Invalid are exemptions without a reason or a selector.
	Invalid []Exemption
}

// OK reports whether the check passes: every grant exercised or exempt,
// and every exemption still needed and well formed.
func (r Report) OK() bool {
	return len(r.Unexercised) == 0 && len(r.NoStandIn) == 0 && len(r.Stale) == 0 && len(r.Invalid) == 0
}

// Check matches the grants against the uses and the exemptions.
func Check(grants []Grant, uses []Use, exemptions []Exemption) Report {
	rep := Report{Grants: len(grants)}
	needed := make([]bool, len(exemptions))
	for i, e := range exemptions {
		if !e.valid() {
			rep.Invalid = append(rep.Invalid, e)
			needed[i] = true // reported once, as invalid
		}
	}
	for _, g := range grants {
		if slices.ContainsFunc(uses, g.ExercisedBy) {
			rep.Exercised++
			continue
		}
		i := slices.IndexFunc(exemptions, func(e Exemption) bool { return e.covers(g) })
		if i < 0 {
			rep.Unexercised = append(rep.Unexercised, g)
			continue
		}
		needed[i] = true
		if e := exemptions[i]; e.StandIn != "" && !e.standInUsed(g, uses) {
			rep.NoStandIn = append(rep.NoStandIn, Exempt{Grant: g, Reason: "no call on a stand-in " + e.StandIn})
			continue
		}
		rep.Exempt = append(rep.Exempt, Exempt{Grant: g, Reason: exemptions[i].Reason})
	}
	for i, e := range exemptions {
		if !needed[i] {
			rep.Stale = append(rep.Stale, e)
		}
	}
	return rep
}
