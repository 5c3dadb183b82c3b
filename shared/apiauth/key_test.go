package apiauth

import (
	"strings"
	"testing"

	"github.com/waguard/waguard/shared/secrets"
)

func TestParseAuthorization(t *testing.T) {
	tests := []struct {
		name, header, wantID, wantKey string
	}{
		{"canonical", "Bearer wg_ops_abc", "ops", "abc"},
		{"lower-case scheme", "bearer wg_ops_abc", "ops", "abc"},
		{"mixed-case scheme", "bEaReR wg_ops_abc", "ops", "abc"},
		{"hyphenated id", "Bearer wg_billing-eu-1_abc", "billing-eu-1", "abc"},
		{"underscore in key", "Bearer wg_ops_a_b_c", "ops", "a_b_c"},
		{"b64token alphabet and padding", "Bearer wg_ops_aZ09-._~+/==", "ops", "aZ09-._~+/=="},
		{"longest id and key", "Bearer wg_" + strings.Repeat("a", 64) + "_" + strings.Repeat("k", MaxKeyLen),
			strings.Repeat("a", 64), strings.Repeat("k", MaxKeyLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, key, ok := parseAuthorization(tt.header)
			if !ok || id != tt.wantID || string(key) != tt.wantKey {
				t.Errorf("parseAuthorization(%q) = %q, %q, %v; want %q, %q, true", tt.header, id, key, ok, tt.wantID, tt.wantKey)
			}
		})
	}
	for _, tt := range malformedHeaders() {
		t.Run("malformed: "+tt.name, func(t *testing.T) {
			if id, _, ok := parseAuthorization(tt.header); ok {
				t.Errorf("parseAuthorization(%s) = %q, ok; want refused", tt.name, id)
			}
		})
	}
}

func TestPresentedKey(t *testing.T) {
	key := testKey("OpsCurrent")
	tests := []struct {
		name, clientID, key, want string
	}{
		{"valid", "ops", key, "wg_ops_" + key},
		{"invalid client id", "Ops", key, ""},
		{"client id with underscore", "o_ps", key, ""},
		{"empty key", "ops", "", ""},
		{"key with space", "ops", "a b", ""},
		{"key too long", "ops", strings.Repeat("k", MaxKeyLen+1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PresentedKey(tt.clientID, secrets.NewValue([]byte(tt.key)))
			if string(got.Reveal()) != tt.want {
				t.Fatalf("PresentedKey(%q, key) = %q, want %q", tt.clientID, got.Reveal(), tt.want)
			}
			if got.Empty() {
				return
			}
			id, k, ok := parseAuthorization("Bearer " + string(got.Reveal()))
			if !ok || id != tt.clientID || string(k) != tt.key {
				t.Errorf("parseAuthorization(Bearer PresentedKey) = %q, %v; want %q and the key", id, ok, tt.clientID)
			}
		})
	}
	if got := PresentedKey("ops", secrets.NewValue([]byte(key))).String(); got != "[secret]" {
		t.Errorf("PresentedKey(...).String() = %q, want [secret]", got)
	}
}

func TestPresentedKeyAuthenticates(t *testing.T) {
	a := newTestAuthenticator(t, newFakeSM(t))
	k := PresentedKey("ops", secrets.NewValue([]byte(testKey("OpsCurrent"))))
	p, err := a.Authenticate(t.Context(), "Bearer "+string(k.Reveal()))
	if err != nil || p.ClientID != "ops" {
		t.Errorf("Authenticate(Bearer PresentedKey) = %v, %v; want ops, nil", p, err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("Bearer wg_ops_" + testKey("OpsCurrent"))
	f.Add("bearer wg_a-b_c_d==")
	for _, tt := range malformedHeaders() {
		f.Add(tt.header)
	}
	f.Fuzz(func(t *testing.T, h string) {
		id, key, ok := parseAuthorization(h)
		if !ok {
			if id != "" || key != nil {
				t.Fatalf("parseAuthorization(%q) refused but returned %q, %q", h, id, key)
			}
			return
		}
		if !validClientID(id) || !validKey(key) || len(h) > maxHeaderLen {
			t.Fatalf("parseAuthorization(%q) accepted invalid id %q or key %q", h, id, key)
		}
		// Round trip: the header is the scheme plus exactly the presented key.
		presented := PresentedKey(id, secrets.NewValue(key))
		if !strings.EqualFold(h[:len(scheme)], scheme) || h[len(scheme):] != string(presented.Reveal()) {
			t.Fatalf("parseAuthorization(%q) = %q, %q; does not round-trip", h, id, key)
		}
	})
}

// FuzzAuthenticate checks the verifier: no header but one presenting an
// accepted key ever authenticates, and refusals are opaque.
func FuzzAuthenticate(f *testing.F) {
	valid := map[string]string{ // presented key → client ID
		"wg_ops_" + testKey("OpsCurrent"):             "ops",
		"wg_ops_" + testKey("OpsPrevious"):            "ops",
		"wg_settled_" + testKey("SettledCurrent"):     "settled",
		"wg_rotating_" + testKey("RotatingCurrent"):   "rotating",
		"wg_rotating_" + testKey("RotatingPending"):   "rotating",
		"wg_rotating_" + testKey("RotatingPrevious"):  "rotating",
		"wg_finished_" + testKey("FinishedCurrent"):   "finished",
		"wg_scoped_" + testKey("ScopedCurrent"):       "scoped",
		"wg_noscopes_" + testKey("NoScopesCurrent"):   "noscopes",
		"wg_wrongkind_" + testKey("WrongKindCurrent"): "",
		"wg_misnamed_" + testKey("MisnamedCurrent"):   "",
		"wg_badscopes_" + testKey("BadScopesCurrent"): "",
	}
	for k := range valid {
		f.Add("Bearer " + k)
	}
	f.Add("Bearer wg_settled_" + testKey("SettledPrevious"))
	f.Add("Bearer wg_shortkey_TestKeyShort")
	for _, tt := range malformedHeaders() {
		f.Add(tt.header)
	}
	a := newTestAuthenticator(f, newFakeSM(f))
	f.Fuzz(func(t *testing.T, h string) {
		p, err := a.Authenticate(t.Context(), h)
		if err == nil {
			if len(h) < len(scheme) || valid[h[len(scheme):]] == "" || valid[h[len(scheme):]] != p.ClientID {
				t.Fatalf("Authenticate(%q) = %v, nil; want refused", h, p)
			}
			return
		}
		misconfigured := false
		if len(h) >= len(scheme) {
			id, known := valid[h[len(scheme):]]
			misconfigured = known && id == ""
		}
		if err != ErrUnauthenticated && !misconfigured {
			t.Fatalf("Authenticate(%q) err = %v, want ErrUnauthenticated", h, err)
		}
		assertNoKey(t, err.Error(), h)
	})
}
