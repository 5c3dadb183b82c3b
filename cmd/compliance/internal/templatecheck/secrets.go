package templatecheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
)

const (
	secretType   = "AWS::SecretsManager::Secret"
	scheduleType = "AWS::SecretsManager::RotationSchedule"
	maxDays      = 90
)

// unrotatedKinds are the secret kinds that are never rotated, and why.
var unrotatedKinds = map[string]string{
	"index-key":     "rotating it orphans every partition (docs/crypto.md)",
	"pseudonym-key": "rotating it orphans every audit pseudonym (docs/crypto.md)",
}

// SecretKind returns the "kind" of a secret's generated JSON template, or "".
func (t *Template) SecretKind(id string) string {
	var doc struct{ Kind string }
	_ = json.Unmarshal([]byte(str(field(t.props(id), "GenerateSecretString", "SecretStringTemplate"))), &doc)
	return doc.Kind
}

// Rotatable reports whether the secret must be on a rotation schedule.
func (t *Template) Rotatable(id string) bool {
	_, never := unrotatedKinds[t.SecretKind(id)]
	return !never
}

// Secrets maps each secret's logical ID to its resolved Name.
func (t *Template) Secrets() map[string]string {
	out := map[string]string{}
	for _, id := range t.ids(secretType) {
		out[id] = str(t.props(id)["Name"])
	}
	return out
}

func (t *Template) checkSecretRotation() []checklist.Finding {
	const id = checklist.DataSecretRotation
	schedules := map[string]string{} // secret → schedule logical ID
	for _, s := range t.ids(scheduleType) {
		schedules[refTarget(str(t.props(s)["SecretId"]))] = s
	}
	var ok, exempt, bad []string
	for _, sec := range t.ids(secretType) {
		sched, has := schedules[sec]
		why, never := unrotatedKinds[t.SecretKind(sec)]
		switch {
		case never && has:
			bad = append(bad, sec+" has "+sched+", but "+why)
		case never:
			exempt = append(exempt, sec)
		case !has:
			bad = append(bad, sec+": no RotationSchedule")
		default:
			if d, err := t.scheduleDays(sched); err != nil {
				bad = append(bad, sched+": "+err.Error())
			} else {
				ok = append(ok, fmt.Sprintf("%s %d d", sec, d))
			}
		}
	}
	if len(bad) > 0 || len(ok) == 0 {
		if len(ok)+len(bad) == 0 {
			bad = append(bad, "no rotatable secret in the template")
		}
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(bad, "; "))}
	}
	ev := "rotated: " + list(ok, 4)
	if len(exempt) > 0 {
		ev += "; never rotated by design: " + list(exempt, 3) + " (docs/crypto.md)"
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, ev)}
}

// scheduleDays returns a schedule's interval in days, and an error when it
// exceeds 90 days, has no rotation function, or could be deployed above
// 90 days through a parameter without a bound.
func (t *Template) scheduleDays(id string) (int, error) {
	p := t.props(id)
	if p["RotationLambdaARN"] == nil && p["HostedRotationLambda"] == nil {
		return 0, fmt.Errorf("no rotation function")
	}
	rules, _ := p["RotationRules"].(map[string]any)
	var days int
	switch {
	case rules["AutomaticallyAfterDays"] != nil:
		d, err := strconv.ParseFloat(str(rules["AutomaticallyAfterDays"]), 64)
		if err != nil {
			return 0, fmt.Errorf("AutomaticallyAfterDays %q is not a number", str(rules["AutomaticallyAfterDays"]))
		}
		days = int(d)
	case rules["ScheduleExpression"] != nil:
		d, ok := ParseRateDays(str(rules["ScheduleExpression"]))
		if !ok {
			return 0, fmt.Errorf("ScheduleExpression %q is not rate(N days)", str(rules["ScheduleExpression"]))
		}
		days = d
	default:
		return 0, fmt.Errorf("no RotationRules")
	}
	if days < 1 || days > maxDays {
		return days, fmt.Errorf("rotates every %d days (want 1..%d)", days, maxDays)
	}
	return days, t.boundedParam(id)
}

// boundedParam fails when the schedule's days come from a parameter that a
// deploy could set above 90.
func (t *Template) boundedParam(schedule string) error {
	name, _ := field(t.rawProps(schedule), "RotationRules", "AutomaticallyAfterDays", "Ref").(string)
	if name == "" {
		return nil
	}
	p := t.param(name)
	if v, ok := num(p["MaxValue"]); ok && v <= maxDays {
		return nil
	}
	if vals, ok := p["AllowedValues"].([]any); ok && len(vals) > 0 {
		for _, a := range vals {
			if v, ok := num(a); !ok || v > maxDays {
				return fmt.Errorf("parameter %s allows %v days", name, a)
			}
		}
		return nil
	}
	return fmt.Errorf("parameter %s has no MaxValue or AllowedValues of at most %d", name, maxDays)
}

func num(v any) (float64, bool) {
	f, err := strconv.ParseFloat(str(v), 64)
	return f, v != nil && err == nil
}

var rateExpr = regexp.MustCompile(`^rate\(([0-9]{1,6}) (days?|hours?)\)$`)

// ParseRateDays returns the interval of a Secrets Manager rate expression
// in whole days, rounded up: "rate(30 days)" is 30, "rate(4 hours)" is 1.
func ParseRateDays(expr string) (int, bool) {
	m := rateExpr.FindStringSubmatch(expr)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[1])
	if strings.HasPrefix(m[2], "hour") {
		return (n + 23) / 24, true
	}
	return n, true
}

var (
	secretishName = regexp.MustCompile(`(?i)SECRET|TOKEN|PASSWORD|CREDENTIAL|PRIVATE|(^|_)KEY(_|$)`)
	tokenValue    = regexp.MustCompile(`^[A-Za-z0-9+/=_-]{24,}$`)
	integerValue  = regexp.MustCompile(`^[0-9]+$`)
)

// LooksLikeSecret flags long mixed-case tokens with digits, and PEM blocks.
func LooksLikeSecret(v string) bool {
	if strings.Contains(v, "-----BEGIN") {
		return true
	}
	return tokenValue.MatchString(v) && strings.ContainsAny(v, "0123456789") &&
		strings.ToLower(v) != v && strings.ToUpper(v) != v
}

// namesSecret reports whether a secret-like variable names a secret or key
// (a Ref to one, or a secret-name prefix) or is a count, rather than holding one.
func (t *Template) namesSecret(name, value string) bool {
	switch t.typeOf(refTarget(value)) {
	case secretType, kmsKeyType, kmsAliasType:
		return strings.HasPrefix(value, "Ref(") || strings.HasPrefix(value, "GetAtt(")
	}
	if strings.HasSuffix(name, "_PREFIX") {
		return strings.HasSuffix(value, "/")
	}
	return integerValue.MatchString(value)
}

func (t *Template) checkEnvironment() []checklist.Finding {
	const id = checklist.DataNoEnvSecrets
	var bad, byID []string
	vars := 0
	for _, fn := range t.Functions() {
		for name, value := range fn.Env {
			vars++
			switch {
			case LooksLikeSecret(value):
				bad = append(bad, fn.LogicalID+" "+name+" holds a value that looks like a secret")
			case secretishName.MatchString(name) && !t.namesSecret(name, value):
				bad = append(bad, fn.LogicalID+" "+name+" is not a reference to a secret or key")
			case t.typeOf(refTarget(value)) == secretType:
				byID = append(byID, name)
			}
		}
	}
	for _, sec := range t.ids(secretType) {
		if _, ok := t.props(sec)["SecretString"]; ok {
			bad = append(bad, sec+" has a SecretString literal in the template")
		}
	}
	if len(bad) > 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(uniqueSorted(bad), "; "))}
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, fmt.Sprintf(
		"%d variables across %d functions hold no secret value; secrets passed by id (%s); no SecretString literal",
		vars, len(t.Functions()), list(uniqueSorted(byID), 4)))}
}

func uniqueSorted(vs []string) []string {
	set := map[string]bool{}
	for _, v := range vs {
		set[v] = true
	}
	return sorted(set)
}
