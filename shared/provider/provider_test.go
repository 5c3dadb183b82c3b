package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/secrets"
)

// fakeSM serves one provider-credentials secret.
type fakeSM struct{ doc string }

func (f fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.doc), VersionId: aws.String("v1")}, nil
}

// provider plays the Cloud API: it accepts one token, the Meta way or the
// RapidAPI way, and records how each request authenticated.
type fakeProvider struct {
	mu    sync.Mutex
	token string
	seen  []string
}

func (p *fakeProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var got, how string
	if k := r.Header.Get("X-RapidAPI-Key"); k != "" {
		got, how = k, "rapidapi:"+r.Header.Get("X-RapidAPI-Host")
	} else {
		got, how = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "bearer"
	}
	p.seen = append(p.seen, how)
	if got != p.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"messaging_product": "whatsapp", "messages": []map[string]string{{"id": "wamid.TEST"}}})
}

func TestSendersAndFallback(t *testing.T) {
	n, err := phone.Parse("+12015550142")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		rapidHost    string
		primary      string
		wantFallback bool
		wantAuth     []string
	}{
		{"meta primary", "", "good", false, []string{"bearer"}},
		{"meta fallback after 401", "", "revoked", true, []string{"bearer", "bearer"}},
		{"rapidapi primary", "whatsapp.example.p.rapidapi.com", "good", false, []string{"rapidapi:whatsapp.example.p.rapidapi.com"}},
		{"rapidapi fallback", "whatsapp.example.p.rapidapi.com", "revoked", true,
			[]string{"rapidapi:whatsapp.example.p.rapidapi.com", "rapidapi:whatsapp.example.p.rapidapi.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fp := &fakeProvider{token: "good"}
			srv := httptest.NewServer(fp)
			defer srv.Close()
			store := secrets.NewStore(fakeSM{doc: `{"kind":"provider-credentials","primary":"` + tc.primary + `","fallback":"good"}`}, time.Minute)
			s, err := New(store, Config{SecretID: "p", BaseURL: srv.URL, Version: "v21.0", PhoneNumberID: "100000000000001",
				HTTP: srv.Client(), RapidAPIHost: tc.rapidHost})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.SendText(context.Background(), n, "hello")
			if err != nil || res.ProviderID != "wamid.TEST" || res.UsedFallback != tc.wantFallback {
				t.Fatalf("SendText() = %+v, %v; want wamid.TEST, fallback %v", res, err, tc.wantFallback)
			}
			if strings.Join(fp.seen, ",") != strings.Join(tc.wantAuth, ",") {
				t.Errorf("authentications = %v, want %v", fp.seen, tc.wantAuth)
			}
		})
	}
}
