package main

import (
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
