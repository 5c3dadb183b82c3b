package ids

import (
	"regexp"
	"testing"
)

// TestNew checks the shape (the prefix, 24 base32 characters) and that
// two ids differ.
func TestNew(t *testing.T) {
	shape := regexp.MustCompile(`^msg_[A-Z2-7]{24}$`)
	a, b := New("msg_"), New("msg_")
	if !shape.MatchString(a) || !shape.MatchString(b) || a == b {
		t.Errorf("New() = %q, %q; want two different msg_ ids of 24 base32 characters", a, b)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{New("cev_"), true},
		{"cev_ABCDEFGHIJKLMNOPQRSTUVWX", true},
		{"cev_ABCDEFGHIJKLMNOPQRSTUVW", false},   // 23
		{"cev_ABCDEFGHIJKLMNOPQRSTUVWXY", false}, // 25
		{"cev_abcdefghijklmnopqrstuvwx", false},  // lower case
		{"cev_ABCDEFGHIJKLMNOPQRSTUVW1", false},  // 1 is not base32
		{"msg_ABCDEFGHIJKLMNOPQRSTUVWX", false},  // another kind
		{"", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.s, "cev_"); got != tt.want {
			t.Errorf("Valid(%q, cev_) = %v, want %v", tt.s, got, tt.want)
		}
	}
	if !Shaped("ct_ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ct_", 26) {
		t.Errorf("Shaped(a contact id, ct_, 26) = false, want true")
	}
}
