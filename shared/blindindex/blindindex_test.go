package blindindex

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/waguard/waguard/shared/phone"
)

// vectors is testdata/vectors.json, written by testdata/gen_vectors.py.
type vectors struct {
	IndexKey     string `json:"index_key"`
	PseudonymKey string `json:"pseudonym_key"`
	Numbers      []struct {
		E164      string `json:"e164"`
		Index     string `json:"index"`
		Pseudonym string `json:"pseudonym"`
	} `json:"numbers"`
	Users []struct {
		BSUID     string `json:"bsuid"`
		Index     string `json:"index"`
		Pseudonym string `json:"pseudonym"`
	} `json:"users"`
	Lookups []struct {
		Kind   string `json:"kind"`
		ID     string `json:"id"`
		Lookup string `json:"lookup"`
	} `json:"lookups"`
}

func loadVectors(t testing.TB) (*Keys, vectors) {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatalf("ReadFile() err = %v, want nil", err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("Unmarshal() err = %v, want nil", err)
	}
	ik, err1 := hex.DecodeString(v.IndexKey)
	pk, err2 := hex.DecodeString(v.PseudonymKey)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("DecodeString() err = %v, want nil", err)
	}
	k, err := NewKeys(ik, pk)
	if err != nil {
		t.Fatalf("NewKeys() err = %v, want nil", err)
	}
	return k, v
}

func mustParse(t testing.TB, s string) phone.Number {
	t.Helper()
	n, err := phone.Parse(s)
	if err != nil {
		t.Fatalf("phone.Parse(%q) err = %v, want nil", s, err)
	}
	return n
}

// TestVectors pins the construction: these values must never change.
func TestVectors(t *testing.T) {
	k, v := loadVectors(t)
	for _, tc := range v.Numbers {
		t.Run(tc.E164, func(t *testing.T) {
			n := mustParse(t, tc.E164)
			if got, err := k.Index(n); err != nil || got != tc.Index {
				t.Errorf("Index() = %q, %v; want %q, nil", got, err, tc.Index)
			}
			if got, err := k.Pseudonym(n); err != nil || got != tc.Pseudonym {
				t.Errorf("Pseudonym() = %q, %v; want %q, nil", got, err, tc.Pseudonym)
			}
		})
	}
	for _, tc := range v.Users {
		t.Run(tc.BSUID, func(t *testing.T) {
			if got, err := k.UserIndex(tc.BSUID); err != nil || got != tc.Index {
				t.Errorf("UserIndex() = %q, %v; want %q, nil", got, err, tc.Index)
			}
			if got, err := k.UserPseudonym(tc.BSUID); err != nil || got != tc.Pseudonym {
				t.Errorf("UserPseudonym() = %q, %v; want %q, nil", got, err, tc.Pseudonym)
			}
		})
	}
	if _, err := k.UserIndex(""); err == nil {
		t.Errorf("UserIndex(\"\") err = nil, want an error")
	}
	for i, tc := range v.Lookups {
		t.Run(fmt.Sprintf("lookup%d", i), func(t *testing.T) {
			if got := k.Lookup(tc.Kind, tc.ID); got != tc.Lookup {
				t.Errorf("Lookup(%q, %q) = %q, want %q", tc.Kind, tc.ID, got, tc.Lookup)
			}
		})
	}
}

func TestIdentifiersAreUnrelated(t *testing.T) {
	k, v := loadVectors(t)
	seen := map[string]string{}
	for _, tc := range v.Numbers {
		n := mustParse(t, tc.E164)
		idx, _ := k.Index(n)
		ps, _ := k.Pseudonym(n)
		lk := k.Lookup(KindWAMID, n.E164())
		for what, got := range map[string]string{"index": idx, "pseudonym": ps, "lookup": lk} {
			if prev, ok := seen[got]; ok {
				t.Errorf("%s of %v = %s of another input", what, n, prev)
			}
			seen[got] = what
			checkNoDigits(t, got, n)
		}
	}
}

// checkNoDigits checks that id holds no recognisable part of n.
func checkNoDigits(t *testing.T, id string, n phone.Number) {
	t.Helper()
	national := n.Digits()[len(fmt.Sprint(n.CountryCode())):]
	if len(id) != 43 || strings.Contains(id, n.Digits()) || strings.Contains(id, national[len(national)-6:]) {
		t.Errorf("identifier %q has the wrong length or contains digits of the number", id)
	}
}

func TestLookupDomains(t *testing.T) {
	k, _ := loadVectors(t)
	// Without the length prefix these would hash the same bytes.
	if k.Lookup("wamid", "x") == k.Lookup("wami", "dx") {
		t.Errorf("Lookup() kinds are not domain-separated")
	}
	n := mustParse(t, "+442079460123")
	if idx, _ := k.Index(n); idx == k.Lookup("", n.E164()) {
		t.Errorf("Lookup() and Index() share a domain")
	}
}

func TestNewKeys(t *testing.T) {
	a := bytes.Repeat([]byte{1}, 32)
	b := bytes.Repeat([]byte{2}, 32)
	tests := []struct {
		name         string
		index, pseud []byte
		want         error
	}{
		{"ok", a, b, nil},
		{"long keys", bytes.Repeat(a, 2), b, nil},
		{"short index key", a[:31], b, errShortKey},
		{"short pseudonym key", a, b[:31], errShortKey},
		{"nil keys", nil, nil, errShortKey},
		{"identical keys", a, bytes.Clone(a), errSameKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewKeys(tc.index, tc.pseud)
			if !errors.Is(err, tc.want) || (err == nil) != (k != nil) {
				t.Errorf("NewKeys() = %v, %v; want %v", k, err, tc.want)
			}
		})
	}
}

func TestNewKeysCopies(t *testing.T) {
	ik := bytes.Repeat([]byte{1}, 32)
	k, err := NewKeys(ik, bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatalf("NewKeys() err = %v, want nil", err)
	}
	before := k.Lookup(KindWAMID, "x")
	clear(ik)
	if after := k.Lookup(KindWAMID, "x"); after != before {
		t.Errorf("Lookup() changed after the caller cleared its key")
	}
}

func TestZeroNumber(t *testing.T) {
	k, _ := loadVectors(t)
	if got, err := k.Index(phone.Number{}); err == nil || got != "" {
		t.Errorf("Index(zero) = %q, %v; want error", got, err)
	}
	if got, err := k.Pseudonym(phone.Number{}); err == nil || got != "" {
		t.Errorf("Pseudonym(zero) = %q, %v; want error", got, err)
	}
}

func TestKeysNeverPrint(t *testing.T) {
	k, err := NewKeys(bytes.Repeat([]byte{'A'}, 32), bytes.Repeat([]byte{'B'}, 32))
	if err != nil {
		t.Fatalf("NewKeys() err = %v, want nil", err)
	}
	var buf bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		fmt.Fprintf(&buf, verb+"\n", k)
		fmt.Fprintf(&buf, verb+"\n", *k)
	}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("keys", "k", k)
	out := buf.String()
	if strings.Contains(out, "AAAA") || strings.Contains(out, "4141") || strings.Contains(out, "65 65") {
		t.Errorf("printing Keys leaks key material: %s", out)
	}
}

func TestConcurrent(t *testing.T) {
	k, v := loadVectors(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				tc := v.Numbers[i%len(v.Numbers)]
				if got, _ := k.Index(mustParse(t, tc.E164)); got != tc.Index {
					t.Errorf("concurrent Index() = %q, want %q", got, tc.Index)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzLookup(f *testing.F) {
	k, _ := loadVectors(f)
	f.Add("wamid", "wamid.HBgMNDQyMDc5NDYwMTIz")
	f.Fuzz(func(t *testing.T, kind, id string) {
		a, b := k.Lookup(kind, id), k.Lookup(kind, id)
		if a != b || len(a) != 43 {
			t.Fatalf("Lookup() = %q then %q, want the same 43 characters", a, b)
		}
	})
}

func BenchmarkIndex(b *testing.B) {
	k, _ := loadVectors(b)
	n := mustParse(b, "+442079460123")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Index(n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIndexParallel(b *testing.B) {
	k, _ := loadVectors(b)
	n := mustParse(b, "+442079460123")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = k.Index(n)
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	k, _ := loadVectors(b)
	id := "wamid.HBgMNDQyMDc5NDYwMTIzFQIAEhggQTFCMkMzRDRFNUY2QTdCOEM5RDBFMUYyQTNCNEM1RDYA"
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Lookup(KindWAMID, id)
	}
}

// TestForPhoneAndUser: the pair is the vectors' index and pseudonym,
// with one error for a missing identifier.
func TestForPhoneAndUser(t *testing.T) {
	k, v := loadVectors(t)
	for _, tc := range v.Numbers {
		if idx, ps, err := k.ForPhone(mustParse(t, tc.E164)); err != nil || idx != tc.Index || ps != tc.Pseudonym {
			t.Errorf("ForPhone(%s) = %q, %q, %v; want %q, %q, nil", tc.E164, idx, ps, err, tc.Index, tc.Pseudonym)
		}
	}
	for _, tc := range v.Users {
		if idx, ps, err := k.ForUser(tc.BSUID); err != nil || idx != tc.Index || ps != tc.Pseudonym {
			t.Errorf("ForUser(%s) = %q, %q, %v; want %q, %q, nil", tc.BSUID, idx, ps, err, tc.Index, tc.Pseudonym)
		}
	}
	if idx, ps, err := k.ForPhone(phone.Number{}); err == nil || idx != "" || ps != "" {
		t.Errorf("ForPhone(zero) = %q, %q, %v; want an error and nothing", idx, ps, err)
	}
	if idx, ps, err := k.ForUser(""); err == nil || idx != "" || ps != "" {
		t.Errorf("ForUser(\"\") = %q, %q, %v; want an error and nothing", idx, ps, err)
	}
}
