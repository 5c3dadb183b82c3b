package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/waguard/waguard/shared/settings"
	"github.com/waguard/waguard/shared/whatsapp"
)

// TestConfigDefaults: the settings' defaults are the client's.
func TestConfigDefaults(t *testing.T) {
	if settings.WhatsAppAPIBaseURL.Default != whatsapp.DefaultBaseURL || settings.GraphAPIVersion.Default != whatsapp.DefaultVersion {
		t.Errorf("settings defaults %s %s, want the client's %s %s", settings.WhatsAppAPIBaseURL.Default, settings.GraphAPIVersion.Default,
			whatsapp.DefaultBaseURL, whatsapp.DefaultVersion)
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"PHONE_NUMBER_ID": "100000000000001", "PROVIDER_SECRET_ID": "waguard/dev/provider"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    Config // HTTP is not compared
		wantErr string // a setting the error names
	}{
		{"defaults", base, Config{SecretID: "waguard/dev/provider", BaseURL: "https://graph.facebook.com", Version: "v23.0", PhoneNumberID: "100000000000001"}, ""},
		{"sandbox and rapidapi", with("PROVIDER_RAPIDAPI_HOST", "whatsapp.example.p.rapidapi.com"),
			Config{SecretID: "waguard/dev/provider", BaseURL: "https://graph.facebook.com", Version: "v23.0", PhoneNumberID: "100000000000001",
				RapidAPIHost: "whatsapp.example.p.rapidapi.com"}, ""},
		{"loopback sandbox", with("WHATSAPP_API_BASE_URL", "http://127.0.0.1:8003/"),
			Config{SecretID: "waguard/dev/provider", BaseURL: "http://127.0.0.1:8003", Version: "v23.0", PhoneNumberID: "100000000000001"}, ""},
		{"version", with("GRAPH_API_VERSION", "v21.0"),
			Config{SecretID: "waguard/dev/provider", BaseURL: "https://graph.facebook.com", Version: "v21.0", PhoneNumberID: "100000000000001"}, ""},
		{"no phone number id", with("PHONE_NUMBER_ID", ""), Config{}, "PHONE_NUMBER_ID"},
		{"phone number id not digits", with("PHONE_NUMBER_ID", "1000x"), Config{}, "PHONE_NUMBER_ID"},
		{"plain http elsewhere", with("WHATSAPP_API_BASE_URL", "http://graph.facebook.com"), Config{}, "WHATSAPP_API_BASE_URL"},
		{"base url with a path", with("WHATSAPP_API_BASE_URL", "https://graph.facebook.com/v21.0"), Config{}, "WHATSAPP_API_BASE_URL"},
		{"base url with credentials", with("WHATSAPP_API_BASE_URL", "https://user:pw@proxy.example.com"), Config{}, "WHATSAPP_API_BASE_URL"},
		{"bad version", with("GRAPH_API_VERSION", "latest"), Config{}, "GRAPH_API_VERSION"},
		{"rapidapi host with a header break", with("PROVIDER_RAPIDAPI_HOST", "a.example.com\r\nX-Evil: 1"), Config{}, "PROVIDER_RAPIDAPI_HOST"},
		{"rapidapi host a URL", with("PROVIDER_RAPIDAPI_HOST", "https://a.example.com"), Config{}, "PROVIDER_RAPIDAPI_HOST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ConfigFromEnv() err = %v, want one naming %s", err, tt.wantErr)
				}
				for _, v := range tt.env {
					if v != "" && strings.Contains(err.Error(), v) {
						t.Errorf("ConfigFromEnv() err %q contains the value %q", err, v)
					}
				}
				return
			}
			if err != nil || got.HTTP == nil {
				t.Fatalf("ConfigFromEnv() = %+v, %v; want a configuration with its HTTP client", got, err)
			}
			got.HTTP = nil
			if got != tt.want {
				t.Errorf("ConfigFromEnv() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestConfigClient: the one client authenticates as configured, for a
// send and for rotate's mark-as-read check alike.
func TestConfigClient(t *testing.T) {
	for _, tc := range []struct{ rapidHost, want string }{
		{"", "bearer:tok"},
		{"whatsapp.example.p.rapidapi.com", "rapidapi:tok@whatsapp.example.p.rapidapi.com"},
	} {
		var seen []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			how := "bearer:" + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if k := r.Header.Get("X-RapidAPI-Key"); k != "" || r.Header.Get("Authorization") == "" {
				how = "rapidapi:" + k + "@" + r.Header.Get("X-RapidAPI-Host")
			}
			seen = append(seen, how)
			_, _ = w.Write([]byte(`{"messaging_product":"whatsapp","messages":[{"id":"wamid.TEST"}],"success":true}`))
		}))
		c, err := Config{BaseURL: srv.URL, Version: "v21.0", PhoneNumberID: "100000000000001", HTTP: srv.Client(), RapidAPIHost: tc.rapidHost}.Client("tok")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.SendText(context.Background(), "+12015550142", "hello"); err != nil {
			t.Errorf("SendText() err = %v", err)
		}
		if err := c.MarkRead(context.Background(), "wamid.test"); err != nil {
			t.Errorf("MarkRead() err = %v", err)
		}
		srv.Close()
		if len(seen) != 2 || seen[0] != tc.want || seen[1] != tc.want {
			t.Errorf("rapidapi %q: authentications = %v, want %q twice", tc.rapidHost, seen, tc.want)
		}
	}
}
