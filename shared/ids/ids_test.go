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
