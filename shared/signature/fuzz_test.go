package signature

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// addMetaHeaderSeeds adds the headers of testdata/meta_vectors.json.
func addMetaHeaderSeeds(f *testing.F) {
	var vectors []metaVector
	decodeTestdata(f, "meta_vectors.json", &vectors)
	for _, v := range vectors {
		f.Add(v.Header)
	}
}

// FuzzParseMetaHeader checks that any header parses without panicking,
// and that whatever parses is exactly "sha256=" and 64 hex digits that
// re-encode to the same signature.
func FuzzParseMetaHeader(f *testing.F) {
	addMetaHeaderSeeds(f)
	f.Fuzz(func(t *testing.T, header string) {
		sig, ok := parseMetaHeader(header)
		if !ok {
			return
		}
		if len(header) != len(metaPrefix)+64 || !strings.HasPrefix(header, metaPrefix) {
			t.Fatalf("parseMetaHeader(%q) ok, want only sha256= and 64 hex digits", header)
		}
		if got := hex.EncodeToString(sig[:]); got != strings.ToLower(header[len(metaPrefix):]) {
			t.Fatalf("parseMetaHeader(%q) = %s, want the same digits", header, got)
		}
	})
}

// FuzzStandardWebhooksHeader checks that any webhook-signature list
// parses without panicking, within its bounds, and that every decoded
// entry round-trips to a "v1,<base64>" item of the list.
func FuzzStandardWebhooksHeader(f *testing.F) {
	var vectors []signedVector
	decodeTestdata(f, "signed_vectors.json", &vectors)
	for _, v := range vectors {
		f.Add(v.Headers[HeaderSignature])
	}
	f.Add(strings.Repeat("v1,GyPxyFo0ajbhMY07mok9Sal6DcRAGphWJl6sFWc97RA= ", 20))
	f.Fuzz(func(t *testing.T, list string) {
		var buf [maxSignatureItems][macSize]byte
		sigs, ok := parseStandardSignatures(list, buf[:0])
		if ok != (len(sigs) > 0) || len(sigs) > maxSignatureItems {
			t.Fatalf("parseStandardSignatures(%q) = %d sigs, %v", list, len(sigs), ok)
		}
		for _, s := range sigs {
			item := "v1," + base64.StdEncoding.EncodeToString(s[:])
			if !strings.Contains(list, item) {
				t.Fatalf("parseStandardSignatures(%q) decoded %s, which is not in the list", list, item)
			}
		}
	})
}

// FuzzVerifyMeta checks that verification never panics, that SignMeta's
// output always verifies, and that changing any one body byte fails.
func FuzzVerifyMeta(f *testing.F) {
	f.Add([]byte("test-app-secret-0001"), readTestdata(f, "meta_text_event.json"), "sha256=00", uint16(0), byte(1))
	f.Add([]byte("k"), []byte{}, "", uint16(7), byte(0x80))
	f.Fuzz(func(t *testing.T, secret, body []byte, header string, pos uint16, flip byte) {
		_ = VerifyMeta(body, header, secret) // must not panic
		if len(secret) == 0 {
			if err := VerifyMeta(body, SignMeta(secret, body), secret); err != ErrBadSignature {
				t.Fatalf("VerifyMeta under an empty key err = %v, want ErrBadSignature", err)
			}
			return
		}
		sig := SignMeta(secret, body)
		if err := VerifyMeta(body, sig, secret); err != nil {
			t.Fatalf("VerifyMeta(body, SignMeta(body)) err = %v, want nil", err)
		}
		if err := VerifyMeta(body, strings.ToUpper(sig[:7])+sig[7:], secret); err != ErrBadSignature {
			t.Fatalf("VerifyMeta with an upper-case prefix err = %v, want ErrBadSignature", err)
		}
		if len(body) == 0 || flip == 0 {
			return
		}
		mutated := bytes.Clone(body)
		mutated[int(pos)%len(body)] ^= flip
		if err := VerifyMeta(mutated, sig, secret); err != ErrBadSignature {
			t.Fatalf("VerifyMeta(body with byte %d changed) err = %v, want ErrBadSignature", int(pos)%len(body), err)
		}
	})
}

// FuzzVerifySigned does the same for both timestamped schemes, and feeds
// arbitrary headers to the verifier.
func FuzzVerifySigned(f *testing.F) {
	var vectors []signedVector
	decodeTestdata(f, "signed_vectors.json", &vectors)
	for _, v := range vectors {
		h := v.Headers
		f.Add([]byte("test-signed-secret-0001"), readTestdata(f, v.Body), "msg_1", int64(1767225600000),
			h[HeaderSeedTimestamp], h[HeaderSeedSignature], h[HeaderWebhookID], h[HeaderTimestamp], h[HeaderSignature], uint16(3), byte(4))
	}
	f.Fuzz(func(t *testing.T, secret, body []byte, id string, ms int64, sts, ssig, wid, wts, wsig string, pos uint16, flip byte) {
		now := time.UnixMilli(ms)
		_, _ = VerifySigned(Headers{sts, ssig, wid, wts, wsig}, body, now, 0, secret) // must not panic
		if len(secret) == 0 || ms < 0 || ms > 1<<52 {
			return
		}
		seed := SignSeed(secret, now, body)
		std := SignStandardWebhooks(id, now, body, secret)
		for i, h := range []Headers{seed, std} {
			r, err := VerifySigned(h, body, now, 0, secret)
			if i == 1 && !ValidID(id) {
				if err != ErrBadSignature {
					t.Fatalf("VerifySigned(id %q) err = %v, want ErrBadSignature", id, err)
				}
				continue
			}
			if err != nil || r.ReplayKey == "" {
				t.Fatalf("VerifySigned(%v, Sign output) = %+v, %v, want a result", h, r, err)
			}
			if len(body) == 0 || flip == 0 {
				continue
			}
			mutated := bytes.Clone(body)
			mutated[int(pos)%len(body)] ^= flip
			if _, err := VerifySigned(h, mutated, now, 0, secret); err != ErrBadSignature {
				t.Fatalf("VerifySigned(%v, body with one byte changed) err = %v, want ErrBadSignature", h, err)
			}
		}
	})
}

// FuzzMAC checks mac against crypto/hmac.
func FuzzMAC(f *testing.F) {
	f.Add([]byte("key"), []byte("a"), []byte("."), []byte("body"))
	f.Add(bytes.Repeat([]byte{1}, 65), []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, key, a, b, c []byte) {
		got := mac(key, a, b, c)
		if want := stdMAC(key, a, b, c); !bytes.Equal(got[:], want) {
			t.Fatalf("mac = %x, crypto/hmac = %x", got, want)
		}
	})
}
