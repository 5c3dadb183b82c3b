package templatecheck

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/internal/loopback"
)

// apiTypes serve HTTPS only: API Gateway has no plain-HTTP endpoint.
var apiTypes = []string{"AWS::Serverless::HttpApi", "AWS::Serverless::Api", "AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi"}

// plainProbes are URLs an https-only parameter's AllowedPattern must refuse.
var plainProbes = []string{"http://graph.facebook.com", "http://example.com:80/v1", "http://10.0.0.1:8080"}

func (t *Template) checkHTTPS() []checklist.Finding {
	const id = checklist.APIHTTPS
	var apis, bad, notes []string
	for _, typ := range apiTypes {
		apis = append(apis, t.ids(typ)...)
	}
	if len(apis) == 0 {
		bad = append(bad, "no API Gateway API in the template")
	}
	for _, l := range t.ids("AWS::ElasticLoadBalancingV2::Listener") {
		if strings.EqualFold(str(t.props(l)["Protocol"]), "HTTP") {
			bad = append(bad, l+" listens on plain HTTP")
		}
	}
	for _, name := range t.params() {
		b, n := t.urlParam(name)
		bad, notes = append(bad, b...), append(notes, n...)
	}
	bad = append(bad, t.plainURLs()...)
	if len(bad) > 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, strings.Join(bad, "; "))}
	}
	ev := list(apis, 3) + " (API Gateway serves HTTPS only)"
	if len(notes) > 0 {
		ev += "; " + strings.Join(notes, "; ")
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template, ev)}
}

// urlParam checks a parameter whose default is a URL: the default must be
// https and its AllowedPattern must refuse plain-HTTP URLs. Loopback HTTP
// is the documented exception for the local WhatsApp sandbox.
func (t *Template) urlParam(name string) (bad, notes []string) {
	p := t.param(name)
	def := str(p["Default"])
	if !strings.HasPrefix(def, "http://") && !strings.HasPrefix(def, "https://") {
		return nil, nil
	}
	if !strings.HasPrefix(def, "https://") {
		return []string{name + " defaults to plain HTTP"}, nil
	}
	pattern := str(p["AllowedPattern"])
	if pattern == "" {
		return []string{name + " has no AllowedPattern, so a deploy could set a plain-HTTP URL"}, nil
	}
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	if err != nil {
		return []string{name + " has an AllowedPattern Go cannot compile: " + err.Error()}, nil
	}
	for _, probe := range plainProbes {
		if re.MatchString(probe) {
			return []string{name + "'s AllowedPattern accepts " + probe}, nil
		}
	}
	note := name + " defaults to https and its AllowedPattern refuses http://"
	if re.MatchString("http://127.0.0.1:8003") {
		note += " except loopback (local sandbox, documented)"
	}
	return nil, []string{note}
}

// plainURLs lists environment values and outputs that are plain-HTTP URLs
// to a host other than loopback.
func (t *Template) plainURLs() []string {
	var bad []string
	for _, fn := range t.Functions() {
		for k, v := range fn.Env {
			if plainRemote(v) {
				bad = append(bad, fn.LogicalID+" "+k+" is a plain-HTTP URL")
			}
		}
	}
	outs, _ := t.raw["Outputs"].(map[string]any)
	for name := range outs {
		if o, ok := t.tpl.CFN.Outputs[name]; ok && plainRemote(str(o.Value)) {
			bad = append(bad, "output "+name+" is a plain-HTTP URL")
		}
	}
	return bad
}

func plainRemote(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "http" {
		return false
	}
	return !loopback.IsHost(u.Hostname())
}

func (t *Template) httpAPI() (string, map[string]any) {
	ids := t.ids("AWS::Serverless::HttpApi")
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], t.props(ids[0])
}

func (t *Template) checkThrottling() []checklist.Finding {
	const id = checklist.APIThrottling
	api, p := t.httpAPI()
	if api == "" {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, "no AWS::Serverless::HttpApi in the template")}
	}
	rate, rok := num(field(p, "DefaultRouteSettings", "ThrottlingRateLimit"))
	burst, bok := num(field(p, "DefaultRouteSettings", "ThrottlingBurstLimit"))
	if !rok || !bok || rate <= 0 || burst <= 0 {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, api+": DefaultRouteSettings lacks a positive ThrottlingRateLimit and ThrottlingBurstLimit")}
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template,
		fmt.Sprintf("%s: %g requests/s, burst %g, on every route", api, rate, burst))}
}

// logLeaks are access-log variables (or fragments) that can carry request
// data: bodies, query strings, headers, raw paths, user agents.
var logLeaks = []string{"$input", "body", "querystring", "$context.path", "header", "useragent", "$request"}

func (t *Template) checkAccessLogs() []checklist.Finding {
	const id = checklist.APIAccessLogs
	api, p := t.httpAPI()
	if api == "" {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, "no AWS::Serverless::HttpApi in the template")}
	}
	dst := str(field(p, "AccessLogSettings", "DestinationArn"))
	format := str(field(p, "AccessLogSettings", "Format"))
	if dst == "" || format == "" {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, api+": no AccessLogSettings destination and format")}
	}
	for _, leak := range logLeaks {
		if strings.Contains(strings.ToLower(format), strings.ToLower(leak)) {
			return []checklist.Finding{checklist.Failf(id, checklist.Template, api+": access log format contains "+leak)}
		}
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, api+": access log format is not a JSON object")}
	}
	group := refTarget(dst)
	days, ok := num(t.props(group)["RetentionInDays"])
	if !ok {
		return []checklist.Finding{checklist.Failf(id, checklist.Template, api+": access log group "+group+" has no RetentionInDays")}
	}
	return []checklist.Finding{checklist.Passf(id, checklist.Template,
		fmt.Sprintf("%s logs %d fields to %s (kept %g days): no body, query string or header", api, len(fields), group, days))}
}
