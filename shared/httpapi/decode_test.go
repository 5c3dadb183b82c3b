package httpapi

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

type decoded struct {
	A int    `json:"a"`
	B string `json:"b,omitempty"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{"object", `{"a":1}`, true},
		{"all fields", `{"a":1,"b":"x"}`, true},
		{"white space after", "{\"a\":1}\n \t", true},
		{"unknown field", `{"a":1,"c":2}`, false},
		{"wrong type", `{"a":"1"}`, false},
		{"empty", ``, false},
		{"not JSON", `a=1`, false},
		{"two values", `{"a":1}{"a":2}`, false},
		{"a closing brace after", `{"a":1}}`, false},
		{"a closing bracket after", `{"a":1}]`, false},
		{"a number after", `{"a":1} 2`, false},
		{"truncated", `{"a":1`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v decoded
			if err := Decode([]byte(tc.body), &v); (err == nil) != tc.ok {
				t.Errorf("Decode(%q) err = %v, want ok %v", tc.body, err, tc.ok)
			}
		})
	}
	var v decoded
	if err := Decode([]byte(`{"a":1} {}`), &v); !errors.Is(err, ErrTrailingData) {
		t.Errorf("Decode(trailing value) err = %v, want ErrTrailingData", err)
	}
}

// FuzzDecode checks that Decode never panics and accepts only what
// encoding/json accepts as one value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1}}`, `{"a":1,"c":2}`, `[]`, `null`, ` `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v decoded
		if Decode(b, &v) == nil && !json.Valid(b) {
			t.Errorf("Decode(%q) = nil for input json.Valid refuses", b)
		}
	})
}

func TestBody(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     events.APIGatewayV2HTTPRequest
		want    string
		wantErr bool
	}{
		{"plain", events.APIGatewayV2HTTPRequest{Body: `{"a":1}`}, `{"a":1}`, false},
		{"base64", events.APIGatewayV2HTTPRequest{Body: "eyJhIjoxfQ==", IsBase64Encoded: true}, `{"a":1}`, false},
		{"bad base64", events.APIGatewayV2HTTPRequest{Body: "{not base64", IsBase64Encoded: true}, "", true},
		{"empty", events.APIGatewayV2HTTPRequest{}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Body(tc.req)
			if (err != nil) != tc.wantErr || string(got) != tc.want {
				t.Errorf("Body() = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
