package signature

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// TestErrorsRevealNothing plays an attacker probing with wrong
// signatures: every failure must give the same text, which holds neither
// the expected signature (hex or base64, either case, or a prefix of
// it), nor the body, nor a secret.
func TestErrorsRevealNothing(t *testing.T) {
	body := readTestdata(t, "meta_text_event.json")
	expectedMeta := mac(testSecret, body, nil, nil)
	std := SignStandardWebhooks("msg_probe", testNow, body, testSecret)
	seed := SignSeed(testSecret, testNow, body)
	expectedStd, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(std.Signature, "v1,"))
	expectedSeed, _ := hex.DecodeString(seed.SeedSignature)

	var errs []error
	for _, h := range []string{"", "sha256=", "sha256=00", "sha256=" + strings.Repeat("0", 64), "sha256=" + strings.Repeat("zz", 32),
		SignMeta(testPrevSecret, body), SignMeta(testSecret, body)[:40], "sha1=" + hex.EncodeToString(expectedMeta[:20])} {
		errs = append(errs, VerifyMeta(body, h, testSecret))
	}
	for _, h := range []Headers{
		{}, {SeedTimestamp: seed.SeedTimestamp}, {SeedSignature: seed.SeedSignature},
		with(seed, func(h *Headers) { h.SeedSignature = strings.Repeat("0", 64) }),
		with(seed, func(h *Headers) { h.SeedTimestamp = "x" }),
		with(std, func(h *Headers) { h.Signature = "v1," + base64.StdEncoding.EncodeToString(make([]byte, 32)) }),
		with(std, func(h *Headers) { h.ID = "msg.probe" }),
		with(std, func(h *Headers) { h.Signature = "v1a,abc" }),
		with(std, func(h *Headers) { h.Timestamp = "" }),
	} {
		_, err := VerifySigned(h, body, testNow, 0, testSecret)
		errs = append(errs, err)
	}
	_, err := VerifySigned(std, body, testNow, 0, testPrevSecret)
	errs = append(errs, err)

	leaks := []string{
		hex.EncodeToString(expectedMeta[:]), strings.ToUpper(hex.EncodeToString(expectedMeta[:])), hex.EncodeToString(expectedMeta[:4]),
		base64.StdEncoding.EncodeToString(expectedStd), base64.StdEncoding.EncodeToString(expectedStd)[:8],
		hex.EncodeToString(expectedSeed), hex.EncodeToString(expectedSeed[:4]),
		string(testSecret), string(testPrevSecret), "447700900123", "wamid", "msg_probe", seed.SeedTimestamp,
	}
	for i, err := range errs {
		if err == nil {
			t.Fatalf("probe %d err = nil, want ErrBadSignature", i)
		}
		if err.Error() != ErrBadSignature.Error() {
			t.Errorf("probe %d err = %q, want exactly %q", i, err, ErrBadSignature)
		}
		for _, l := range leaks {
			if strings.Contains(err.Error(), l) {
				t.Errorf("probe %d error %q contains %q", i, err, l)
			}
		}
	}

	// Stale is the one distinct answer, and only for a valid signature.
	_, err = VerifySigned(std, body, testNow.Add(time.Hour), 0, testSecret)
	if err != ErrStaleTimestamp {
		t.Fatalf("VerifySigned(valid, an hour later) err = %v, want ErrStaleTimestamp", err)
	}
	for _, l := range leaks {
		if strings.Contains(err.Error(), l) {
			t.Errorf("stale error %q contains %q", err, l)
		}
	}
}
