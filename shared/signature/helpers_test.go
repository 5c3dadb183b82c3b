package signature

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Test-only secrets, used nowhere else.
var (
	testSecret     = []byte("test-app-secret-0001")
	testPrevSecret = []byte("test-app-secret-0000")
)

// testNow is 2026-01-01T00:00:00Z.
var testNow = time.UnixMilli(1767225600000).UTC()

// readTestdata returns the bytes of testdata/name.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// decodeTestdata decodes the JSON file testdata/name into v.
func decodeTestdata(t testing.TB, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readTestdata(t, name), v); err != nil {
		t.Fatalf("decode testdata %s: %v", name, err)
	}
}

// keys turns configured secrets into keys, failing the test on error.
func keys(t testing.TB, configured []string) [][]byte {
	t.Helper()
	var ks [][]byte
	for _, c := range configured {
		k, err := Key(c)
		if err != nil {
			t.Fatalf("Key(test secret) err = %v, want nil", err)
		}
		ks = append(ks, k)
	}
	return ks
}

// wantErr maps a vector's "want" to an error.
func wantErr(t testing.TB, want string) error {
	t.Helper()
	switch want {
	case "ok":
		return nil
	case "bad_signature":
		return ErrBadSignature
	case "stale":
		return ErrStaleTimestamp
	}
	t.Fatalf("unknown want %q in testdata", want)
	return nil
}
