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
	"github.com/waguard/waguard/shared/whatsapp"
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
			res, err := s.SendText(context.Background(), ToPhone(n), "hello")
			if err != nil || res.ProviderID != "wamid.TEST" || res.UsedFallback != tc.wantFallback {
				t.Fatalf("SendText() = %+v, %v; want wamid.TEST, fallback %v", res, err, tc.wantFallback)
			}
			if strings.Join(fp.seen, ",") != strings.Join(tc.wantAuth, ",") {
				t.Errorf("authentications = %v, want %v", fp.seen, tc.wantAuth)
			}
		})
	}
}

// rotatingSM serves a provider-credentials secret whose value the test
// replaces, as a rotation does, and counts the reads.
type rotatingSM struct {
	mu    sync.Mutex
	doc   string
	reads int
}

func (f *rotatingSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.doc), VersionId: aws.String("v" + string(rune('0'+f.reads)))}, nil
}

// TestRotatedAndRevokedTokens checks that a sender whose cached tokens
// have both been revoked after a rotation reads the secret again and
// sends with the new primary, and that it does not retry when the secret
// has not changed.
func TestRotatedAndRevokedTokens(t *testing.T) {
	n, err := phone.Parse("+12015550142")
	if err != nil {
		t.Fatal(err)
	}
	fp := &fakeProvider{token: "old"}
	srv := httptest.NewServer(fp)
	defer srv.Close()
	sm := &rotatingSM{doc: `{"kind":"provider-credentials","primary":"old","fallback":"older"}`}
	s, err := New(secrets.NewStore(sm, time.Hour), Config{SecretID: "p", BaseURL: srv.URL, Version: "v21.0",
		PhoneNumberID: "100000000000001", HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendText(context.Background(), ToPhone(n), "hello"); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	// The rotation finishes and the operator revokes the old token; the
	// sender still caches {old, older} for an hour.
	sm.mu.Lock()
	sm.doc = `{"kind":"provider-credentials","primary":"new","fallback":"old"}`
	sm.mu.Unlock()
	fp.mu.Lock()
	fp.token, fp.seen = "new", nil
	fp.mu.Unlock()
	res, err := s.SendText(context.Background(), ToPhone(n), "hello")
	if err != nil || res.ProviderID != "wamid.TEST" {
		t.Fatalf("after rotation and revocation = %+v, %v; want sent with the new primary", res, err)
	}
	if len(fp.seen) != 3 {
		t.Errorf("calls = %d, want 3 (cached primary, cached fallback, new primary)", len(fp.seen))
	}
	// Nothing accepted and nothing new to read: one refusal, no loop.
	fp.mu.Lock()
	fp.token, fp.seen = "other", nil
	fp.mu.Unlock()
	if _, err := s.SendText(context.Background(), ToPhone(n), "hello"); !refused(err) {
		t.Fatalf("with every token revoked err = %v, want the provider's 401", err)
	}
	if len(fp.seen) != 2 {
		t.Errorf("calls with every token revoked = %d, want 2 (primary and fallback once each)", len(fp.seen))
	}
}

// TestNoSecondTokenAfterAnAmbiguousAnswer: only an answer that proves the
// message was not accepted lets the sender try the fallback token (or
// re-read the secret). A gateway's 502 without Meta's body may hide an
// accepted message, so it is returned as is, after one call.
func TestNoSecondTokenAfterAnAmbiguousAnswer(t *testing.T) {
	n, err := phone.Parse("+12015550142")
	if err != nil {
		t.Fatal(err)
	}
	for _, rapidHost := range []string{"", "whatsapp.example.p.rapidapi.com"} {
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			w.WriteHeader(http.StatusBadGateway)
		}))
		store := secrets.NewStore(fakeSM{doc: `{"kind":"provider-credentials","primary":"good","fallback":"other"}`}, time.Minute)
		s, err := New(store, Config{SecretID: "p", BaseURL: srv.URL, Version: "v21.0", PhoneNumberID: "100000000000001",
			HTTP: srv.Client(), RapidAPIHost: rapidHost})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.SendText(context.Background(), ToPhone(n), "hello")
		srv.Close()
		if got := whatsapp.Classify(err); got != whatsapp.OutcomeUnknown || res.UsedFallback {
			t.Errorf("rapidapi %q: SendText() = %+v, %v (%v); want an unknown outcome", rapidHost, res, err, got)
		}
		if calls != 1 {
			t.Errorf("rapidapi %q: provider calls = %d, want 1", rapidHost, calls)
		}
	}
}
