package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/audit"
)

// TestDigestRuns runs the digest job over a fake digester: the day asked
// for is yesterday, the result lists what was digested and what late,
// and every run reports AuditDigestsLate and AuditDigestFailures.
func TestDigestRuns(t *testing.T) {
	late := func(d string) *audit.Digest { return &audit.Digest{Day: d, Late: true} }
	tests := []struct {
		name      string
		made      []*audit.Digest
		err       error
		want      DigestResult
		wantErr   bool
		wantEMF   []string
		wantLevel string
	}{
		{"yesterday", []*audit.Digest{{Day: "2026-03-09"}}, nil,
			DigestResult{Day: "2026-03-09", Status: "created", Digested: []string{"2026-03-09"}, Late: []string{}}, false,
			[]string{`"AuditDigestsLate":0`, `"AuditDigestFailures":0`}, `"level":"INFO"`},
		{"missed days first, late", []*audit.Digest{late("2026-03-07"), late("2026-03-08"), {Day: "2026-03-09"}}, nil,
			DigestResult{Day: "2026-03-09", Status: "created", Digested: []string{"2026-03-07", "2026-03-08", "2026-03-09"},
				Late: []string{"2026-03-07", "2026-03-08"}}, false,
			[]string{`"AuditDigestsLate":2`, `"AuditDigestFailures":0`}, `"level":"INFO"`},
		{"already digested", nil, fmt.Errorf("create digest: %w", audit.ErrDigestExists),
			DigestResult{Day: "2026-03-09", Status: "exists", Digested: []string{}, Late: []string{}}, false,
			[]string{`"AuditDigestsLate":0`, `"AuditDigestFailures":0`}, `"level":"INFO"`},
		{"fails after a missed day", []*audit.Digest{late("2026-03-08")}, errors.New("kms unavailable"),
			DigestResult{Day: "2026-03-09", Status: "created", Digested: []string{"2026-03-08"}, Late: []string{"2026-03-08"}}, true,
			[]string{`"AuditDigestsLate":1`, `"AuditDigestFailures":1`, `"DependencyFailures":1`}, `"level":"ERROR"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, newFakeStore(2))
			f.digester.made, f.digester.err = tc.made, tc.err
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := f.run(ctx, ActionAuditDigest)
			if (err != nil) != tc.wantErr || (err != nil && !strings.HasPrefix(err.Error(), "audit digest: ")) {
				t.Errorf("Handle(audit_digest) err = %v, want error %v (wrapped as audit digest)", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, out); diff != "" {
				t.Errorf("Handle(audit_digest) (-want +got):\n%s", diff)
			}
			dl, _ := ctx.Deadline()
			if f.digester.day != "2026-03-09" || !f.digester.deadline.Equal(dl.Add(-reserve)) {
				t.Errorf("digester asked for %s by %v, want 2026-03-09 by the reserve before %v", f.digester.day, f.digester.deadline, dl)
			}
			for _, m := range tc.wantEMF {
				if !strings.Contains(f.emf.String(), m) {
					t.Errorf("EMF = %s, want %s", f.emf.String(), m)
				}
			}
			if !strings.Contains(f.logs.String(), tc.wantLevel) || !strings.Contains(f.logs.String(), `"action":"audit_digest"`) {
				t.Errorf("log = %s, want a %s summary of audit_digest", f.logs.String(), tc.wantLevel)
			}
		})
	}
}

// TestEvents invokes the function as the Lambda runtime does, with the
// payload's bytes: a schedule's event runs its job; an unknown action is
// refused and recorded; a payload that is not an event fails before the
// handler. No error, log line or metric repeats what the payload held.
func TestEvents(t *testing.T) {
	const number = "12015550177" // a synthetic phone number that must not be repeated
	tests := []struct {
		name      string
		payload   string
		wantErr   error
		wantOut   string
		recorded  bool // the handler ran and logged its summary
		wantLevel string
	}{
		{"sweep", `{"action":"sweep"}`, nil, `"finished":true`, true, `"level":"INFO"`},
		{"audit digest", `{"action":"audit_digest"}`, nil, `"status":"created"`, true, `"level":"INFO"`},
		{"unknown action", `{"action":"+` + number + `"}`, errUnknownAction, "", true, `"level":"ERROR"`},
		{"no action", `{}`, errUnknownAction, "", true, `"level":"ERROR"`},
		{"null", `null`, errUnknownAction, "", true, `"level":"ERROR"`},
		{"another field", `{"action":"sweep","to":"+` + number + `"}`, errBadEvent, "", false, ""},
		{"a field named by data", `{"action":"sweep","+` + number + `":1}`, errBadEvent, "", false, ""},
		{"action not a string", `{"action":` + number + `}`, errBadEvent, "", false, ""},
		{"not an object", `["sweep"]`, errBadEvent, "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, newFakeStore(2))
			f.digester.made = []*audit.Digest{{Day: "2026-03-09"}}
			out, err := lambda.NewHandler(f.h.Handle).Invoke(context.Background(), []byte(tc.payload))
			if !errors.Is(err, tc.wantErr) || !strings.Contains(string(out), tc.wantOut) {
				t.Errorf("Invoke(%s) = %s, %v, want %s, %v", tc.name, out, err, tc.wantOut, tc.wantErr)
			}
			if recorded := f.logs.Len() > 0; recorded != tc.recorded || !strings.Contains(f.logs.String(), tc.wantLevel) {
				t.Errorf("log = %s, want recorded %v at %s", f.logs.String(), tc.recorded, tc.wantLevel)
			}
			for _, s := range []string{fmt.Sprint(err), f.logs.String(), f.emf.String()} {
				if strings.Contains(s, number) {
					t.Errorf("the payload's number was repeated: %s", s)
				}
			}
		})
	}
}

// FuzzEvent: any payload decodes to an event, which re-encodes to the
// same event, or fails with errBadEvent or a syntax error, which repeats
// at most one character of it.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{`{"action":"sweep"}`, `{"action":"audit_digest"}`, `{}`, `null`, `{"action":1}`, `{"a":"b"}`, `[]`, `{"action":"sweep"} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		err := json.Unmarshal(b, &ev)
		var syntax *json.SyntaxError
		switch {
		case err == nil:
			again, err := json.Marshal(ev)
			var back Event
			if err != nil || json.Unmarshal(again, &back) != nil || back != ev {
				t.Errorf("Event %+v does not round-trip: %s", ev, again)
			}
		case errors.Is(err, errBadEvent), errors.As(err, &syntax):
		default:
			t.Errorf("Unmarshal() err = %v, want errBadEvent or a syntax error", err)
		}
	})
}
