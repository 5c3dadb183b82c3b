package consent

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	setting := []string{ReasonPreferences, ReasonMeta131050}
	tests := []struct {
		name   string
		signal Signal
		held   string
		want   Change
	}{
		{"stop keyword", KeywordStop, "", Change{"marketing", ActionRevoke, MethodKeyword, MethodKeyword, "", "", Suppress, ReasonStopKeyword, nil}},
		{"stop keyword over the setting", KeywordStop, ReasonPreferences, Change{"marketing", ActionRevoke, MethodKeyword, MethodKeyword, "", "", Suppress, ReasonStopKeyword, nil}},
		{"start keyword lifts any reason", KeywordStart, ReasonStopButton, Change{"marketing", ActionGrant, MethodKeyword, MethodKeyword, "", "", Lift, "", nil}},
		{"stop promotions button", StopPromotions, "", Change{"marketing", ActionRevoke, MethodButton, MethodButton, "", "", Suppress, ReasonStopButton, nil}},
		{"stop promotions over the setting", StopPromotions, ReasonMeta131050, Change{"marketing", ActionRevoke, MethodButton, MethodButton, "", "", Suppress, ReasonStopButton, nil}},
		{"preference stop", PreferenceStop, "", Change{"marketing", ActionRevoke, MethodPreferences, MethodPreferences, "", "", Suppress, ReasonPreferences, setting}},
		{"preference stop after 131050", PreferenceStop, ReasonMeta131050, Change{"marketing", ActionRevoke, MethodPreferences, MethodPreferences, "", "", Suppress, ReasonPreferences, setting}},
		{"preference stop keeps the keyword's reason", PreferenceStop, ReasonStopKeyword, Change{"marketing", ActionRevoke, MethodPreferences, MethodPreferences, "", "", Keep, ReasonPreferences, nil}},
		{"131050", Provider131050, "", Change{"marketing", ActionRevoke, MethodProvider, "provider", "", "", Suppress, ReasonMeta131050, setting}},
		{"131050 keeps the button's reason", Provider131050, ReasonStopButton, Change{"marketing", ActionRevoke, MethodProvider, "provider", "", "", Keep, ReasonMeta131050, nil}},
		{"resume lifts the setting's stop", PreferenceResume, ReasonPreferences, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, "", "", Lift, "", setting}},
		{"resume lifts 131050", PreferenceResume, ReasonMeta131050, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, "", "", Lift, "", setting}},
		{"resume keeps a STOP", PreferenceResume, ReasonStopKeyword, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, "", "", Keep, "", nil}},
		{"resume keeps the button's stop", PreferenceResume, ReasonStopButton, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, "", "", Keep, "", nil}},
		{"resume keeps another reason", PreferenceResume, "operator", Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, "", "", Keep, "", nil}},
		{"resume with nothing held", PreferenceResume, "", Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, "", "", Keep, "", nil}},
		{"unknown signal", Signal(0), "", Change{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Decide(tt.signal, tt.held)); diff != "" {
				t.Errorf("Decide(%d, %q) (-want +got):\n%s", tt.signal, tt.held, diff)
			}
		})
	}
}

func TestState(t *testing.T) {
	now := time.Date(2026, 5, 28, 12, 0, 0, 0, time.UTC)
	live, expired := now.Add(time.Hour), now.Add(-time.Second)
	g := Entry{ID: "g", Action: ActionGrant}
	r := Entry{ID: "r", Action: ActionRevoke}
	res := Entry{ID: "res", Action: ActionResume}
	p := Entry{ID: "p", Action: ActionPending, ConfirmBy: live}
	old := Entry{ID: "old", Action: ActionPending, ConfirmBy: expired}
	atDeadline := Entry{ID: "dl", Action: ActionPending, ConfirmBy: now}
	confirmed := Entry{ID: "c", Action: ActionGrant, Confirms: "p"}
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"empty", nil, StateNone},
		{"grant", []Entry{g}, StateGranted},
		{"revoked", []Entry{g, r}, StateRevoked},
		{"resume is not a grant", []Entry{g, r, res}, StateRevoked},
		{"resume keeps a grant", []Entry{g, res}, StateGranted},
		{"resume alone", []Entry{res}, StateNone},
		{"granted again", []Entry{r, res, g}, StateGranted},
		{"unknown actions are ignored", []Entry{g, {Action: "other"}}, StateGranted},
		{"pending alone", []Entry{p}, StatePending},
		{"pending after a revoke", []Entry{g, r, p}, StatePending},
		{"pending then a resume", []Entry{p, res}, StatePending},
		{"pending never takes a grant back", []Entry{g, p}, StateGranted},
		{"expired pending is the state before it", []Entry{old}, StateNone},
		{"expired pending after a revoke", []Entry{g, r, old}, StateRevoked},
		{"pending at its deadline has expired", []Entry{atDeadline}, StateNone},
		{"confirmed pending", []Entry{p, confirmed}, StateGranted},
		{"pending then revoked", []Entry{p, r}, StateRevoked},
		{"a later pending counts", []Entry{old, p}, StatePending},
		{"a later expired pending leaves the earlier one's grant", []Entry{p, confirmed, old}, StateGranted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := State(tt.entries, now); got != tt.want {
				t.Errorf("State(%v, now) = %q, want %q", tt.entries, got, tt.want)
			}
		})
	}
}
