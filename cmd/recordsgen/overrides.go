package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// errOverride is the one error for a malformed override list; it never
// quotes the input, which may hold a message text.
var errOverride = errors.New("parameter overrides: want Name=Value pairs separated by spaces")

// parseOverrides reads a parameter-override list as `sam deploy
// --parameter-overrides` takes it: Name=Value pairs separated by
// whitespace, where a value may be wrapped in double quotes (inside which
// a backslash escapes the next character) to hold spaces. A later pair
// for the same name wins.
func parseOverrides(s string) (map[string]string, error) {
	out := map[string]string{}
	for s = strings.TrimLeft(s, " \t\r\n"); s != ""; s = strings.TrimLeft(s, " \t\r\n") {
		name, value, rest, err := nextOverride(s)
		if err != nil {
			return nil, err
		}
		out[name] = value
		s = rest
	}
	return out, nil
}

// nextOverride splits the first Name=Value pair off s.
func nextOverride(s string) (name, value, rest string, err error) {
	eq := strings.IndexByte(s, '=')
	if eq <= 0 || strings.ContainsAny(s[:eq], " \t\r\n\"") {
		return "", "", "", errOverride
	}
	name, s = s[:eq], s[eq+1:]
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, " \t\r\n")
		if end < 0 {
			end = len(s)
		}
		if strings.Contains(s[:end], `"`) {
			return "", "", "", errOverride
		}
		return name, s[:end], s[end:], nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			if i+1 < len(s) && !strings.ContainsRune(" \t\r\n", rune(s[i+1])) {
				return "", "", "", errOverride
			}
			return name, b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", "", errOverride
}

// formatOverrides writes params back in the form parseOverrides reads,
// sorted by name, quoting every value.
func formatOverrides(params map[string]string) string {
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		v := strings.ReplaceAll(params[n], `\`, `\\`)
		parts[i] = n + `="` + strings.ReplaceAll(v, `"`, `\"`) + `"`
	}
	return strings.Join(parts, " ")
}

// samconfig is what recordsgen needs from one environment of a SAM CLI
// configuration file.
type samconfig struct {
	Params map[string]string
	Region string
}

// readSamconfig reads environment env of a samconfig.toml: region and
// parameter_overrides from [env.deploy.parameters], falling back to
// [env.global.parameters], as `sam deploy --config-env env` does. It reads
// the subset of TOML that samconfig files use: [section] headers and
// one-line `key = value` pairs whose value is a basic or literal string,
// a one-line array of strings, a boolean or a number.
func readSamconfig(r io.Reader, env string) (samconfig, error) {
	sections := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				return samconfig{}, fmt.Errorf("samconfig line %d: malformed section header", n)
			}
			section = strings.TrimSpace(strings.Trim(line, "[]"))
		default:
			k, v, ok := strings.Cut(line, "=")
			vals, err := tomlValue(strings.TrimSpace(v))
			if !ok || err != nil {
				return samconfig{}, fmt.Errorf("samconfig line %d: want key = value", n)
			}
			if sections[section] == nil {
				sections[section] = map[string][]string{}
			}
			sections[section][strings.TrimSpace(k)] = vals
		}
	}
	if err := sc.Err(); err != nil {
		return samconfig{}, fmt.Errorf("read samconfig: %w", err)
	}
	return envConfig(sections, env)
}

// envConfig picks env's deploy settings out of the parsed sections.
func envConfig(sections map[string]map[string][]string, env string) (samconfig, error) {
	get := func(key string) ([]string, bool) {
		for _, s := range []string{env + ".deploy.parameters", env + ".global.parameters"} {
			if v, ok := sections[s][key]; ok {
				return v, true
			}
		}
		return nil, false
	}
	if _, ok := sections[env+".deploy.parameters"]; !ok {
		if _, ok := sections[env+".global.parameters"]; !ok {
			return samconfig{}, fmt.Errorf("samconfig: no environment %q", env)
		}
	}
	cfg := samconfig{Params: map[string]string{}}
	if v, ok := get("region"); ok && len(v) == 1 {
		cfg.Region = v[0]
	}
	overrides, _ := get("parameter_overrides")
	for _, o := range overrides {
		p, err := parseOverrides(o)
		if err != nil {
			return samconfig{}, err
		}
		for k, v := range p {
			cfg.Params[k] = v
		}
	}
	return cfg, nil
}

// tomlValue reads a one-line TOML value: a string, an array of strings,
// or a bare boolean or number (returned as written).
func tomlValue(v string) ([]string, error) {
	if strings.HasPrefix(v, "[") {
		if !strings.HasSuffix(v, "]") {
			return nil, errors.New("unterminated array")
		}
		var out []string
		for _, e := range splitArray(strings.TrimSpace(v[1 : len(v)-1])) {
			s, err := tomlString(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	if v == "" {
		return nil, errors.New("empty value")
	}
	if !strings.HasPrefix(v, `"`) && !strings.HasPrefix(v, "'") {
		return []string{v}, nil
	}
	s, err := tomlString(v)
	return []string{s}, err
}

// splitArray splits the inside of a one-line array at commas outside
// quotes; a trailing comma is allowed.
func splitArray(v string) []string {
	var out []string
	start, quote := 0, byte(0)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == ',':
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	if last := strings.TrimSpace(v[start:]); last != "" {
		out = append(out, last)
	}
	return out
}

// tomlString decodes a basic ("…", with escapes) or literal ('…') string.
func tomlString(v string) (string, error) {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' && !strings.Contains(v[1:len(v)-1], "'") {
		return v[1 : len(v)-1], nil
	}
	if len(v) >= 2 && v[0] == '"' {
		return strconv.Unquote(v)
	}
	return "", errors.New("not a string")
}
