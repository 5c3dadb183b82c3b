package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// The SDK clients must satisfy the package's interfaces unchanged.
var (
	_ kmsAPI    = (*kms.Client)(nil)
	_ keysTable = (*dynamodb.Client)(nil)
)

type fieldVector struct {
	Name       string `json:"name"`
	SubjectKey string `json:"subject_key"`
	Salt       string `json:"salt"`
	Nonce      string `json:"nonce"`
	Table      string `json:"table"`
	PK         string `json:"pk"`
	SK         string `json:"sk"`
	Attribute  string `json:"attribute"`
	Plaintext  string `json:"plaintext"`
	Ciphertext string `json:"ciphertext"`
}

type wrapVector struct {
	Name          string `json:"name"`
	BranchKey     string `json:"branch_key"`
	Nonce         string `json:"nonce"`
	SubjectKey    string `json:"subject_key"`
	Table         string `json:"table"`
	PK            string `json:"pk"`
	BranchVersion int    `json:"branch_version"`
	Wrapped       string `json:"wrapped"`
}

func loadVectors(t testing.TB) (fields []fieldVector, wraps []wrapVector) {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatalf("ReadFile() err = %v, want nil", err)
	}
	var v struct {
		Field []fieldVector `json:"field"`
		Wrap  []wrapVector  `json:"subject_key_wrap"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("Unmarshal(vectors) err = %v, want nil", err)
	}
	return v.Field, v.Wrap
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("DecodeString(%q) err = %v, want nil", s, err)
	}
	return b
}

func mustKey(t testing.TB, b []byte) *aesKey {
	t.Helper()
	k, err := newKey(b)
	if err != nil {
		t.Fatalf("newKey() err = %v, want nil", err)
	}
	return k
}

// TestFieldVectors pins the field format: the committed ciphertexts must
// always decrypt, and sealing the same inputs must reproduce them.
func TestFieldVectors(t *testing.T) {
	fields, _ := loadVectors(t)
	for _, v := range fields {
		t.Run(v.Name, func(t *testing.T) {
			k := mustKey(t, unhex(t, v.SubjectKey))
			ad := AD{Table: v.Table, PK: v.PK, SK: v.SK, Attribute: v.Attribute}
			want, ct := unhex(t, v.Plaintext), unhex(t, v.Ciphertext)
			h, ok := parse(ct)
			if !ok {
				t.Fatalf("parse(vector) ok = false, want true")
			}
			pt, err := open(k, h, ct, ad)
			if err != nil || !bytes.Equal(pt, want) {
				t.Errorf("open(vector) = %x, %v; want %x, nil", pt, err, want)
			}
			got, err := seal(k, unhex(t, v.Salt), unhex(t, v.Nonce), want, ad)
			if err != nil || !bytes.Equal(got, ct) {
				t.Errorf("seal(vector inputs) = %x, %v; want %x", got, err, ct)
			}
		})
	}
}

// TestWrapVectors pins the wrapped subject key format.
func TestWrapVectors(t *testing.T) {
	_, wraps := loadVectors(t)
	for _, v := range wraps {
		t.Run(v.Name, func(t *testing.T) {
			bk := mustKey(t, unhex(t, v.BranchKey))
			want := unhex(t, v.SubjectKey)
			k, err := unwrapSubject(bk, unhex(t, v.Wrapped), v.Table, v.PK, v.BranchVersion)
			if err != nil || !bytes.Equal(k.b[:], want) {
				t.Fatalf("unwrapSubject(vector) err = %v, want the vector's subject key", err)
			}
			got, err := wrapSubject(bk, unhex(t, v.Nonce), k, v.Table, v.PK, v.BranchVersion)
			if err != nil || hex.EncodeToString(got) != v.Wrapped {
				t.Errorf("wrapSubject(vector inputs) = %x, %v; want %s", got, err, v.Wrapped)
			}
			for name, bad := range map[string]func() (*aesKey, error){
				"table":   func() (*aesKey, error) { return unwrapSubject(bk, got, v.Table+"x", v.PK, v.BranchVersion) },
				"pk":      func() (*aesKey, error) { return unwrapSubject(bk, got, v.Table, v.PK+"x", v.BranchVersion) },
				"version": func() (*aesKey, error) { return unwrapSubject(bk, got, v.Table, v.PK, v.BranchVersion+1) },
				"short":   func() (*aesKey, error) { return unwrapSubject(bk, got[:len(got)-1], v.Table, v.PK, v.BranchVersion) },
			} {
				if _, err := bad(); err == nil {
					t.Errorf("unwrapSubject(wrong %s) err = nil, want error", name)
				}
			}
		})
	}
}

// TestCommitment checks that the commitment is verified before the GCM
// tag: a header whose commitment is replaced fails even with the right
// key, and a key other than the committed one fails.
func TestCommitment(t *testing.T) {
	fields, _ := loadVectors(t)
	v := fields[1]
	ct := unhex(t, v.Ciphertext)
	ad := AD{Table: v.Table, PK: v.PK, SK: v.SK, Attribute: v.Attribute}
	other := mustKey(t, bytes.Repeat([]byte{7}, keySize))
	h, _ := parse(ct)
	if _, err := open(other, h, ct, ad); err != ErrDecrypt {
		t.Errorf("open(other key) err = %v, want ErrDecrypt", err)
	}
	_, commit, err := derive(other, h.salt)
	if err != nil {
		t.Fatalf("derive() err = %v, want nil", err)
	}
	forged := bytes.Clone(ct)
	copy(forged[35:67], commit)
	fh, _ := parse(forged)
	if _, err := open(mustKey(t, unhex(t, v.SubjectKey)), fh, forged, ad); err != ErrDecrypt {
		t.Errorf("open(forged commitment) err = %v, want ErrDecrypt", err)
	}
}

func TestParse(t *testing.T) {
	fields, _ := loadVectors(t)
	valid := unhex(t, fields[1].Ciphertext)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"valid", valid, true},
		{"empty", nil, false},
		{"version 0", edit(func(b []byte) []byte { b[0] = 0; return b }), false},
		{"salt length 31", edit(func(b []byte) []byte { b[1] = 31; return b }), false},
		{"commitment length 255", edit(func(b []byte) []byte { b[34] = 255; return b }), false},
		{"nonce length 16", edit(func(b []byte) []byte { b[67] = 16; return b }), false},
		{"sealed length too long", edit(func(b []byte) []byte { b[83]++; return b }), false},
		{"sealed length too short", edit(func(b []byte) []byte { b[83]--; return b }), false},
		{"sealed length huge", edit(func(b []byte) []byte { b[80] = 0xff; return b }), false},
		{"trailing byte", append(bytes.Clone(valid), 0), false},
		{"header only", valid[:headerSize], false},
		{"no tag", edit(func(b []byte) []byte { b[83] = 0; return b[:headerSize] }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := parse(tc.in)
			if ok != tc.want {
				t.Fatalf("parse() ok = %v, want %v", ok, tc.want)
			}
			if ok && !bytes.Equal(h.encode(), tc.in) {
				t.Errorf("parse().encode() = %x, want %x", h.encode(), tc.in)
			}
		})
	}
}

// FuzzParse checks that the decoder never panics, that whatever it
// accepts re-encodes to identical bytes, and that open never panics.
func FuzzParse(f *testing.F) {
	fields, _ := loadVectors(f)
	known := map[string]bool{} // the only inputs allowed to decrypt
	for _, v := range fields {
		ct := unhex(f, v.Ciphertext)
		known[string(ct)] = true
		f.Add(ct)
		f.Add(ct[:len(ct)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{formatV1})
	k := mustKey(f, unhex(f, fields[0].SubjectKey))
	ad := AD{Table: fields[0].Table, PK: fields[0].PK, SK: fields[0].SK, Attribute: fields[0].Attribute}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parse(b)
		if !ok {
			return
		}
		if got := h.encode(); !bytes.Equal(got, b) {
			t.Fatalf("parse(%x).encode() = %x, want identical bytes", b, got)
		}
		if pt, err := open(k, h, b, ad); err == nil && !known[string(b)] {
			t.Fatalf("open(fuzzed %x) = %x, want ErrDecrypt", b, pt)
		}
	})
}

func TestLRU(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newLRU[int](2, time.Minute)
	c.put("a", 1, now)
	c.put("b", 2, now)
	c.put("a", 10, now) // update moves a to the front
	c.put("c", 3, now)  // evicts b
	steps := []struct {
		key    string
		at     time.Time
		want   int
		wantOK bool
	}{
		{"a", now, 10, true},
		{"b", now, 0, false},
		{"c", now.Add(59 * time.Second), 3, true},
		{"c", now.Add(time.Minute), 0, false}, // expired entries are removed
	}
	for _, st := range steps {
		if got, ok := c.get(st.key, st.at); got != st.want || ok != st.wantOK {
			t.Errorf("get(%q) = %d, %v; want %d, %v", st.key, got, ok, st.want, st.wantOK)
		}
	}
	c.remove("a")
	if n := c.len(); n != 0 {
		t.Errorf("len() after remove = %d, want 0", n)
	}
}

func TestKeyDoesNotPrint(t *testing.T) {
	k := mustKey(t, bytes.Repeat([]byte{0xab}, keySize))
	for _, s := range []string{k.String(), k.GoString(), k.LogValue().String()} {
		if s != "[key]" {
			t.Errorf("key formats as %q, want [key]", s)
		}
	}
}
