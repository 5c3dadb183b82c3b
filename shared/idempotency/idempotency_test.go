package idempotency_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/idempotency"
)

func TestMain(m *testing.M) {
	stacktest.RestrictToLoopback()
	os.Exit(m.Run())
}

const (
	testClient = "ops"
	testKey    = "6f1c2b2e-6a36-4f6e-9a53-3c1d5b2f0e11"
)

var (
	t0        = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	testBody  = []byte(`{"to":"+447700900123","text":"hello"}`) // synthetic number
	otherBody = []byte(`{"to":"+447700900123","text":"bye"}`)
	okResp    = idempotency.Response{Status: 202, Body: []byte(`{"id":"msg_1"}`), Headers: map[string]string{"Location": "/v1/messages/msg_1"}}
	ruleResp  = idempotency.Response{Status: 422, Body: []byte(`{"error":"no_consent"}`)}
	errBoom   = errors.New("provider unavailable")
)

type fixture struct {
	table  *fakeTable
	clock  *fakeClock
	store  *idempotency.Store
	ctx    context.Context
	cancel context.CancelFunc
	runs   int
}

func newFixture(t *testing.T, c idempotency.Config) *fixture {
	t.Helper()
	f := &fixture{table: newFakeTable(), clock: &fakeClock{t: t0}}
	c.Table, c.Now, c.Sleep = testTable, f.clock.Now, f.clock.Sleep
	s, err := idempotency.New(f.table, c)
	if err != nil {
		t.Fatalf("New() err = %v, want nil", err)
	}
	f.store = s
	f.ctx, f.cancel = context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(f.cancel)
	return f
}

// op counts its runs and answers resp, err.
func (f *fixture) op(resp idempotency.Response, err error) func(context.Context) (idempotency.Response, error) {
	return func(context.Context) (idempotency.Response, error) {
		f.runs++
		return resp, err
	}
}

// do runs a complete request for body that answers resp.
func (f *fixture) do(t *testing.T, body []byte, resp idempotency.Response) {
	t.Helper()
	if _, _, err := f.store.Do(f.ctx, testClient, testKey, body, f.op(resp, nil)); err != nil {
		t.Fatalf("Do() err = %v, want nil", err)
	}
}

// claim claims the key from an invocation whose deadline is d away.
func (f *fixture) claim(t *testing.T, body []byte, d time.Duration) *idempotency.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	lease, prior, err := f.store.Claim(ctx, testClient, testKey, body)
	if err != nil || lease == nil || prior != nil {
		t.Fatalf("Claim() = %v, %v, %v, want a lease", lease, prior, err)
	}
	return lease
}

func status(t *testing.T, f *fixture) string {
	t.Helper()
	return fakeS(f.table.only(t)["status"])
}

func TestDo(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(t *testing.T, f *fixture)
		opResp       idempotency.Response
		opErr        error
		wantResp     idempotency.Response
		wantReplayed bool
		wantErr      error
		wantRuns     int
		wantStatus   string // of the stored record afterwards; "" for none
		wantWaited   time.Duration
		check        func(t *testing.T, f *fixture)
	}{
		{
			name:   "first call runs and stores",
			opResp: okResp, wantResp: okResp, wantRuns: 1, wantStatus: "completed",
		},
		{
			name:   "replay of a completed request",
			setup:  func(t *testing.T, f *fixture) { f.do(t, testBody, okResp) },
			opResp: okResp, wantResp: okResp, wantReplayed: true, wantStatus: "completed",
		},
		{
			name:   "replay of a failure decided by business rules",
			setup:  func(t *testing.T, f *fixture) { f.do(t, testBody, ruleResp) },
			opResp: okResp, wantResp: ruleResp, wantReplayed: true, wantStatus: "completed",
		},
		{
			name:   "different body after completion conflicts",
			setup:  func(t *testing.T, f *fixture) { f.do(t, otherBody, okResp) },
			opResp: okResp, wantErr: idempotency.ErrConflict, wantStatus: "completed",
		},
		{
			name:   "different body while in progress conflicts at once",
			setup:  func(t *testing.T, f *fixture) { f.claim(t, otherBody, 10*time.Second) },
			opResp: okResp, wantErr: idempotency.ErrConflict, wantStatus: "in_progress",
		},
		{
			name: "in progress then completed is replayed after waiting",
			setup: func(t *testing.T, f *fixture) {
				lease := f.claim(t, testBody, 10*time.Second)
				f.clock.onSleep = func(n int) {
					if n == 3 {
						if err := lease.Complete(context.Background(), okResp); err != nil {
							t.Errorf("Complete() err = %v, want nil", err)
						}
					}
				}
			},
			opResp: ruleResp, wantResp: okResp, wantReplayed: true, wantStatus: "completed",
			wantWaited: 350 * time.Millisecond, // 50 + 100 + 200
		},
		{
			name: "in progress then released runs",
			setup: func(t *testing.T, f *fixture) {
				lease := f.claim(t, testBody, 10*time.Second)
				f.clock.onSleep = func(int) {
					if err := lease.Release(context.Background()); err != nil {
						t.Errorf("Release() err = %v, want nil", err)
					}
				}
			},
			opResp: okResp, wantResp: okResp, wantRuns: 1, wantStatus: "completed", wantWaited: 50 * time.Millisecond,
		},
		{
			name:   "still in progress after the wait",
			setup:  func(t *testing.T, f *fixture) { f.claim(t, testBody, 10*time.Second) },
			opResp: okResp, wantErr: idempotency.ErrInProgress, wantStatus: "in_progress", wantWaited: idempotency.DefaultWait,
		},
		{
			name: "in progress past its lease is reclaimed",
			setup: func(t *testing.T, f *fixture) {
				lease := f.claim(t, testBody, 10*time.Second)
				f.clock.Advance(10 * time.Second)
				t.Cleanup(func() {
					if err := lease.Complete(context.Background(), ruleResp); !errors.Is(err, idempotency.ErrNotRecorded) {
						t.Errorf("timed-out Lease.Complete() err = %v, want ErrNotRecorded", err)
					}
				})
			},
			opResp: okResp, wantResp: okResp, wantRuns: 1, wantStatus: "completed",
		},
		{
			name: "in progress one second before its lease ends waits",
			setup: func(t *testing.T, f *fixture) {
				f.claim(t, testBody, 10*time.Second)
				f.clock.Advance(9 * time.Second)
			},
			opResp: okResp, wantResp: okResp, wantRuns: 1, wantStatus: "completed",
			wantWaited: 1250 * time.Millisecond, // 50 + 100 + 200 + 400 + 500
		},
		{
			name:   "retryable failure releases the key",
			opResp: okResp, opErr: idempotency.Retryable(errBoom), wantErr: errBoom, wantRuns: 1,
			check: func(t *testing.T, f *fixture) {
				f.do(t, testBody, okResp)
				if f.runs != 2 {
					t.Errorf("retry ran the operation %d times in all, want 2", f.runs)
				}
			},
		},
		{
			name:   "unmarked failure keeps the claim until its lease ends",
			opResp: okResp, opErr: errBoom, wantErr: errBoom, wantRuns: 1, wantStatus: "in_progress",
			check: func(t *testing.T, f *fixture) {
				if _, _, err := f.store.Do(f.ctx, testClient, testKey, testBody, f.op(okResp, nil)); !errors.Is(err, idempotency.ErrInProgress) {
					t.Errorf("retry Do() err = %v, want ErrInProgress", err)
				}
			},
		},
		{
			name: "completed record replays until 24 hours",
			setup: func(t *testing.T, f *fixture) {
				f.do(t, testBody, okResp)
				f.clock.Advance(24*time.Hour - time.Second)
			},
			opResp: ruleResp, wantResp: okResp, wantReplayed: true, wantStatus: "completed",
		},
		{
			name: "completed record expires after 24 hours",
			setup: func(t *testing.T, f *fixture) {
				f.do(t, testBody, ruleResp)
				f.clock.Advance(24 * time.Hour)
			},
			opResp: okResp, wantResp: okResp, wantRuns: 1, wantStatus: "completed",
		},
		{
			name: "expired record with another body is ignored",
			setup: func(t *testing.T, f *fixture) {
				f.do(t, otherBody, ruleResp)
				f.clock.Advance(25 * time.Hour)
			},
			opResp: okResp, wantResp: okResp, wantRuns: 1, wantStatus: "completed",
		},
		{
			name:   "cancelled context runs nothing",
			setup:  func(t *testing.T, f *fixture) { f.cancel() },
			opResp: okResp, wantErr: context.Canceled,
		},
		{
			name: "cancelled while waiting",
			setup: func(t *testing.T, f *fixture) {
				f.claim(t, testBody, 10*time.Second)
				f.clock.onSleep = func(int) { f.cancel() }
			},
			opResp: okResp, wantErr: context.Canceled, wantStatus: "in_progress", wantWaited: 50 * time.Millisecond,
		},
		{
			name: "response not recorded is still returned",
			setup: func(t *testing.T, f *fixture) {
				f.table.failPut = func(in *dynamodb.PutItemInput) error {
					if fakeS(in.Item["status"]) == "completed" {
						return errors.New("throttled")
					}
					return nil
				}
			},
			opResp: okResp, wantResp: okResp, wantErr: idempotency.ErrNotRecorded, wantRuns: 1, wantStatus: "in_progress",
		},
		{
			name: "claim failure runs nothing",
			setup: func(t *testing.T, f *fixture) {
				f.table.failPut = func(*dynamodb.PutItemInput) error { return errBoom }
			},
			opResp: okResp, wantErr: errBoom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, idempotency.Config{})
			if tt.setup != nil {
				tt.setup(t, f)
			}
			f.runs = 0
			start := f.clock.Now()
			resp, replayed, err := f.store.Do(f.ctx, testClient, testKey, testBody, f.op(tt.opResp, tt.opErr))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Do() err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantResp, resp); diff != "" || replayed != tt.wantReplayed {
				t.Errorf("Do() replayed = %v, want %v; response diff (-want +got):\n%s", replayed, tt.wantReplayed, diff)
			}
			if f.runs != tt.wantRuns {
				t.Errorf("operation ran %d times, want %d", f.runs, tt.wantRuns)
			}
			if got := status(t, f); got != tt.wantStatus {
				t.Errorf("stored status = %q, want %q", got, tt.wantStatus)
			}
			if got := f.clock.Now().Sub(start); got != tt.wantWaited {
				t.Errorf("Do() waited %v, want %v", got, tt.wantWaited)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}
