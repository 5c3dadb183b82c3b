package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHTTPInvoker(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  string
		body    string
		wantErr bool
	}{
		{name: "success with null result", status: http.StatusOK, body: "null"},
		{name: "success with object result", status: http.StatusOK, body: `{"ok":true}`},
		{name: "function error in body", status: http.StatusOK, body: `{"errorMessage":"boom","errorType":"Runtime.Error"}`, wantErr: true},
		{name: "function error header", status: http.StatusOK, header: "Unhandled", body: `"boom"`, wantErr: true},
		{name: "server error", status: http.StatusInternalServerError, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			received := make(chan string, 1)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				received <- string(b)
				if tt.header != "" {
					w.Header().Set("X-Amz-Function-Error", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(ts.Close)
			inv := &httpInvoker{url: ts.URL, client: ts.Client()}
			err := inv.Invoke(t.Context(), "arn:aws:lambda:us-east-1:000000000000:function:f", []byte(`{"Step":"createSecret"}`))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Invoke() err = %v, want error: %v", err, tt.wantErr)
			}
			if got := <-received; got != `{"Step":"createSecret"}` {
				t.Errorf("function received %q, want the event", got)
			}
		})
	}
}
