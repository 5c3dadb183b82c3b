package outbound

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/provider"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/whatsapp"
)

// fakeStore keeps each message's status and the audit events committed
// with each write, as the store commits them: all or nothing.
type fakeStore struct {
	status   map[string]string
	audit    []audit.Event
	items    int
	prepared store.Outbound
	// failIntent, failConfirm make those writes fail; itemsRefused makes
	// a confirmation carrying extra items fail their condition.
	failIntent, failConfirm, itemsRefused bool
}

func newFakeStore() *fakeStore { return &fakeStore{status: map[string]string{}} }

func (f *fakeStore) PutOutbound(_ context.Context, m store.Outbound, u store.Unit) error {
	if f.failIntent {
		return errors.New("dynamodb down")
	}
	f.status[m.ID] = m.Status
	f.audit, f.items = append(f.audit, u.Audit...), f.items+len(u.Items)
	return nil
}

func (f *fakeStore) PrepareConfirm(_ context.Context, m store.Outbound) (store.Confirmation, error) {
	f.prepared = m
	return store.Confirmation{}, nil
}

func (f *fakeStore) Confirm(_ context.Context, _ store.Confirmation, u store.Unit) error {
	switch {
	case f.failConfirm:
		return errors.New("dynamodb down")
	case f.status[f.prepared.ID] != store.StatusSending:
		return store.ErrNotFound
	case f.itemsRefused && len(u.Items) > 0:
		return store.ErrItemCondition
	}
	f.status[f.prepared.ID] = f.prepared.Status
	f.audit, f.items = append(f.audit, u.Audit...), f.items+len(u.Items)
	return nil
}

func (f *fakeStore) WithdrawOutbound(_ context.Context, _, id string, u store.Unit) error {
	delete(f.status, id)
	f.audit = append(f.audit, u.Audit...)
	return nil
}

func (f *fakeStore) SendingOutbound(_ context.Context, _, id string) (store.Outbound, error) {
	if f.status[id] != store.StatusSending {
		return store.Outbound{}, store.ErrNotFound
	}
	return store.Outbound{ID: id, Status: store.StatusSending}, nil
}

// fakeProvider answers with errs in turn (nil: accepted), noting whether
// the message was recorded as sending when each call arrived.
type fakeProvider struct {
	st       *fakeStore
	errs     []error
	fallback bool
	calls    int
	unseen   int
}

func (p *fakeProvider) answer(opts []whatsapp.SendOption) (provider.Result, error) {
	p.calls++
	if len(p.st.status) == 0 {
		p.unseen++
	}
	var err error
	if len(p.errs) > 0 {
		err, p.errs = p.errs[0], p.errs[1:]
	}
	if err != nil {
		return provider.Result{}, err
	}
	return provider.Result{ProviderID: fmt.Sprintf("wamid.%d", p.calls), UsedFallback: p.fallback}, nil
}

func (p *fakeProvider) SendText(_ context.Context, _ provider.Recipient, _ string, opts ...whatsapp.SendOption) (provider.Result, error) {
	return p.answer(opts)
}

func (p *fakeProvider) SendTemplate(_ context.Context, _ provider.Recipient, _ whatsapp.Template, opts ...whatsapp.SendOption) (provider.Result, error) {
	return p.answer(opts)
}

func newSender(errs ...error) (*Sender, *fakeStore, *fakeProvider) {
	st := newFakeStore()
	p := &fakeProvider{st: st, errs: errs}
	return &Sender{Store: st, Provider: p, Lookup: func(id string) string { return "lk-" + id }, Retries: 2}, st, p
}

func message() *Message {
	text := "hello"
	return &Message{Record: store.Outbound{Subject: "s1", ID: "msg_TEST"}, Text: &text,
		Audit: audit.Event{Subject: "ps1", Actor: audit.Actor{Caller: "test"}, Details: map[string]string{"reason": "unit"}}}
}

func auditSummary(evs []audit.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+":"+e.Details["outcome"]+e.Details["status"])
	}
	return out
}

// TestSend runs the protocol against each kind of provider answer: the
// record always exists before the call; only a proof of "not sent"
// withdraws it; an unknown outcome leaves it sending and is never
// retried; a retryable refusal is retried.
func TestSend(t *testing.T) {
	graph := func(status, code int) error { return &whatsapp.APIError{Status: status, Code: code} }
	tests := []struct {
		name       string
		errs       []error
		wantCalls  int
		wantStatus string // "" : withdrawn
		wantErr    bool
		wantAudit  []string
	}{
		{"accepted", nil, 1, "sent", false, []string{"message_sent:submitted"}},
		{"refused for good", []error{graph(400, 131026)}, 1, "", true, []string{"message_sent:submitted", "message_status:failed"}},
		{"gateway 502 without body", []error{graph(http.StatusBadGateway, 0)}, 1, store.StatusSending, true, []string{"message_sent:submitted"}},
		{"timeout", []error{context.DeadlineExceeded}, 1, store.StatusSending, true, []string{"message_sent:submitted"}},
		{"rate limited, then accepted", []error{graph(400, 130429)}, 2, "sent", false, []string{"message_sent:submitted"}},
		{"not connected, then accepted", []error{fmt.Errorf("dial: %w", whatsapp.ErrNotSent)}, 2, "sent", false, []string{"message_sent:submitted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st, p := newSender(tt.errs...)
			m := message()
			_, err := s.Send(context.Background(), m)
			if (err != nil) != tt.wantErr || errors.Is(err, ErrNotRecorded) {
				t.Errorf("Send() err = %v, want error %v (never ErrNotRecorded)", err, tt.wantErr)
			}
			if p.calls != tt.wantCalls || p.unseen != 0 {
				t.Errorf("provider calls = %d (%d before the record existed), want %d, 0", p.calls, p.unseen, tt.wantCalls)
			}
			if got := st.status[m.Record.ID]; got != tt.wantStatus {
				t.Errorf("status = %q, want %q", got, tt.wantStatus)
			}
			if got := fmt.Sprint(auditSummary(st.audit)); got != fmt.Sprint(tt.wantAudit) {
				t.Errorf("audit = %v, want %v", got, tt.wantAudit)
			}
			for _, e := range st.audit {
				if e.Details["reason"] != "unit" || e.Subject != "ps1" || e.Details["message"] != m.Record.ID {
					t.Errorf("audit event %+v lacks the caller's subject, details or the message id", e)
				}
			}
		})
	}
}

// TestSendNotRecordedNeverCalls: when the intent cannot be recorded,
// nothing is sent.
func TestSendNotRecordedNeverCalls(t *testing.T) {
	s, st, p := newSender()
	st.failIntent = true
	if _, err := s.Send(context.Background(), message()); !errors.Is(err, ErrNotRecorded) {
		t.Errorf("Send() err = %v, want ErrNotRecorded", err)
	}
	if p.calls != 0 {
		t.Errorf("provider calls = %d, want 0", p.calls)
	}
}

// TestSendNotConfirmed: sent, but the confirmation could not be written:
// the caller learns it was sent (ErrNotConfirmed, the result), and the
// record stays sending for Meta's status to complete.
func TestSendNotConfirmed(t *testing.T) {
	s, st, _ := newSender()
	st.failConfirm = true
	m := message()
	res, err := s.Send(context.Background(), m)
	if !errors.Is(err, ErrNotConfirmed) || res.ProviderID == "" {
		t.Errorf("Send() = %+v, %v; want the result and ErrNotConfirmed", res, err)
	}
	if st.status[m.Record.ID] != store.StatusSending {
		t.Errorf("status = %q, want sending", st.status[m.Record.ID])
	}
}

// TestFallbackAudited: a send with the fallback key is audited without
// the person's pseudonym.
func TestFallbackAudited(t *testing.T) {
	s, st, p := newSender()
	p.fallback = true
	if _, err := s.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	last := st.audit[len(st.audit)-1]
	if last.Type != audit.EventAPIKeyFallbackUsed || last.Subject != "" {
		t.Errorf("last audit event = %+v, want api_key_fallback_used without a subject", last)
	}
}

// TestConfirmLost completes a message left sending from a provider
// status, with the idempotency key's completion, or alone when the key's
// condition fails; a message not sending is ErrNotFound.
func TestConfirmLost(t *testing.T) {
	extra := func(store.Outbound) []types.TransactWriteItem { return []types.TransactWriteItem{{}} }
	for _, refused := range []bool{false, true} {
		s, st, _ := newSender()
		st.status["msg_LOST"], st.itemsRefused = store.StatusSending, refused
		if err := s.ConfirmLost(context.Background(), "s1", "msg_LOST", "wamid.L", extra); err != nil {
			t.Fatalf("ConfirmLost(key refused %v) err = %v", refused, err)
		}
		if st.status["msg_LOST"] != "sent" || st.prepared.ProviderID != "wamid.L" || st.prepared.Lookup != "lk-wamid.L" {
			t.Errorf("key refused %v: status %q, confirmed %+v; want sent with the provider id and its lookup", refused, st.status["msg_LOST"], st.prepared)
		}
		if want := map[bool]int{false: 1, true: 0}[refused]; st.items != want {
			t.Errorf("key refused %v: extra items committed = %d, want %d", refused, st.items, want)
		}
	}
	s, _, _ := newSender()
	if err := s.ConfirmLost(context.Background(), "s1", "msg_NONE", "wamid.N", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ConfirmLost(unknown) err = %v, want ErrNotFound", err)
	}
}

// TestWithdrawWithoutProvider: no provider configured proves nothing
// was sent.
func TestWithdrawWithoutProvider(t *testing.T) {
	s, st, _ := newSender()
	m := message()
	if err := s.Intend(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Withdraw(context.Background(), m, ErrNoProvider); !ok || err != nil {
		t.Fatalf("Withdraw() = %v, %v; want true", ok, err)
	}
	if last := st.audit[len(st.audit)-1]; last.Details["reason"] != "credentials_unavailable" {
		t.Errorf("withdrawal audited %+v, want reason credentials_unavailable", last)
	}
}
