package signature

import (
	"errors"
	"testing"
	"time"
)

// metaVector is one case of testdata/meta_vectors.json.
type metaVector struct {
	Name    string   `json:"name"`
	Secrets []string `json:"secrets"`
	Body    string   `json:"body"`
	Header  string   `json:"header"`
	Want    string   `json:"want"`
}

func TestMetaVectors(t *testing.T) {
	var vectors []metaVector
	decodeTestdata(t, "meta_vectors.json", &vectors)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			body := readTestdata(t, v.Body)
			err := VerifyMeta(body, v.Header, keys(t, v.Secrets)...)
			if want := wantErr(t, v.Want); err != want {
				t.Errorf("VerifyMeta(%s, header) err = %v, want %v", v.Body, err, want)
			}
		})
	}
}

// signedVector is one case of testdata/signed_vectors.json.
type signedVector struct {
	Name       string            `json:"name"`
	Secrets    []string          `json:"secrets"`
	Body       string            `json:"body"`
	NowMS      int64             `json:"now_ms"`
	ToleranceS int               `json:"tolerance_s"`
	Headers    map[string]string `json:"headers"`
	Want       string            `json:"want"`
	Scheme     string            `json:"scheme"`
	ReplayKey  string            `json:"replay_key"`
}

func TestSignedVectors(t *testing.T) {
	var vectors []signedVector
	decodeTestdata(t, "signed_vectors.json", &vectors)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			body := readTestdata(t, v.Body)
			h := HeadersFrom(func(name string) string { return v.Headers[name] })
			tol := time.Duration(v.ToleranceS) * time.Second
			got, err := VerifySigned(h, body, time.UnixMilli(v.NowMS), tol, keys(t, v.Secrets)...)
			if want := wantErr(t, v.Want); !errors.Is(err, want) || (want == nil && err != nil) {
				t.Fatalf("VerifySigned(headers, %s) err = %v, want %v", v.Body, err, want)
			}
			if err != nil {
				if got != (Result{}) {
					t.Errorf("VerifySigned() result = %+v on error, want zero", got)
				}
				return
			}
			if got.Scheme.String() != v.Scheme || got.ReplayKey != v.ReplayKey {
				t.Errorf("VerifySigned() = %v %q, want %s %q", got.Scheme, got.ReplayKey, v.Scheme, v.ReplayKey)
			}
		})
	}
}
