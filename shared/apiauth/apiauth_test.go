package apiauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/settings"
)

var allScopes = []Scope{ScopeMessagesSend, ScopeConsentsWrite, ScopeConsentsRead, ScopeSubjectsErase, ScopeSubjectsExport}

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    Principal
		wantErr error // nil, ErrUnauthenticated or ErrUnavailable
	}{
		{name: "current key", header: bearer("ops", "OpsCurrent"),
			want: Principal{ClientID: "ops", Scopes: allScopes, KeyVersion: KeyVersionCurrent}},
		{name: "lower-case scheme", header: "bearer wg_ops_" + testKey("OpsCurrent"),
			want: Principal{ClientID: "ops", Scopes: allScopes, KeyVersion: KeyVersionCurrent}},
		{name: "upper-case scheme", header: "BEARER wg_ops_" + testKey("OpsCurrent"),
			want: Principal{ClientID: "ops", Scopes: allScopes, KeyVersion: KeyVersionCurrent}},
		{name: "previous key within overlap", header: bearer("ops", "OpsPrevious"),
			want: Principal{ClientID: "ops", Scopes: allScopes, KeyVersion: KeyVersionPrevious}},
		{name: "previous key after overlap", header: bearer("settled", "SettledPrevious"), wantErr: ErrUnauthenticated},
		{name: "current key after overlap", header: bearer("settled", "SettledCurrent"),
			want: Principal{ClientID: "settled", Scopes: []Scope{ScopeConsentsRead}, KeyVersion: KeyVersionCurrent}},
		{name: "pending key", header: bearer("rotating", "RotatingPending"),
			want: Principal{ClientID: "rotating", Scopes: []Scope{ScopeMessagesSend}, KeyVersion: KeyVersionPending}},
		{name: "current key during rotation", header: bearer("rotating", "RotatingCurrent"),
			want: Principal{ClientID: "rotating", Scopes: []Scope{ScopeMessagesSend}, KeyVersion: KeyVersionCurrent}},
		{name: "previous key during rotation", header: bearer("rotating", "RotatingPrevious"),
			want: Principal{ClientID: "rotating", Scopes: []Scope{ScopeMessagesSend}, KeyVersion: KeyVersionPrevious}},
		{name: "pending label left on current", header: bearer("finished", "FinishedCurrent"),
			want: Principal{ClientID: "finished", Scopes: []Scope{ScopeSubjectsExport}, KeyVersion: KeyVersionCurrent}},
		{name: "unknown scopes ignored, duplicates dropped", header: bearer("scoped", "ScopedCurrent"),
			want: Principal{ClientID: "scoped", Scopes: []Scope{ScopeConsentsRead, ScopeSubjectsErase}, KeyVersion: KeyVersionCurrent}},
		{name: "empty scopes", header: bearer("noscopes", "NoScopesCurrent"),
			want: Principal{ClientID: "noscopes", Scopes: []Scope{}, KeyVersion: KeyVersionCurrent}},
		{name: "wrong key", header: "Bearer wg_ops_" + testKey("OpsWrong"), wantErr: ErrUnauthenticated},
		{name: "key one byte short", header: bearer("ops", "OpsCurrent")[:len(bearer("ops", "OpsCurrent"))-1], wantErr: ErrUnauthenticated},
		{name: "key one byte long", header: bearer("ops", "OpsCurrent") + "0", wantErr: ErrUnauthenticated},
		{name: "another client's key", header: "Bearer wg_ops_" + testKey("SettledCurrent"), wantErr: ErrUnauthenticated},
		{name: "unknown client", header: "Bearer wg_nobody_" + testKey("OpsCurrent"), wantErr: ErrUnauthenticated},
		{name: "client id of another client", header: "Bearer wg_settled_" + testKey("OpsCurrent"), wantErr: ErrUnauthenticated},
		{name: "stored key too short", header: "Bearer wg_shortkey_TestKeyShort", wantErr: ErrUnauthenticated},
		{name: "no stored key", header: bearer("nokey", "NoKeyCurrent"), wantErr: ErrUnauthenticated},
		{name: "wrong kind with wrong key", header: bearer("wrongkind", "Wrong"), wantErr: ErrUnauthenticated},
		{name: "wrong kind", header: bearer("wrongkind", "WrongKindCurrent"), wantErr: ErrUnavailable},
		{name: "client_id differs from name", header: bearer("misnamed", "MisnamedCurrent"), wantErr: ErrUnavailable},
		{name: "scopes not a list", header: bearer("badscopes", "BadScopesCurrent"), wantErr: ErrUnavailable},
		{name: "secret not JSON", header: bearer("notjson", "NotJSON"), wantErr: ErrUnavailable},
	}
	for _, tt := range malformedHeaders() {
		tests = append(tests, struct {
			name    string
			header  string
			want    Principal
			wantErr error
		}{name: "malformed: " + tt.name, header: tt.header, wantErr: ErrUnauthenticated})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := newFakeSM(t)
			got, err := newTestAuthenticator(t, sm).Authenticate(t.Context(), tt.header)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Authenticate(%s) err = %v, want %v", tt.name, err, tt.wantErr)
			}
			if tt.wantErr == ErrUnauthenticated && err != ErrUnauthenticated {
				t.Errorf("Authenticate(%s) err = %v, want exactly ErrUnauthenticated (opaque)", tt.name, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Authenticate(%s) principal mismatch (-want +got):\n%s", tt.name, diff)
			}
			if err != nil {
				assertNoKey(t, err.Error(), tt.header)
			}
			if strings.HasPrefix(tt.name, "malformed") && sm.count() != 0 {
				t.Errorf("Authenticate(%s) made %d Secrets Manager calls, want 0", tt.name, sm.count())
			}
		})
	}
}

// malformedHeaders are Authorization values refused before any secret is
// read. "ops" and its current key would be valid if well formed.
func malformedHeaders() []struct{ name, header string } {
	key := testKey("OpsCurrent")
	return []struct{ name, header string }{
		{"missing", ""},
		{"basic", "Basic b3BzOlRlc3RLZXlPcHNDdXJyZW50"},
		{"bearer without key", "Bearer"},
		{"bearer and space without key", "Bearer "},
		{"no space after scheme", "Bearerwg_ops_" + key},
		{"two spaces after scheme", "Bearer  wg_ops_" + key},
		{"tab after scheme", "Bearer\twg_ops_" + key},
		{"leading space", " Bearer wg_ops_" + key},
		{"trailing space", "Bearer wg_ops_" + key + " "},
		{"trailing newline", "Bearer wg_ops_" + key + "\n"},
		{"space inside key", "Bearer wg_ops_" + key[:10] + " " + key[10:]},
		{"raw key without prefix", "Bearer " + key},
		{"prefix without client", "Bearer wg__" + key},
		{"no key part", "Bearer wg_ops_"},
		{"no separator", "Bearer wg_ops"},
		{"upper-case prefix", "Bearer WG_ops_" + key},
		{"upper-case client id", "Bearer wg_OPS_" + key},
		{"client id with slash", "Bearer wg_../ops_" + key},
		{"client id too long", "Bearer wg_" + strings.Repeat("a", 65) + "_" + key},
		{"key too long", "Bearer wg_ops_" + strings.Repeat("A", MaxKeyLen+1)},
		{"over-long header", "Bearer wg_ops_" + key + strings.Repeat("=", 4096)},
		{"padding inside key", "Bearer wg_ops_" + key[:10] + "=" + key[10:]},
		{"padding only", "Bearer wg_ops_=="},
		{"non-ASCII in key", "Bearer wg_ops_" + key + "é"},
		{"non-ASCII in client id", "Bearer wg_öps_" + key},
		{"non-ASCII scheme", "Beαrer wg_ops_" + key},
		{"NUL in key", "Bearer wg_ops_" + key + "\x00"},
		{"comma-joined duplicates", "Bearer wg_ops_" + key + ",Bearer wg_ops_" + key},
		{"two credentials", "Bearer wg_ops_" + key + " wg_ops_" + key},
		{"quoted key", `Bearer "wg_ops_` + key + `"`},
		{"invalid UTF-8", "Bearer wg_ops_" + key + "\xff"},
	}
}

func TestAuthenticateUnavailable(t *testing.T) {
	header := bearer("ops", "OpsCurrent")
	t.Run("Secrets Manager down", func(t *testing.T) {
		sm := newFakeSM(t)
		sm.setDown(errThrottled)
		_, err := newTestAuthenticator(t, sm).Authenticate(t.Context(), header)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Authenticate(SM down) err = %v, want ErrUnavailable", err)
		}
		assertNoKey(t, err.Error(), header)
	})
	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := newTestAuthenticator(t, newFakeSM(t)).Authenticate(ctx, header)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Authenticate(cancelled) err = %v, want ErrUnavailable wrapping context.Canceled", err)
		}
	})
	t.Run("down after the cache expires", func(t *testing.T) {
		sm := newFakeSM(t)
		a := newTestAuthenticator(t, sm)
		if _, err := a.Authenticate(t.Context(), header); err != nil {
			t.Fatalf("Authenticate(warm-up) err = %v, want nil", err)
		}
		sm.setDown(errThrottled)
		// Within the TTL the cached secret still answers.
		if _, err := a.Authenticate(t.Context(), header); err != nil {
			t.Errorf("Authenticate(cached, SM down) err = %v, want nil", err)
		}
		// An unknown client is not cached and is not mistaken for one.
		_, err := a.Authenticate(t.Context(), "Bearer wg_nobody_"+testKey("OpsCurrent"))
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("Authenticate(unknown client, SM down) err = %v, want ErrUnavailable", err)
		}
	})
}

// assertNoKey fails if out holds the key part of header, or the header.
// Shorter strings than 16 bytes are not checked: they may occur in the
// fixed text of an error ("unauthenticated").
func assertNoKey(t *testing.T, out, header string) {
	t.Helper()
	_, key, _ := strings.Cut(header, " ")
	if i := strings.LastIndexByte(key, '_'); i >= 0 {
		key = key[i+1:]
	}
	if len(key) >= 16 && strings.Contains(out, key) || len(header) >= 16 && strings.Contains(out, header) {
		t.Errorf("output %q reveals the presented key", out)
	}
}

func TestNew(t *testing.T) {
	store := newTestAuthenticator(t, newFakeSM(t)).store
	tests := []struct {
		name        string
		store       clientSecrets
		cfg         Config
		wantErr     bool
		wantOverlap time.Duration
	}{
		{"defaults", store, Config{SecretPrefix: testPrefix}, false, DefaultOverlap},
		{"overlap", store, Config{SecretPrefix: testPrefix, Overlap: time.Hour}, false, time.Hour},
		{"no store", nil, Config{SecretPrefix: testPrefix}, true, 0},
		{"no prefix", store, Config{}, true, 0},
		{"prefix without slash", store, Config{SecretPrefix: "waguard/test/clients"}, true, 0},
		{"negative overlap", store, Config{SecretPrefix: testPrefix, Overlap: -time.Second}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.store, tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%+v) err = %v, want error %v", tt.cfg, err, tt.wantErr)
			}
			if err == nil && a.overlap != tt.wantOverlap {
				t.Errorf("New(%+v) overlap = %v, want %v", tt.cfg, a.overlap, tt.wantOverlap)
			}
		})
	}
}

func TestOverlapConfig(t *testing.T) {
	sm := newFakeSM(t)
	a, err := New(newTestAuthenticator(t, sm).store, Config{SecretPrefix: testPrefix, Overlap: 30 * time.Minute})
	if err != nil {
		t.Fatalf("New err = %v, want nil", err)
	}
	// ops's current version is an hour old: past a 30-minute overlap.
	if _, err := a.Authenticate(t.Context(), bearer("ops", "OpsPrevious")); err != ErrUnauthenticated {
		t.Errorf("Authenticate(previous key, overlap passed) err = %v, want ErrUnauthenticated", err)
	}
}

func TestPrincipal(t *testing.T) {
	p := Principal{ClientID: "ops", Scopes: []Scope{ScopeMessagesSend, ScopeConsentsRead}, KeyVersion: KeyVersionPrevious}
	const want = "apiauth.Principal{client ops, scopes [messages:send consents:read]}"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d"} {
		if got := fmt.Sprintf(verb, p); got != want {
			t.Errorf("Sprintf(%s, p) = %q, want %q", verb, got, want)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("auth", "principal", p)
	if got, want := buf.String(), `"principal":{"client_id":"ops","scopes":["messages:send","consents:read"]}`; !strings.Contains(got, want) {
		t.Errorf("slog output = %s, want it to contain %s", got, want)
	}
	for _, s := range allScopes {
		want := s == ScopeMessagesSend || s == ScopeConsentsRead
		if got := p.Can(s); got != want {
			t.Errorf("Can(%v) = %v, want %v", s, got, want)
		}
	}
	if p.Can(ScopeUnknown) || (Principal{Scopes: []Scope{ScopeUnknown}}).Can(ScopeUnknown) || (Principal{}).Can(ScopeMessagesSend) {
		t.Errorf("Can granted ScopeUnknown or a zero Principal a scope")
	}
}

func TestScopeString(t *testing.T) {
	tests := []struct {
		scope Scope
		want  string
	}{
		{ScopeUnknown, "unknown"},
		{ScopeMessagesSend, "messages:send"},
		{ScopeConsentsWrite, "consents:write"},
		{ScopeConsentsRead, "consents:read"},
		{ScopeSubjectsErase, "subjects:erase"},
		{ScopeSubjectsExport, "subjects:export"},
		{Scope(200), "unknown"},
	}
	for _, tt := range tests {
		if got := tt.scope.String(); got != tt.want {
			t.Errorf("Scope(%d).String() = %q, want %q", tt.scope, got, tt.want)
		}
		if tt.want != "unknown" && parseScope(tt.want) != tt.scope {
			t.Errorf("parseScope(%q) = %v, want %v", tt.want, parseScope(tt.want), tt.scope)
		}
	}
	for _, name := range []string{"", "unknown", "Messages:Send", "messages:send ", "admin"} {
		if got := parseScope(name); got != ScopeUnknown {
			t.Errorf("parseScope(%q) = %v, want ScopeUnknown", name, got)
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	sm := newFakeSM(b)
	a := newTestAuthenticator(b, sm)
	header := bearer("ops", "OpsCurrent")
	if _, err := a.Authenticate(b.Context(), header); err != nil {
		b.Fatalf("Authenticate(warm-up) err = %v, want nil", err)
	}
	warm := sm.count()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(b.Context(), header); err != nil {
			b.Fatalf("Authenticate err = %v, want nil", err)
		}
	}
	if got := sm.count(); got != warm {
		b.Errorf("Secrets Manager calls in the loop = %d, want 0 (warm cache)", got-warm)
	}
}

// TestOverlapFromEnv: one default (24 h, as the template's) for every
// function, and a malformed or out-of-range value refused rather than
// silently replaced (before, send read 24 h and erase, events and rotate
// 1 h when it was unset, and each ignored a malformed value).
func TestOverlapFromEnv(t *testing.T) {
	tests := []struct {
		v       string
		want    time.Duration
		wantErr bool
	}{
		{"", DefaultOverlap, false},
		{"24", 24 * time.Hour, false},
		{" 1 ", time.Hour, false},
		{"720", 720 * time.Hour, false},
		{"0", 0, true},
		{"-3", 0, true},
		{"721", 0, true},
		{"1.5", 0, true},
		{"24h", 0, true},
	}
	for _, tt := range tests {
		got, err := OverlapFromEnv(func(string) string { return tt.v })
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("OverlapFromEnv(%q) = %v, %v; want %v, error %v", tt.v, got, err, tt.want, tt.wantErr)
		}
	}
	if DefaultOverlap != 24*time.Hour {
		t.Errorf("DefaultOverlap = %v, want the template's ApiKeyOverlapHours default, 24 h", DefaultOverlap)
	}
	if d := time.Duration(settings.APIKeyOverlapHours.Default) * settings.APIKeyOverlapHours.Unit; d != DefaultOverlap {
		t.Errorf("settings.APIKeyOverlapHours default = %v, want DefaultOverlap %v (one default)", d, DefaultOverlap)
	}
}
