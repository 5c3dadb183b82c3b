// Package settings is the one home of waguard's environment settings:
// every variable a function reads is declared here once ([All]), with its
// name, type, default and valid range, and read only through that
// declaration. Each function's loader (functions/<name>/config.go) reads
// the settings it uses once per cold start; a malformed or out-of-range
// value refuses the cold start with one error that names the variable.
//
// # Why one home
//
// A default written in two places drifts: API_KEY_OVERLAP_HOURS was 1 h
// in three functions and 24 h in the fourth, AUDIT_RETENTION_DAYS 1 day in
// one reader and 2190 in another, and several readers silently kept the
// default for a value they could not parse. A declaration here is the only
// default there is, and a test over functions/ and shared/ fails on any
// other reader of the environment.
//
// # Security properties
//
// Errors name the variable and what a valid value is, never the value:
// texts such as HELP_TEXT are the operator's, and nothing here should
// copy configuration into logs. Secrets are never settings: a setting
// holds a secret's id, and the function reads the value from Secrets
// Manager.
//
// # Non-goals
//
// It does not read files, flags or Secrets Manager, and it does not know
// the types of the packages that use a value (a retention class, a
// WhatsApp template): it returns plain values, and those packages check
// that its declarations agree with them in their tests.
package settings

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Getenv reads one variable of the environment: os.Getenv in main, a map
// in tests. An empty value is an unset one.
type Getenv = func(name string) string

// Spec is what the settings table (docs/configuration.md) says of one
// setting.
type Spec struct {
	// Name is the environment variable.
	Name string
	// Type is the kind of value: "integer", "duration", "text", "list",
	// "template", "one of".
	Type string
	// Default is the value used when it is unset ("" when required or
	// off).
	Default string
	// Valid says which values are accepted.
	Valid string
	// Doc is what it means.
	Doc string
}

// Setting is one declared environment variable.
type Setting interface {
	// Spec describes the setting for the settings table.
	Spec() Spec
}

// errorf returns the error of a refused value of the setting name: it
// names the setting and what it must be, never the value.
func errorf(name, format string, args ...any) error {
	return fmt.Errorf("config: %s must be %s", name, fmt.Sprintf(format, args...))
}

// Int is a whole number from Min to Max, Default when unset.
type Int struct {
	Name              string
	Default, Min, Max int
	// Unit is what the number counts, plural ("bytes", "messages").
	Unit string
	Doc  string
}

// Get reads s through getenv.
func (s Int) Get(getenv Getenv) (int, error) {
	v := strings.TrimSpace(getenv(s.Name))
	if v == "" {
		return s.Default, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < s.Min || n > s.Max {
		return 0, errorf(s.Name, "a whole number of %s from %d to %d", s.Unit, s.Min, s.Max)
	}
	return n, nil
}

// Spec describes s.
func (s Int) Spec() Spec {
	return Spec{Name: s.Name, Type: "integer", Default: strconv.Itoa(s.Default),
		Valid: fmt.Sprintf("%d to %d %s", s.Min, s.Max, s.Unit), Doc: s.Doc}
}

// Duration is a whole number of Unit (time.Second, time.Hour or 24 h) from
// Min to Max, Default when unset.
type Duration struct {
	Name              string
	Unit              time.Duration
	Default, Min, Max int
	Doc               string
}

// Get reads s through getenv.
func (s Duration) Get(getenv Getenv) (time.Duration, error) {
	n, err := Int{Name: s.Name, Default: s.Default, Min: s.Min, Max: s.Max, Unit: unitName(s.Unit)}.Get(getenv)
	return time.Duration(n) * s.Unit, err
}

// Spec describes s.
func (s Duration) Spec() Spec {
	return Spec{Name: s.Name, Type: "duration (" + unitName(s.Unit) + ")", Default: strconv.Itoa(s.Default),
		Valid: fmt.Sprintf("%d to %d", s.Min, s.Max), Doc: s.Doc}
}

func unitName(u time.Duration) string {
	switch u {
	case time.Second:
		return "seconds"
	case time.Minute:
		return "minutes"
	case time.Hour:
		return "hours"
	case 24 * time.Hour:
		return "days"
	}
	return u.String() + " units"
}

// String is a text value: Default when unset, refused when Required and
// unset, or when Valid (nil: any) refuses the trimmed value.
type String struct {
	Name, Default string
	Required      bool
	// Valid reports whether a set value is acceptable; Want says, for the
	// error and the table, what an acceptable value is.
	Valid func(string) bool
	Want  string
	Doc   string
}

// Get reads s through getenv, trimmed of surrounding space.
func (s String) Get(getenv Getenv) (string, error) {
	v := strings.TrimSpace(getenv(s.Name))
	switch {
	case v == "" && s.Required:
		return "", s.Missing()
	case v == "":
		return s.Default, nil
	case s.Valid != nil && !s.Valid(v):
		return "", errorf(s.Name, "%s", s.Want)
	}
	return v, nil
}

// Missing is the error of s when a function requires it and it is unset.
func (s String) Missing() error { return errorf(s.Name, "set (%s)", s.Want) }

// Spec describes s.
func (s String) Spec() Spec {
	def := s.Default
	if s.Required {
		def = "(required)"
	}
	return Spec{Name: s.Name, Type: "text", Default: def, Valid: s.Want, Doc: s.Doc}
}

// List is a comma-separated list, each item trimmed, blanks dropped:
// Default when unset, refused when set but without any item.
type List struct {
	Name    string
	Default []string
	Doc     string
}

// Get reads s through getenv.
func (s List) Get(getenv Getenv) ([]string, error) {
	v := getenv(s.Name)
	if strings.TrimSpace(v) == "" {
		return append([]string(nil), s.Default...), nil
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	if len(out) == 0 {
		return nil, errorf(s.Name, "a comma-separated list with at least one item")
	}
	return out, nil
}

// Spec describes s.
func (s List) Spec() Spec {
	return Spec{Name: s.Name, Type: "list", Default: strings.Join(s.Default, ","), Valid: "comma-separated, blanks dropped", Doc: s.Doc}
}

// OneOf is one of Values, Default when unset.
type OneOf struct {
	Name, Default string
	Values        []string
	Doc           string
}

// Get reads s through getenv.
func (s OneOf) Get(getenv Getenv) (string, error) {
	v := strings.TrimSpace(getenv(s.Name))
	if v == "" {
		return s.Default, nil
	}
	for _, ok := range s.Values {
		if v == ok {
			return v, nil
		}
	}
	return "", errorf(s.Name, "one of %s", strings.Join(s.Values, ", "))
}

// Spec describes s.
func (s OneOf) Spec() Spec {
	return Spec{Name: s.Name, Type: "one of", Default: s.Default, Valid: strings.Join(s.Values, ", "), Doc: s.Doc}
}

// Template names a WhatsApp message template as "name:language"; unset
// means none.
type Template struct {
	Name string
	Doc  string
}

// TemplateRef is a template's name and language code.
type TemplateRef struct{ Name, Language string }

// Get reads s through getenv: the zero TemplateRef when unset.
func (s Template) Get(getenv Getenv) (TemplateRef, error) {
	v := strings.TrimSpace(getenv(s.Name))
	if v == "" {
		return TemplateRef{}, nil
	}
	name, lang, ok := strings.Cut(v, ":")
	if !ok || !printable(name, 512) || !printable(lang, 16) {
		return TemplateRef{}, errorf(s.Name, "name:language")
	}
	return TemplateRef{Name: name, Language: lang}, nil
}

// Spec describes s.
func (s Template) Spec() Spec {
	return Spec{Name: s.Name, Type: "template", Default: "", Valid: "name:language (empty: none)", Doc: s.Doc}
}

// printable reports whether s is 1 to max printable ASCII characters without
// spaces.
func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Join reads every setting through its read function and joins the
// errors, so that a cold start names every wrong setting at once. Use it
// as
//
//	err := settings.Join(
//		settings.Read(&c.Overlap, settings.APIKeyOverlapHours.Get, getenv),
//		…)
func Join(errs ...error) error { return errors.Join(errs...) }

// Read stores the value of a setting's Get in *dst and returns its error;
// *dst is left unchanged on error.
func Read[T any](dst *T, get func(Getenv) (T, error), getenv Getenv) error {
	v, err := get(getenv)
	if err == nil {
		*dst = v
	}
	return err
}
