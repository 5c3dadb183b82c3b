package bsuid

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// syntax is Meta's documented BSUID syntax, the reference Parse must agree with.
var syntax = regexp.MustCompile(`^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$`)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		parent   bool
		country  string
		redacted string
	}{
		{"meta example", "US.13491208655302741918", false, "US", "US.…(20)"},
		{"meta parent example", "US.ENT.11815799212886844830", true, "US", "US.ENT.…(20)"},
		{"other country", "BR.27381940563712094455", false, "BR", "BR.…(20)"},
		{"letters and digits", "IN.aB3xYz09", false, "IN", "IN.…(8)"},
		{"one character", "CO.7", false, "CO", "CO.…(1)"},
		{"longest", "US." + strings.Repeat("9", 128), false, "US", "US.…(128)"},
		{"longest parent", "US.ENT." + strings.Repeat("a", 128), true, "US", "US.ENT.…(128)"},
		{"ENT without its period is an id", "US.ENT", false, "US", "US.…(3)"},
		{"ENT glued to the id", "US.ENT1234", false, "US", "US.…(7)"},
		{"lower-case ent is an id", "US.ent", false, "US", "US.…(3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) err = %v, want nil", tt.in, err)
			}
			if id.Reveal() != tt.in || id.IsZero() || id.IsParent() != tt.parent || id.Country() != tt.country {
				t.Errorf("Parse(%q) = {Reveal %q IsParent %v Country %q}, want the input, parent %v, country %q",
					tt.in, id.Reveal(), id.IsParent(), id.Country(), tt.parent, tt.country)
			}
			if got := id.String(); got != tt.redacted {
				t.Errorf("String() = %q, want %q", got, tt.redacted)
			}
			if !syntax.MatchString(tt.in) {
				t.Errorf("reference syntax refuses %q, which Parse accepts", tt.in)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no id", "US."},
		{"no period", "US13491208655302741918"},
		{"lower-case country", "us.13491208655302741918"},
		{"one-letter country", "U.13491208655302741918"},
		{"three-letter country", "USA.13491208655302741918"},
		{"digit country", "U1.13491208655302741918"},
		{"parent without id", "US.ENT."},
		{"double parent", "US.ENT.ENT.1"},
		{"too long", "US." + strings.Repeat("9", 129)},
		{"parent too long", "US.ENT." + strings.Repeat("9", 129)},
		{"leading space", " US.13491208655302741918"},
		{"trailing newline", "US.13491208655302741918\n"},
		{"dash", "US.1349-1208"},
		{"underscore", "US.1349_1208"},
		{"second period", "US.1349.1208"},
		{"plus", "US.+13491208"},
		{"non-ASCII digit", "US.١٢٣"},
		{"non-ASCII letter", "US.ñ1"},
		{"NUL", "US.1\x00"},
		{"phone number", "+12025550142"},
		{"wa_id", "12025550142"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Parse(tt.in)
			if !errors.Is(err, ErrInvalid) || !id.IsZero() {
				t.Fatalf("Parse(%q) = %v, %v; want zero, ErrInvalid", tt.in, id, err)
			}
			if len(tt.in) > 3 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("Parse(%q) err = %q contains the input", tt.in, err)
			}
			if syntax.MatchString(tt.in) {
				t.Errorf("reference syntax accepts %q, which Parse refuses", tt.in)
			}
		})
	}
}

func TestZero(t *testing.T) {
	var id ID
	if id.Reveal() != "" || !id.IsZero() || id.IsParent() || id.Country() != "" || id.String() != "<none>" {
		t.Errorf("zero ID = {%q %v %v %q %q}, want empty, zero, not a parent, no country, <none>",
			id.Reveal(), id.IsZero(), id.IsParent(), id.Country(), id.String())
	}
}

func TestEqual(t *testing.T) {
	a, _ := Parse("US.aB3")
	b, _ := Parse("US.aB3")
	c, _ := Parse("US.ab3")
	if a != b || a == c || !a.Equal(b) || a.Equal(c) {
		t.Errorf("Parse(US.aB3) == Parse(US.aB3) is %v, == Parse(US.ab3) is %v; want true, false (case counts)", a == b, a == c)
	}
}

// sprintAll formats v with every common verb.
func sprintAll(v any) string {
	return fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%T", v, v, v, v, v, v, v, v, v)
}

func TestPrintingRevealsNothing(t *testing.T) {
	id, err := Parse("US.ENT.11815799212886844830")
	if err != nil {
		t.Fatalf("Parse() err = %v, want nil", err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("m", "user_id", id, "ptr", &id, "ids", []ID{id}, "in", struct{ ID ID }{id})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "user_id", id)
	out := sprintAll(id) + sprintAll(&id) + sprintAll([]ID{id}) + buf.String()
	for _, leak := range []string{"1181579921", "11815799212886844830", "3131383135"} { // digits, and their hex
		if strings.Contains(out, leak) {
			t.Errorf("printed ID contains %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(buf.String(), `"user_id":"US.ENT.…(20)"`) {
		t.Errorf("logged ID = %s, want US.ENT.…(20)", buf.String())
	}
}

// FuzzParse checks that Parse never panics, agrees with Meta's syntax,
// keeps an accepted value byte for byte, and never prints it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"US.13491208655302741918", "US.ENT.11815799212886844830", "US.ENT.", "us.1", "US.ENT", "IN.aB3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if ok := syntax.MatchString(s); ok != (err == nil) {
			t.Fatalf("Parse(%q) err = %v, reference syntax match = %v", s, err, ok)
		}
		if err != nil {
			if err != ErrInvalid || !id.IsZero() { // the fixed error itself, so it cannot hold the input
				t.Fatalf("Parse(%q) = %v, %v; want zero and exactly ErrInvalid", s, id, err)
			}
			return
		}
		if id.Reveal() != s || id.Country() != s[:2] || id.IsParent() != strings.HasPrefix(s[3:], "ENT.") {
			t.Fatalf("Parse(%q) = {%q %q %v}, want the input, its country and parent flag", s, id.Reveal(), id.Country(), id.IsParent())
		}
		prefix := s[:3]
		if id.IsParent() {
			prefix = s[:7]
		}
		if want := fmt.Sprintf("%s…(%d)", prefix, len(s)-len(prefix)); id.String() != want {
			t.Fatalf("String() = %q, want %q", id.String(), want)
		}
		if rest := s[len(prefix):]; len(rest) >= 4 && strings.Contains(sprintAll(id), rest) {
			t.Fatalf("printing %q reveals it: %s", s, sprintAll(id))
		}
	})
}
