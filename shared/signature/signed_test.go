package signature

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	testSignedKey = []byte("test-signed-secret-0001")
	testOtherKey  = []byte("test-signed-secret-0002")
	testBody      = []byte(`{"id":"msg_1","from":"+447700900123","timestamp":1767225600,"type":"text","text":"hi","to_phone_number_id":"100000000000001"}`)
)

func TestVerifySignedComputed(t *testing.T) {
	seed := SignSeed(testSignedKey, testNow, testBody)
	std := SignStandardWebhooks("msg_1", testNow, testBody, testSignedKey)
	rotated := SignStandardWebhooks("msg_1", testNow, testBody, testOtherKey, testSignedKey)
	tests := []struct {
		name      string
		h         Headers
		body      []byte
		now       time.Time
		tolerance time.Duration
		secrets   [][]byte
		want      Scheme
		wantErr   error
	}{
		{"seed", seed, testBody, testNow, 0, [][]byte{testSignedKey}, SchemeSeed, nil},
		{"seed upper-case hex", with(seed, func(h *Headers) { h.SeedSignature = strings.ToUpper(h.SeedSignature) }), testBody, testNow, 0, [][]byte{testSignedKey}, SchemeSeed, nil},
		{"seed second key", seed, testBody, testNow, 0, [][]byte{testOtherKey, testSignedKey}, SchemeSeed, nil},
		{"seed wrong key", seed, testBody, testNow, 0, [][]byte{testOtherKey}, 0, ErrBadSignature},
		{"seed body changed", seed, []byte(strings.Replace(string(testBody), "hi", "ho", 1)), testNow, 0, [][]byte{testSignedKey}, 0, ErrBadSignature},
		{"seed 5m old", seed, testBody, testNow.Add(5 * time.Minute), 0, [][]byte{testSignedKey}, SchemeSeed, nil},
		{"seed 5m1ms old", seed, testBody, testNow.Add(5*time.Minute + time.Millisecond), 0, [][]byte{testSignedKey}, 0, ErrStaleTimestamp},
		{"seed 5m1ms early", seed, testBody, testNow.Add(-5*time.Minute - time.Millisecond), 0, [][]byte{testSignedKey}, 0, ErrStaleTimestamp},
		{"seed 1m old, 30s tolerance", seed, testBody, testNow.Add(time.Minute), 30 * time.Second, [][]byte{testSignedKey}, 0, ErrStaleTimestamp},
		{"seed 1h old, 2h tolerance", seed, testBody, testNow.Add(time.Hour), 2 * time.Hour, [][]byte{testSignedKey}, SchemeSeed, nil},
		{"seed negative tolerance means default", seed, testBody, testNow.Add(4 * time.Minute), -time.Second, [][]byte{testSignedKey}, SchemeSeed, nil},
		{"standard", std, testBody, testNow, 0, [][]byte{testSignedKey}, SchemeStandardWebhooks, nil},
		{"standard rotated sender, old receiver", rotated, testBody, testNow, 0, [][]byte{testSignedKey}, SchemeStandardWebhooks, nil},
		{"standard rotated sender, new receiver", rotated, testBody, testNow, 0, [][]byte{testOtherKey}, SchemeStandardWebhooks, nil},
		{"standard wrong key", std, testBody, testNow, 0, [][]byte{[]byte("nope")}, 0, ErrBadSignature},
		{"standard stale", std, testBody, testNow.Add(-6 * time.Minute), 0, [][]byte{testSignedKey}, 0, ErrStaleTimestamp},
		{"standard stale and wrong key", std, testBody, testNow.Add(-6 * time.Minute), 0, [][]byte{testOtherKey}, 0, ErrBadSignature},
		{"standard id too long", SignStandardWebhooks(strings.Repeat("a", 257), testNow, testBody, testSignedKey), testBody, testNow, 0, [][]byte{testSignedKey}, 0, ErrBadSignature},
		{"standard id with space", SignStandardWebhooks("msg 1", testNow, testBody, testSignedKey), testBody, testNow, 0, [][]byte{testSignedKey}, 0, ErrBadSignature},
		{"standard 16 entries", with(std, func(h *Headers) { h.Signature = strings.Repeat("v1a,x ", 15) + h.Signature }), testBody, testNow, 0, [][]byte{testSignedKey}, SchemeStandardWebhooks, nil},
		{"standard 17 entries", with(std, func(h *Headers) { h.Signature = strings.Repeat("v1a,x ", 16) + h.Signature }), testBody, testNow, 0, [][]byte{testSignedKey}, 0, ErrBadSignature},
		{"standard timestamp 20 digits", with(std, func(h *Headers) { h.Timestamp = "0" + strings.Repeat("1", 19) }), testBody, testNow, 0, [][]byte{testSignedKey}, 0, ErrBadSignature},
		{"standard 44 base64 digits decoding to 33 bytes", with(std, func(h *Headers) { h.Signature = "v1," + strings.Repeat("0", 44) }), testBody, testNow, 0, [][]byte{testSignedKey}, 0, ErrBadSignature},
		{"no headers", Headers{}, testBody, testNow, 0, [][]byte{testSignedKey}, 0, ErrBadSignature},
		{"no secrets", seed, testBody, testNow, 0, nil, 0, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifySigned(tt.h, tt.body, tt.now, tt.tolerance, tt.secrets...)
			if err != tt.wantErr {
				t.Fatalf("VerifySigned(%v, body) err = %v, want %v", tt.h, err, tt.wantErr)
			}
			if got.Scheme != tt.want {
				t.Errorf("VerifySigned(%v, body) scheme = %v, want %v", tt.h, got.Scheme, tt.want)
			}
			if err == nil && (got.ReplayKey == "" || !got.Timestamp.Equal(testNow.Truncate(time.Second)) && !got.Timestamp.Equal(testNow)) {
				t.Errorf("VerifySigned() = %+v, want a replay key and the signed time", got)
			}
		})
	}
}

// with returns a copy of h changed by f.
func with(h Headers, f func(*Headers)) Headers {
	f(&h)
	return h
}

func TestReplayKeys(t *testing.T) {
	seed := SignSeed(testSignedKey, testNow, testBody)
	r1, err := VerifySigned(seed, testBody, testNow, 0, testSignedKey)
	if err != nil {
		t.Fatalf("VerifySigned(seed) err = %v, want nil", err)
	}
	later := SignSeed(testSignedKey, testNow.Add(time.Millisecond), testBody)
	r2, err := VerifySigned(later, testBody, testNow, 0, testSignedKey)
	if err != nil {
		t.Fatalf("VerifySigned(seed +1ms) err = %v, want nil", err)
	}
	if len(r1.ReplayKey) != 64 || r1.ReplayKey == r2.ReplayKey {
		t.Errorf("seed replay keys = %q, %q, want distinct 64-digit hex", r1.ReplayKey, r2.ReplayKey)
	}
	// A Standard Webhooks retry keeps its id but gets a new timestamp and
	// signature: the replay key must stay the same.
	a := SignStandardWebhooks("msg_retry", testNow, testBody, testSignedKey)
	b := SignStandardWebhooks("msg_retry", testNow.Add(time.Minute), testBody, testSignedKey)
	ra, errA := VerifySigned(a, testBody, testNow, 0, testSignedKey)
	rb, errB := VerifySigned(b, testBody, testNow, 0, testSignedKey)
	if errA != nil || errB != nil || ra.ReplayKey != "msg_retry" || rb.ReplayKey != ra.ReplayKey {
		t.Errorf("standard retry replay keys = %q (%v), %q (%v), want msg_retry twice", ra.ReplayKey, errA, rb.ReplayKey, errB)
	}
}

func TestHeadersFrom(t *testing.T) {
	want := SignStandardWebhooks("msg_1", testNow, testBody, testSignedKey)
	seed := SignSeed(testSignedKey, testNow, testBody)
	want.SeedTimestamp, want.SeedSignature = seed.SeedTimestamp, seed.SeedSignature
	m := want.Map()
	if len(m) != 5 {
		t.Fatalf("Headers.Map() has %d entries, want 5", len(m))
	}
	fromMap := HeadersFrom(func(name string) string { return m[name] })
	hh := http.Header{}
	for k, v := range m {
		hh.Set(k, v)
	}
	fromHTTP := HeadersFrom(hh.Get)
	for name, got := range map[string]Headers{"map": fromMap, "http.Header": fromHTTP} {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("HeadersFrom(%s) mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestHeadersPrintNoValues(t *testing.T) {
	h := SignStandardWebhooks("msg_secretid", testNow, testBody, testSignedKey)
	for _, s := range []string{h.String(), sprintAll(h), h.LogValue().String()} {
		if strings.Contains(s, "msg_secretid") || strings.Contains(s, h.Signature[3:20]) || strings.Contains(s, h.Timestamp) {
			t.Errorf("printed Headers = %q, want header names only", s)
		}
	}
}

func TestSchemeString(t *testing.T) {
	for s, want := range map[Scheme]string{
		SchemeUnknown: "unknown", SchemeMeta: "meta", SchemeSeed: "seed", SchemeStandardWebhooks: "standard_webhooks", 99: "unknown",
	} {
		if got := s.String(); got != want {
			t.Errorf("Scheme(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	if errors.Is(ErrStaleTimestamp, ErrBadSignature) || errors.Is(ErrBadSignature, ErrStaleTimestamp) {
		t.Error("ErrStaleTimestamp and ErrBadSignature match each other, want distinct sentinels")
	}
}
