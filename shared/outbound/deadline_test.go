package outbound

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// fakeSM serves the provider credentials.
type fakeSM struct{}

func (fakeSM) GetSecretValue(ctx context.Context, _ *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(`{"primary":"test-token"}`), VersionId: aws.String("v1")}, nil
}

// deadlineStore is a fakeStore that notes how much of the invocation was
// left at each write after the provider call.
type deadlineStore struct {
	*fakeStore
	left []time.Duration
}

func (d *deadlineStore) WithdrawOutbound(ctx context.Context, subject, id string, u store.Unit) error {
	d.note(ctx)
	return d.fakeStore.WithdrawOutbound(ctx, subject, id, u)
}

func (d *deadlineStore) note(ctx context.Context) {
	if dl, ok := ctx.Deadline(); ok {
		d.left = append(d.left, time.Until(dl))
	}
}

// TestHungProviderLeavesTheReserve: a provider that never answers, with
// less time left in the invocation than the WhatsApp client's own
// timeout. The call must end on its own deadline with the provider's
// reserve still left, so that the outcome is settled and audited and the
// invocation answers before its deadline: withdrawn with a
// message_status failed event when the connection never opened, kept
// sending with its message_sent event when it did (the outcome is
// unknown). Before the provider calls had deadlines of their own, the
// call ran into the invocation's deadline (the client waited 15 s; the
// webhook has 10), leaving nothing to withdraw or answer with.
func TestHungProviderLeavesTheReserve(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	hangingDial := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}}
	for _, tc := range []struct {
		name      string
		http      *http.Client // nil: the production client (whatsapp.NewHTTPClient)
		outcome   whatsapp.Outcome
		status    string
		audit     []string
		withdrawn bool
	}{
		{"connected, never answers", nil, whatsapp.OutcomeUnknown, "sending", []string{"message_sent:submitted"}, false},
		{"never connects", hangingDial, whatsapp.OutcomeRefusedRetryable, "", []string{"message_sent:submitted", "message_status:failed"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := provider.New(secrets.NewStore(fakeSM{}, time.Minute), provider.Config{SecretID: "provider-credentials",
				BaseURL: srv.URL, Version: whatsapp.DefaultVersion, PhoneNumberID: "100000000000001", HTTP: tc.http})
			if err != nil {
				t.Fatalf("provider.New() err = %v, want nil", err)
			}
			st := &deadlineStore{fakeStore: newFakeStore()}
			s := &Sender{Store: st, Provider: p, Lookup: func(id string) string { return "lk-" + id }}

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			dl, _ := ctx.Deadline()
			m := message()
			n, err := phone.Parse("+12015550142")
			if err != nil {
				t.Fatal(err)
			}
			m.To = provider.ToPhone(n)
			_, err = s.Send(ctx, m)
			left := time.Until(dl)
			if err == nil || whatsapp.Classify(err) != tc.outcome {
				t.Fatalf("Send() err = %v (%v), want outcome %v", err, whatsapp.Classify(err), tc.outcome)
			}
			if left < time.Second {
				t.Errorf("Send() returned %v before the invocation's deadline, want at least 1s of the provider's 2s reserve left", left)
			}
			if got := st.status[m.Record.ID]; got != tc.status {
				t.Errorf("message status = %q, want %q", got, tc.status)
			}
			if got := auditSummary(st.audit); !slices.Equal(got, tc.audit) {
				t.Errorf("audit = %v, want %v", got, tc.audit)
			}
			if tc.withdrawn && (len(st.left) != 1 || st.left[0] < time.Second) {
				t.Errorf("withdrawal had %v of the invocation left, want one withdrawal with at least 1s", st.left)
			}
		})
	}
}
