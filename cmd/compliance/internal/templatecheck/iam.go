package templatecheck

import (
	"fmt"
	"strings"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/devstack/samtemplate"
)

const functionType = "AWS::Serverless::Function"

// auditWrites are the IAM actions that change or remove audit items or
// the table itself; only dynamodb:PutItem may write to the audit table.
var auditWrites = []string{
	"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
	"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete",
	"dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
	"dynamodb:UpdateContinuousBackups", "dynamodb:RestoreTableToPointInTime",
	"dynamodb:ImportTable", "dynamodb:DeleteResourcePolicy", "dynamodb:PutResourcePolicy",
}

// readOnlyPolicyTemplates are the SAM policy templates that cannot write.
var readOnlyPolicyTemplates = map[string]bool{"DynamoDBReadPolicy": true, "DynamoDBStreamReadPolicy": true}

// statement is one Allow statement and the role that holds it.
type statement struct {
	role, sid          string
	actions, resources []string
	notAction          bool
}

// grant is a permission outside inline statements: a managed policy or a
// SAM policy template, which the check judges by name.
type grant struct{ role, name, params string }

func (t *Template) auditTableID() string {
	for _, fn := range t.Functions() {
		if id := refTarget(fn.Env["AUDIT_TABLE"]); t.typeOf(id) == tableType {
			return id
		}
	}
	if t.typeOf("AuditTable") == tableType {
		return "AuditTable"
	}
	return ""
}

func (t *Template) checkAuditAppendOnly() []checklist.Finding {
	const id = checklist.DataAuditAppend
	audit := t.auditTableID()
	if audit == "" {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, "no audit table (AUDIT_TABLE) in the template")}
	}
	sts, grants, roles, problems := t.policies()
	covers := t.coversTable(audit)
	putters, readers := map[string]bool{}, map[string]bool{}
	for _, s := range sts {
		if !anyOf(s.resources, covers) {
			continue
		}
		if s.notAction {
			problems = append(problems, s.role+"/"+s.sid+" uses NotAction on "+audit)
		}
		for _, a := range s.actions {
			if w := matchesAny(a, auditWrites); w != "" {
				problems = append(problems, fmt.Sprintf("%s/%s grants %s on %s", s.role, s.sid, w, audit))
			} else if strings.EqualFold(a, "dynamodb:PutItem") {
				putters[s.role] = true
			} else if strings.HasPrefix(strings.ToLower(a), "dynamodb:") {
				readers[a+" ("+s.role+")"] = true
			}
		}
	}
	for _, g := range grants {
		if g.params == "" && writeCapableManaged(g.name) {
			problems = append(problems, fmt.Sprintf("%s has managed policy %s, which can write to every table", g.role, g.name))
		}
		if g.params != "" && strings.Contains(g.params, audit) && !readOnlyPolicyTemplates[g.name] {
			problems = append(problems, fmt.Sprintf("%s grants %s on %s", g.role, g.name, audit))
		}
	}
	if len(problems) > 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(problems, "; "))}
	}
	ev := fmt.Sprintf("%s: dynamodb:PutItem from %d of %d roles (%s); no UpdateItem, DeleteItem or BatchWriteItem from any role",
		audit, len(putters), roles, list(sorted(putters), 5))
	if len(readers) > 0 {
		ev += "; reads: " + list(sorted(readers), 4)
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, ev)}
}

// policies collects every Allow statement and named grant of every role
// the template declares: functions' Policies and IAM roles and policies.
// A function whose Role is outside the template cannot be checked.
func (t *Template) policies() (sts []statement, grants []grant, roles int, problems []string) {
	for _, fn := range t.ids(functionType) {
		roles++
		p := t.props(fn)
		if r, ok := p["Role"]; ok && t.typeOf(refTarget(str(r))) != "AWS::IAM::Role" {
			problems = append(problems, fn+" uses a Role outside the template, which cannot be checked")
		}
		pols, _ := p["Policies"].([]any)
		if s, ok := p["Policies"].(string); ok {
			pols = []any{s}
		}
		for _, pol := range pols {
			s, g := policyEntry(fn, pol)
			sts, grants = append(sts, s...), append(grants, g...)
		}
	}
	for _, typ := range []string{"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"} {
		for _, id := range t.ids(typ) {
			if typ == "AWS::IAM::Role" {
				roles++
			}
			p := t.props(id)
			sts = append(sts, statements(id, field(p, "PolicyDocument"))...)
			inline, _ := p["Policies"].([]any)
			for _, pol := range inline {
				sts = append(sts, statements(id, field(pol, "PolicyDocument"))...)
			}
			for _, arn := range samtemplate.Strings(p["ManagedPolicyArns"]) {
				grants = append(grants, grant{role: id, name: arn})
			}
		}
	}
	return sts, grants, roles, problems
}

// policyEntry reads one entry of a SAM function's Policies: an inline
// document, a managed policy name or ARN, or a SAM policy template.
func policyEntry(role string, pol any) ([]statement, []grant) {
	switch p := pol.(type) {
	case string:
		return nil, []grant{{role: role, name: p}}
	case map[string]any:
		if _, ok := p["Statement"]; ok {
			return statements(role, p), nil
		}
		var out []grant
		for name, params := range p {
			out = append(out, grant{role: role, name: name, params: fmt.Sprint(params) + " "})
		}
		return nil, out
	}
	return nil, nil
}

func statements(role string, doc any) []statement {
	sts, _ := field(doc, "Statement").([]any)
	if m, ok := field(doc, "Statement").(map[string]any); ok {
		sts = []any{m}
	}
	var out []statement
	for i, st := range sts {
		m, _ := st.(map[string]any)
		if m["Effect"] != "Allow" {
			continue
		}
		s := statement{role: role, sid: fmt.Sprintf("Statement[%d]", i), actions: samtemplate.Strings(m["Action"]), resources: samtemplate.Strings(m["Resource"])}
		if sid, ok := m["Sid"].(string); ok {
			s.sid = sid
		}
		if na, ok := m["NotAction"]; ok {
			s.notAction, s.actions = true, append(s.actions, samtemplate.Strings(na)...)
		}
		if _, ok := m["NotResource"]; ok {
			s.resources = append(s.resources, "*")
		}
		out = append(out, s)
	}
	return out
}

// coversTable returns whether an IAM Resource can name the table: its
// placeholder, "*", or an ARN pattern matching its ARN, index or stream.
func (t *Template) coversTable(id string) func(string) bool {
	name := str(t.props(id)["TableName"])
	arn := "arn:aws:dynamodb:eu-west-2:123456789012:table/" + name
	return func(r string) bool {
		if refTarget(r) == id || strings.HasPrefix(r, "GetAtt("+id+".") || strings.HasPrefix(r, "Ref("+id+")") {
			return true
		}
		for _, target := range []string{arn, arn + "/index/x", arn + "/stream/x"} {
			if globMatch(r, target) {
				return true
			}
		}
		return false
	}
}

func writeCapableManaged(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"dynamodbfullaccess", "administratoraccess", "poweruseraccess"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func anyOf(vs []string, f func(string) bool) bool {
	for _, v := range vs {
		if f(v) {
			return true
		}
	}
	return false
}

// matchesAny returns the first action an IAM action pattern grants.
func matchesAny(pattern string, actions []string) string {
	for _, a := range actions {
		if globMatch(strings.ToLower(pattern), strings.ToLower(a)) {
			return a
		}
	}
	return ""
}

// globMatch matches IAM wildcards: * any run, ? one character.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
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
