package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEndpointOverridesSet(t *testing.T) {
	tests := []struct {
		name, value string
		wantErr     bool
		want        endpointOverrides
	}{
		{name: "every function", value: "DYNAMODB=http://127.0.0.1:1", want: endpointOverrides{"DYNAMODB": "http://127.0.0.1:1"}},
		{name: "one function", value: "EventsFunction:EVENTBRIDGE=http://127.0.0.1:2",
			want: endpointOverrides{"EventsFunction:EVENTBRIDGE": "http://127.0.0.1:2"}},
		{name: "streams", value: "EventsFunction:DYNAMODB_STREAMS=http://127.0.0.1:3",
			want: endpointOverrides{"EventsFunction:DYNAMODB_STREAMS": "http://127.0.0.1:3"}},
		{name: "no URL", value: "KMS=", wantErr: true},
		{name: "no equals", value: "KMS", wantErr: true},
		{name: "unknown service", value: "S3=http://127.0.0.1:1", wantErr: true},
		{name: "unknown service for a function", value: "EventsFunction:S3=http://127.0.0.1:1", wantErr: true},
		{name: "empty function", value: ":KMS=http://127.0.0.1:1", wantErr: true},
		{name: "bad function", value: "Events-Function:KMS=http://127.0.0.1:1", wantErr: true},
		{name: "not a URL", value: "KMS=127.0.0.1:1", wantErr: true},
		{name: "no host", value: "KMS=http://", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := endpointOverrides{}
			err := got.set(tt.value)
			if (err != nil) != tt.wantErr {
				t.Fatalf("set(%q) err = %v, want error %v", tt.value, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("set(%q) (-want +got):\n%s", tt.value, diff)
			}
		})
	}
}

func TestEndpointOverridesForFunction(t *testing.T) {
	e := endpointOverrides{}
	for _, v := range []string{"DYNAMODB=http://127.0.0.1:1", "KMS=http://127.0.0.1:2",
		"EventsFunction:DYNAMODB=http://127.0.0.1:3", "EventsFunction:DYNAMODB_STREAMS=http://127.0.0.1:4"} {
		if err := e.set(v); err != nil {
			t.Fatalf("set(%q) err = %v, want nil", v, err)
		}
	}
	tests := []struct {
		fn   string
		want map[string]string
	}{
		{fn: "EventsFunction", want: map[string]string{"DYNAMODB": "http://127.0.0.1:3", "KMS": "http://127.0.0.1:2",
			"DYNAMODB_STREAMS": "http://127.0.0.1:4"}},
		{fn: "WebhookFunction", want: map[string]string{"DYNAMODB": "http://127.0.0.1:1", "KMS": "http://127.0.0.1:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, e.forFunction(tt.fn)); diff != "" {
				t.Errorf("forFunction(%q) (-want +got):\n%s", tt.fn, diff)
			}
		})
	}
}

// FuzzEndpointOverridesSet checks the -function-endpoint parser never
// panics, and that what it accepts applies to the function it names (or,
// unscoped, to every function) for the service it names.
func FuzzEndpointOverridesSet(f *testing.F) {
	f.Add("DYNAMODB=http://127.0.0.1:1")
	f.Add("EventsFunction:DYNAMODB_STREAMS=http://127.0.0.1:3")
	f.Add("Events-Function:KMS=http://x")
	f.Add(":KMS=http://x")
	f.Add("KMS=ftp://x")
	f.Fuzz(func(t *testing.T, v string) {
		e := endpointOverrides{}
		if e.set(v) != nil {
			if len(e) != 0 {
				t.Fatalf("set(%q) failed but kept %v", v, e)
			}
			return
		}
		if len(e) != 1 {
			t.Fatalf("set(%q) kept %d overrides, want 1", v, len(e))
		}
		target, u, _ := strings.Cut(v, "=")
		fn, svc, scoped := strings.Cut(target, ":")
		if !scoped {
			fn, svc = "SomeFunction", target
		}
		if got := e.forFunction(fn)[svc]; got != u {
			t.Fatalf("set(%q): forFunction(%q)[%q] = %q, want %q", v, fn, svc, got, u)
		}
	})
}
