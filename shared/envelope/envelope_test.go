package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/envelope"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

type fixture struct {
	kms   *fakeKMS
	db    *fakeTable
	clock *fakeClock
	env   *envelope.Envelope
}

// newFixture builds an Envelope over fresh fakes; mod adjusts the config.
func newFixture(t testing.TB, mod func(*envelope.Config)) *fixture {
	t.Helper()
	f := &fixture{kms: newFakeKMS(), db: newFakeTable(), clock: newClock()}
	f.env = f.envelope(t, mod)
	return f
}

// envelope builds another Envelope (another "Lambda instance") sharing
// the fixture's KMS, table and clock.
func (f *fixture) envelope(t testing.TB, mod func(*envelope.Config)) *envelope.Envelope {
	t.Helper()
	cfg := envelope.Config{KeyID: testKeyAlias, KeysTable: testTable, Now: f.clock.Now}
	if mod != nil {
		mod(&cfg)
	}
	env, err := envelope.New(f.kms, f.db, cfg)
	if err != nil {
		t.Fatalf("New() err = %v, want nil", err)
	}
	return env
}

var testAD = envelope.AD{Table: "waguard-test-data", PK: "sub#abc", SK: "msg#in#xyz", Attribute: "body"}

func TestNew(t *testing.T) {
	valid := envelope.Config{KeyID: testKeyAlias, KeysTable: testTable}
	tests := []struct {
		name    string
		nilKMS  bool
		nilDB   bool
		mod     func(*envelope.Config)
		wantErr bool
	}{
		{name: "valid"},
		{name: "nil KMS", nilKMS: true, wantErr: true},
		{name: "nil table", nilDB: true, wantErr: true},
		{name: "no key id", mod: func(c *envelope.Config) { c.KeyID = "" }, wantErr: true},
		{name: "no table", mod: func(c *envelope.Config) { c.KeysTable = "" }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			var k, db = newFakeKMS(), newFakeTable()
			var err error
			switch {
			case tc.nilKMS:
				_, err = envelope.New(nil, db, cfg)
			case tc.nilDB:
				_, err = envelope.New(k, nil, cfg)
			default:
				_, err = envelope.New(k, db, cfg)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("New() err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0}},
		{"text", []byte("Hello, this is a WhatsApp message body")},
		{"1 KB", bytes.Repeat([]byte{0xA5}, 1024)},
		{"max", bytes.Repeat([]byte{1}, envelope.MaxPlaintext)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := f.env.Encrypt(ctx, "subject-1", tc.plaintext, testAD)
			if err != nil {
				t.Fatalf("Encrypt() err = %v, want nil", err)
			}
			if got, want := len(ct), len(tc.plaintext)+envelope.Overhead; got != want {
				t.Errorf("len(Encrypt()) = %d, want %d", got, want)
			}
			pt, err := f.env.Decrypt(ctx, "subject-1", ct, testAD)
			if err != nil {
				t.Fatalf("Decrypt(ct, ad) err = %v, want nil", err)
			}
			if !bytes.Equal(pt, tc.plaintext) {
				t.Errorf("Decrypt(ct, ad) = %x, want %x", pt, tc.plaintext)
			}
			again, err := f.env.Encrypt(ctx, "subject-1", tc.plaintext, testAD)
			if err != nil || bytes.Equal(again, ct) {
				t.Errorf("second Encrypt() = same ciphertext or err %v, want a fresh ciphertext", err)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	ct, err := f.env.Encrypt(ctx, "s", []byte("x"), testAD)
	if err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	noAttr := testAD
	noAttr.Attribute = ""
	tests := []struct {
		name    string
		subject string
		ad      envelope.AD
		size    int
	}{
		{name: "empty subject", subject: "", ad: testAD},
		{name: "long subject", subject: strings.Repeat("s", 1025), ad: testAD},
		{name: "empty AD", subject: "s"},
		{name: "no attribute", subject: "s", ad: noAttr},
		{name: "too large", subject: "s", ad: testAD, size: envelope.MaxPlaintext + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.env.Encrypt(ctx, tc.subject, make([]byte, tc.size), tc.ad); err == nil {
				t.Errorf("Encrypt() err = nil, want error")
			}
			if tc.size > 0 {
				return
			}
			if _, err := f.env.Decrypt(ctx, tc.subject, ct, tc.ad); err == nil || errors.Is(err, envelope.ErrDecrypt) {
				t.Errorf("Decrypt() err = %v, want an argument error", err)
			}
		})
	}
	if err := f.env.DeleteSubjectKey(ctx, ""); err == nil {
		t.Errorf("DeleteSubjectKey(\"\") err = nil, want error")
	}
}

// TestDecryptTamper checks that every modification yields exactly
// ErrDecrypt, the one opaque error.
func TestDecryptTamper(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	ct, err := f.env.Encrypt(ctx, "victim", []byte("secret body"), testAD)
	if err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	if _, err := f.env.Encrypt(ctx, "other", []byte("x"), testAD); err != nil {
		t.Fatalf("Encrypt(other) err = %v, want nil", err)
	}
	type tamper struct {
		name    string
		subject string
		ct      []byte
		ad      envelope.AD
	}
	var tests []tamper
	for i := range ct {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(ct)
			b[i] ^= bit
			tests = append(tests, tamper{fmt.Sprintf("flip byte %d bit %#x", i, bit), "victim", b, testAD})
		}
	}
	for n := range len(ct) {
		tests = append(tests, tamper{fmt.Sprintf("truncate to %d", n), "victim", ct[:n], testAD})
	}
	for _, v := range []byte{0x00, 0x02, 0xff} {
		b := bytes.Clone(ct)
		b[0] = v
		tests = append(tests, tamper{fmt.Sprintf("version %#x", v), "victim", b, testAD})
	}
	swaps := map[string]func(*envelope.AD){
		"table":     func(a *envelope.AD) { a.Table = "waguard-prod-data" },
		"pk":        func(a *envelope.AD) { a.PK = "sub#other" },
		"sk":        func(a *envelope.AD) { a.SK = "msg#in#other" },
		"attribute": func(a *envelope.AD) { a.Attribute = "phone" },
		"pk<->sk":   func(a *envelope.AD) { a.PK, a.SK = a.SK, a.PK },
		"shifted":   func(a *envelope.AD) { a.Table, a.PK = a.Table+"s", a.PK[1:] },
	}
	for name, swap := range swaps {
		ad := testAD
		swap(&ad)
		tests = append(tests, tamper{"AD " + name, "victim", ct, ad})
	}
	tests = append(tests,
		tamper{"wrong subject key", "other", ct, testAD},
		tamper{"empty", "victim", []byte{}, testAD},
		tamper{"nil", "victim", nil, testAD},
		tamper{"trailing byte", "victim", append(bytes.Clone(ct), 0), testAD},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := f.env.Decrypt(ctx, tc.subject, tc.ct, tc.ad)
			if err != envelope.ErrDecrypt || pt != nil {
				t.Errorf("Decrypt(ct, ad) = %q, %v; want nil, ErrDecrypt", pt, err)
			}
		})
	}
}

func TestDeleteSubjectKey(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	ct, err := f.env.Encrypt(ctx, "erase-me", []byte("data"), testAD)
	if err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	other := f.envelope(t, nil) // another instance, cold cache
	if err := f.env.DeleteSubjectKey(ctx, "erase-me"); err != nil {
		t.Fatalf("DeleteSubjectKey() err = %v, want nil", err)
	}
	for name, env := range map[string]*envelope.Envelope{"same instance": f.env, "other instance": other} {
		if _, err := env.Decrypt(ctx, "erase-me", ct, testAD); !errors.Is(err, envelope.ErrSubjectKeyNotFound) {
			t.Errorf("%s: Decrypt() after delete err = %v, want ErrSubjectKeyNotFound", name, err)
		}
	}
	if err := f.env.DeleteSubjectKey(ctx, "erase-me"); err != nil {
		t.Errorf("second DeleteSubjectKey() err = %v, want nil", err)
	}
	// A later Encrypt creates a new key; old ciphertexts stay unreadable.
	if _, err := f.env.Encrypt(ctx, "erase-me", []byte("new"), testAD); err != nil {
		t.Fatalf("Encrypt() after delete err = %v, want nil", err)
	}
	if _, err := f.env.Decrypt(ctx, "erase-me", ct, testAD); err != envelope.ErrDecrypt {
		t.Errorf("Decrypt(old ct) under new key err = %v, want ErrDecrypt", err)
	}
}

func TestNothingPrintsKeys(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.env.Encrypt(t.Context(), "s", []byte("x"), testAD); err != nil {
		t.Fatalf("Encrypt() err = %v, want nil", err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("env", "envelope", f.env)
	for _, got := range []string{
		fmt.Sprintf("%v", f.env), fmt.Sprintf("%+v", f.env), fmt.Sprintf("%#v", f.env), logged.String(),
	} {
		if !strings.Contains(got, "redacted") {
			t.Errorf("formatted envelope = %q, want redacted", got)
		}
	}
}
