package templatecheck

import (
	"fmt"
	"sort"
	"strings"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
)

const (
	kmsKeyType   = "AWS::KMS::Key"
	kmsAliasType = "AWS::KMS::Alias"
	tableType    = "AWS::DynamoDB::Table"
)

// noPITR lists the tables documented to run without point-in-time
// recovery, and why. Such a table must say so explicitly (false).
var noPITR = map[string]string{
	"KeysTable": "deleted subject keys must not be restorable, or erasure would not be final (docs/crypto.md)",
}

func (t *Template) checkKMSRotation() []checklist.Finding {
	const id = checklist.DataKMSRotation
	keys := t.ids(kmsKeyType)
	if len(keys) == 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, "no AWS::KMS::Key in the template")}
	}
	var on, exempt, bad []string
	for _, k := range keys {
		p := t.props(k)
		spec := str(p["KeySpec"])
		switch {
		case spec != "" && spec != "SYMMETRIC_DEFAULT":
			exempt = append(exempt, k+" ("+spec+")")
		case p["EnableKeyRotation"] == true:
			on = append(on, k)
		default:
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, list(bad, 4)+": EnableKeyRotation is not true")}
	}
	ev := list(on, 4) + ": EnableKeyRotation true"
	if len(exempt) > 0 {
		ev += "; " + list(exempt, 4) + " not rotatable by KMS (asymmetric or HMAC)"
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, ev)}
}

// isTemplateKey reports whether v names a KMS key or alias of the template.
func (t *Template) isTemplateKey(v string) (string, bool) {
	target := refTarget(v)
	switch t.typeOf(target) {
	case kmsKeyType:
		return target, true
	case kmsAliasType:
		return refTarget(str(t.props(target)["TargetKeyId"])), true
	}
	for _, a := range t.ids(kmsAliasType) {
		if v != "" && v == str(t.props(a)["AliasName"]) {
			return refTarget(str(t.props(a)["TargetKeyId"])), true
		}
	}
	return "", false
}

func (t *Template) checkSSE() []checklist.Finding {
	const id = checklist.DataTableSSE
	tables := t.ids(tableType)
	if len(tables) == 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, "no AWS::DynamoDB::Table in the template")}
	}
	keys := map[string]bool{}
	var bad []string
	for _, tb := range tables {
		sse, _ := t.props(tb)["SSESpecification"].(map[string]any)
		key, ok := t.isTemplateKey(str(sse["KMSMasterKeyId"]))
		switch {
		case sse == nil:
			bad = append(bad, tb+": no SSESpecification (AWS-owned key)")
		case sse["SSEEnabled"] != true || str(sse["SSEType"]) != "KMS":
			bad = append(bad, fmt.Sprintf("%s: SSEEnabled %v, SSEType %q (want true, KMS)", tb, sse["SSEEnabled"], str(sse["SSEType"])))
		case !ok:
			bad = append(bad, tb+": KMSMasterKeyId is not a customer-managed key of this template")
		default:
			keys[key] = true
		}
	}
	if len(bad) > 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(bad, "; "))}
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template,
		fmt.Sprintf("%d/%d tables SSE KMS with %s", len(tables), len(tables), list(sorted(keys), 3)))}
}

func (t *Template) checkPITR() []checklist.Finding {
	const id = checklist.DataPITR
	tables := t.ids(tableType)
	var on, exempt, bad []string
	for _, tb := range tables {
		v, set := field(t.props(tb), "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled").(bool)
		why, documented := noPITR[tb]
		switch {
		case set && v:
			on = append(on, tb)
		case documented && set && !v:
			exempt = append(exempt, tb+" off by design: "+why)
		case documented:
			bad = append(bad, tb+": PointInTimeRecoveryEnabled must be explicitly false (documented exception)")
		default:
			bad = append(bad, tb+": PointInTimeRecoveryEnabled is not true")
		}
	}
	if len(bad) > 0 || len(tables) == 0 {
		if len(tables) == 0 {
			bad = append(bad, "no AWS::DynamoDB::Table in the template")
		}
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(bad, "; "))}
	}
	ev := list(on, 4) + ": PITR on"
	if len(exempt) > 0 {
		ev += "; " + strings.Join(exempt, "; ")
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, ev)}
}

func (t *Template) checkTTL() []checklist.Finding {
	const id = checklist.DataTTL
	tables := t.ids(tableType)
	var on, bad []string
	for _, tb := range tables {
		ttl, _ := t.props(tb)["TimeToLiveSpecification"].(map[string]any)
		if ttl["Enabled"] == true && str(ttl["AttributeName"]) != "" {
			on = append(on, tb+" ("+str(ttl["AttributeName"])+")")
			continue
		}
		bad = append(bad, tb+": TimeToLiveSpecification not enabled")
	}
	if len(bad) > 0 || len(tables) == 0 {
		if len(tables) == 0 {
			bad = append(bad, "no AWS::DynamoDB::Table in the template")
		}
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(bad, "; "))}
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, "TTL on: "+list(on, 4))}
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
