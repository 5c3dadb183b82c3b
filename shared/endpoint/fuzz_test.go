package endpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/waguard/waguard/shared/signature"
)

// FuzzParse checks that any value parses without panicking; that every
// error wraps ErrInvalid and repeats no string value of the document;
// and that whatever parses signs deliveries its own Verify accepts and
// prints none of its secrets.
func FuzzParse(f *testing.F) {
	f.Add("crm", doc(nil))
	f.Add("crm", doc(map[string]any{"previous_secret": testPrevSecret, "previous_until": testUntil, "types": []string{"message.status"}}))
	f.Add("sandbox", doc(map[string]any{"url": "http://127.0.0.1:4604/_sandbox/endpoint", "include_content": true}))
	f.Add("crm", doc(map[string]any{"url": "https://user:p4ss@crm.example.com/hook"}))
	f.Add("a/b", []byte(`{"kind":"webhook-endpoint"} {}`))
	f.Add("crm", []byte(`{"secret":"whsec_`))
	f.Fuzz(func(t *testing.T, name string, d []byte) {
		e, err := Parse(name, "v", d)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse() err = %v, want ErrInvalid", err)
			}
			var m map[string]any
			_ = json.Unmarshal(d, &m)
			for _, v := range m {
				if s, ok := v.(string); ok && len(s) >= 16 && strings.Contains(err.Error(), s) {
					t.Fatalf("Parse() err = %q repeats a value of the document", err)
				}
			}
			return
		}
		h, err := e.Sign("evt_fuzz", testNow, d)
		if err != nil || e.Verify(h, d, testNow) != nil {
			t.Fatalf("Sign() = %v, %v; Verify(Sign output) = %v; want a verifying signature", h, err, e.Verify(h, d, testNow))
		}
		out := e.String()
		for _, k := range e.keys(testNow) {
			if strings.Contains(out, base64Std(k)[:12]) || bytes.Contains([]byte(out), k) {
				t.Fatalf("String() = %q reveals a secret", out)
			}
		}
	})
}

// FuzzSignVerify signs with the endpoint's keys and verifies with
// waguard's verifier and with the official library, each key alone: both
// accept every signature the signer makes for a valid id, and refuse it
// once one byte of the body changes.
func FuzzSignVerify(f *testing.F) {
	f.Add([]byte("test-endpoint-secret-0001-32byt!"), []byte("test-previous-secret-000"), "evt_AAAAAAAAAAAAAAAAAAAAAAAAAA",
		int64(1767225600), []byte(`{"type":"message.received"}`), uint16(3), byte(1))
	f.Add(bytes.Repeat([]byte{0}, 64), []byte{}, "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte{}, uint16(0), byte(0x80))
	f.Fuzz(func(t *testing.T, key, prev []byte, id string, ts int64, body []byte, pos uint16, flip byte) {
		if len(key) < minKeyLen || len(key) > maxKeyLen || ts < 0 || ts > 1<<40 {
			return
		}
		at := time.Unix(ts, 0)
		set := map[string]any{"secret": "whsec_" + base64Std(key)}
		secrets := [][]byte{key}
		if len(prev) >= minKeyLen && len(prev) <= maxKeyLen {
			set["previous_secret"], set["previous_until"] = "whsec_"+base64Std(prev), at.Add(time.Hour).UTC().Format(time.RFC3339)
			secrets = append(secrets, prev)
		}
		e, err := Parse("fuzz", "v", doc(set))
		if err != nil {
			t.Fatalf("Parse() err = %v, want nil", err)
		}
		h, err := e.Sign(id, at, body)
		if !signature.ValidID(id) {
			if err != ErrBadID {
				t.Fatalf("Sign(id %q) err = %v, want ErrBadID", id, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Sign() err = %v, want nil", err)
		}
		mutated := bytes.Clone(body)
		if len(body) > 0 && flip != 0 {
			mutated[int(pos)%len(body)] ^= flip
		}
		for i, k := range secrets {
			if _, err := signature.VerifySigned(h, body, at, 0, k); err != nil {
				t.Fatalf("VerifySigned(key %d alone) err = %v, want nil", i, err)
			}
			if err := officialRaw(k, h, body); err != nil {
				t.Fatalf("official VerifyIgnoringTimestamp(key %d alone) err = %v, want nil", i, err)
			}
			if bytes.Equal(mutated, body) {
				continue
			}
			if _, err := signature.VerifySigned(h, mutated, at, 0, k); err != signature.ErrBadSignature {
				t.Fatalf("VerifySigned(mutated body, key %d) err = %v, want ErrBadSignature", i, err)
			}
			if err := officialRaw(k, h, mutated); err == nil {
				t.Fatalf("official VerifyIgnoringTimestamp(mutated body, key %d) err = nil, want an error", i)
			}
		}
	})
}

// officialRaw verifies with the official library under the raw key,
// ignoring the timestamp (the fuzzer's clock is not the library's).
func officialRaw(key []byte, h signature.Headers, body []byte) error {
	wh, err := standardwebhooks.NewWebhookRaw(key)
	if err != nil {
		return err
	}
	hdr := http.Header{}
	for k, v := range h.Map() {
		hdr.Set(k, v)
	}
	return wh.VerifyIgnoringTimestamp(body, hdr)
}
