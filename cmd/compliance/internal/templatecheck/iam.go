package templatecheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/internal/samtemplate"
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
	roles, problems := t.roles()
	covers := t.coversTable(audit)
	putters, readers := map[string]bool{}, map[string]bool{}
	for _, s := range t.tpl.Statements() {
		// A NotResource grants on every resource but those it names.
		resources := s.Resources
		if s.NotResources != nil {
			resources = append(slices.Clone(resources), "*")
		}
		if s.Effect != "Allow" || !slices.ContainsFunc(resources, covers) {
			continue
		}
		if s.NotActions != nil {
			problems = append(problems, s.String()+" uses NotAction on "+audit)
		}
		for _, a := range append(slices.Clone(s.Actions), s.NotActions...) {
			if w := matchesAny(a, auditWrites); w != "" {
				problems = append(problems, fmt.Sprintf("%s grants %s on %s", s, w, audit))
			} else if strings.EqualFold(a, "dynamodb:PutItem") {
				putters[s.Holder] = true
			} else if strings.HasPrefix(strings.ToLower(a), "dynamodb:") {
				readers[a+" ("+s.Holder+")"] = true
			}
		}
	}
	for _, g := range t.tpl.NamedPolicies() {
		if g.Params == "" && writeCapableManaged(g.Name) {
			problems = append(problems, fmt.Sprintf("%s has managed policy %s, which can write to every table", g.Holder, g.Name))
		}
		if g.Params != "" && strings.Contains(g.Params, audit) && !readOnlyPolicyTemplates[g.Name] {
			problems = append(problems, fmt.Sprintf("%s grants %s on %s", g.Holder, g.Name, audit))
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

// roles counts the roles the template declares (each function's and each
// IAM role) and reports a function whose Role is outside the template,
// which cannot be checked.
func (t *Template) roles() (roles int, problems []string) {
	for _, fn := range t.ids(functionType) {
		roles++
		if r, ok := t.props(fn)["Role"]; ok && t.typeOf(refTarget(str(r))) != "AWS::IAM::Role" {
			problems = append(problems, fn+" uses a Role outside the template, which cannot be checked")
		}
	}
	return roles + len(t.ids("AWS::IAM::Role")), problems
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
			if samtemplate.Glob(r, target) {
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

// matchesAny returns the first action an IAM action pattern grants.
func matchesAny(pattern string, actions []string) string {
	for _, a := range actions {
		if samtemplate.Glob(strings.ToLower(pattern), strings.ToLower(a)) {
			return a
		}
	}
	return ""
}
