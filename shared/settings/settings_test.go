package settings

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

// TestInt: defaults, overrides, malformed and out-of-range values; an
// error names the setting and never the value.
func TestInt(t *testing.T) {
	s := Int{Name: "N", Default: 10, Min: 1, Max: 100, Unit: "messages"}
	tests := []struct {
		v       string
		want    int
		wantErr bool
	}{
		{"", 10, false}, {"  ", 10, false}, {"1", 1, false}, {" 100 ", 100, false},
		{"0", 0, true}, {"101", 0, true}, {"-5", 0, true}, {"1.5", 0, true}, {"ten", 0, true}, {"1e2", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := s.Get(env(map[string]string{"N": tt.v}))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Int.Get(%q) = %d, %v; want %d, error %v", tt.v, got, err, tt.want, tt.wantErr)
		}
		if err != nil && (!strings.Contains(err.Error(), "N must be") || (len(tt.v) > 3 && strings.Contains(err.Error(), tt.v))) {
			t.Errorf("Int.Get(%q) err = %q, want one naming N and not the value", tt.v, err)
		}
	}
}

// TestDuration: a whole number of the unit.
func TestDuration(t *testing.T) {
	s := Duration{Name: "D", Unit: time.Hour, Default: 24, Min: 1, Max: 720}
	tests := []struct {
		v       string
		want    time.Duration
		wantErr bool
	}{
		{"", 24 * time.Hour, false}, {"1", time.Hour, false}, {"720", 720 * time.Hour, false},
		{"0", 0, true}, {"721", 0, true}, {"24h", 0, true}, {"1.5", 0, true},
	}
	for _, tt := range tests {
		got, err := s.Get(env(map[string]string{"D": tt.v}))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Duration.Get(%q) = %v, %v; want %v, error %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestString: required, default, validity; trimmed.
func TestString(t *testing.T) {
	req := String{Name: "R", Required: true, Valid: awsID, Want: "a secret name or ARN"}
	opt := String{Name: "O", Default: "def", Valid: hostName.MatchString, Want: "a host name"}
	tests := []struct {
		s       String
		v       string
		want    string
		wantErr bool
	}{
		{req, "", "", true}, {req, " ", "", true}, {req, "waguard/dev/x", "waguard/dev/x", false}, {req, " a b ", "", true},
		{opt, "", "def", false}, {opt, "api.example.com", "api.example.com", false}, {opt, "https://api.example.com", "", true},
		{opt, "a.example.com\r\nX: 1", "", true},
	}
	for _, tt := range tests {
		got, err := tt.s.Get(env(map[string]string{tt.s.Name: tt.v}))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s.Get(%q) = %q, %v; want %q, error %v", tt.s.Name, tt.v, got, err, tt.want, tt.wantErr)
		}
		if err != nil && len(strings.TrimSpace(tt.v)) > 3 && strings.Contains(err.Error(), strings.TrimSpace(tt.v)) {
			t.Errorf("%s.Get(%q) err = %q contains the value", tt.s.Name, tt.v, err)
		}
	}
}

// TestList: comma-separated, trimmed, blanks dropped; a list of blanks is
// refused (it would silently disable what the list turns on).
func TestList(t *testing.T) {
	s := List{Name: "L", Default: []string{"Stop promotions"}}
	tests := []struct {
		v       string
		want    string
		wantErr bool
	}{
		{"", "Stop promotions", false}, {"a, b,, c ", "a|b|c", false}, {" , ", "", true},
	}
	for _, tt := range tests {
		got, err := s.Get(env(map[string]string{"L": tt.v}))
		if strings.Join(got, "|") != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("List.Get(%q) = %q, %v; want %q, error %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
	got, _ := s.Get(env(nil))
	got[0] = "changed"
	if again, _ := s.Get(env(nil)); again[0] != "Stop promotions" {
		t.Errorf("List.Get() shares its default: %q", again)
	}
}

// TestOneOf and TestTemplate: the enumerations and "name:language".
func TestOneOf(t *testing.T) {
	s := OneOf{Name: "C", Default: "support", Values: []string{"support", "otp"}}
	for v, want := range map[string]string{"": "support", "otp": "otp", "OTP": "", "forever": ""} {
		got, err := s.Get(env(map[string]string{"C": v}))
		if got != want || (err != nil) != (want == "") {
			t.Errorf("OneOf.Get(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
}

func TestTemplate(t *testing.T) {
	s := Template{Name: "T"}
	tests := []struct {
		v       string
		want    TemplateRef
		wantErr bool
	}{
		{"", TemplateRef{}, false}, {"optin:en_US", TemplateRef{"optin", "en_US"}, false}, {" optin:de ", TemplateRef{"optin", "de"}, false},
		{"optin", TemplateRef{}, true}, {":en", TemplateRef{}, true}, {"opt in:en", TemplateRef{}, true}, {"optin:", TemplateRef{}, true},
		{"optin:" + strings.Repeat("x", 17), TemplateRef{}, true},
	}
	for _, tt := range tests {
		got, err := s.Get(env(map[string]string{"T": tt.v}))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Template.Get(%q) = %+v, %v; want %+v, error %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestDeclarations: every setting is declared once, its default is valid
// by its own rule, and its spec is complete.
func TestDeclarations(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range All() {
		sp := s.Spec()
		if seen[sp.Name] {
			t.Errorf("%s is declared twice", sp.Name)
		}
		seen[sp.Name] = true
		if sp.Name == "" || sp.Type == "" || sp.Doc == "" {
			t.Errorf("%+v: want a name, a type and a doc", sp)
		}
		if _, err := readDefault(s); err != nil {
			t.Errorf("%s: its default is refused by its own rule: %v", sp.Name, err)
		}
	}
}

// readDefault reads s from an environment where it is unset (a required
// setting gets a valid sample instead).
func readDefault(s Setting) (any, error) {
	unset := env(nil)
	switch s := s.(type) {
	case Int:
		return s.Get(unset)
	case Duration:
		return s.Get(unset)
	case String:
		if s.Required {
			return nil, nil
		}
		if s.Default != "" && s.Valid != nil && !s.Valid(s.Default) {
			return nil, errorf(s.Name, "valid")
		}
		return s.Get(unset)
	case List:
		return s.Get(unset)
	case OneOf:
		if s.Default == "" {
			return nil, nil
		}
		return s.Get(env(map[string]string{s.Name: s.Default}))
	case Template:
		return s.Get(unset)
	}
	return nil, errorf(s.Spec().Name, "of a known kind")
}

func TestBaseURL(t *testing.T) {
	for v, ok := range map[string]bool{
		"https://graph.facebook.com": true, "https://graph.facebook.com/": true, "http://127.0.0.1:8003": true,
		"http://127.0.0.1": false, "http://graph.facebook.com": false, "https://graph.facebook.com/v21.0": false,
		"https://u:p@graph.facebook.com": false, "https://graph.facebook.com?x=1": false, "https://graph.facebook.com#f": false,
		"ftp://graph.facebook.com": false, "graph.facebook.com": false,
	} {
		if baseURL(v) != ok {
			t.Errorf("baseURL(%q) = %v, want %v", v, !ok, ok)
		}
	}
}
