package consent

import (
	"testing"

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
		{"stop keyword", KeywordStop, "", Change{"marketing", ActionRevoke, MethodKeyword, MethodKeyword, Suppress, ReasonStopKeyword, nil}},
		{"stop keyword over the setting", KeywordStop, ReasonPreferences, Change{"marketing", ActionRevoke, MethodKeyword, MethodKeyword, Suppress, ReasonStopKeyword, nil}},
		{"start keyword lifts any reason", KeywordStart, ReasonStopButton, Change{"marketing", ActionGrant, MethodKeyword, MethodKeyword, Lift, "", nil}},
		{"stop promotions button", StopPromotions, "", Change{"marketing", ActionRevoke, MethodButton, MethodButton, Suppress, ReasonStopButton, nil}},
		{"stop promotions over the setting", StopPromotions, ReasonMeta131050, Change{"marketing", ActionRevoke, MethodButton, MethodButton, Suppress, ReasonStopButton, nil}},
		{"preference stop", PreferenceStop, "", Change{"marketing", ActionRevoke, MethodPreferences, MethodPreferences, Suppress, ReasonPreferences, setting}},
		{"preference stop after 131050", PreferenceStop, ReasonMeta131050, Change{"marketing", ActionRevoke, MethodPreferences, MethodPreferences, Suppress, ReasonPreferences, setting}},
		{"preference stop keeps the keyword's reason", PreferenceStop, ReasonStopKeyword, Change{"marketing", ActionRevoke, MethodPreferences, MethodPreferences, Keep, ReasonPreferences, nil}},
		{"131050", Provider131050, "", Change{"marketing", ActionRevoke, MethodProvider, "provider", Suppress, ReasonMeta131050, setting}},
		{"131050 keeps the button's reason", Provider131050, ReasonStopButton, Change{"marketing", ActionRevoke, MethodProvider, "provider", Keep, ReasonMeta131050, nil}},
		{"resume lifts the setting's stop", PreferenceResume, ReasonPreferences, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, Lift, "", setting}},
		{"resume lifts 131050", PreferenceResume, ReasonMeta131050, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, Lift, "", setting}},
		{"resume keeps a STOP", PreferenceResume, ReasonStopKeyword, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, Keep, "", nil}},
		{"resume keeps the button's stop", PreferenceResume, ReasonStopButton, Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, Keep, "", nil}},
		{"resume keeps another reason", PreferenceResume, "operator", Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, Keep, "", nil}},
		{"resume with nothing held", PreferenceResume, "", Change{"marketing", ActionResume, MethodPreferences, MethodPreferences, Keep, "", nil}},
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
	tests := []struct {
		name    string
		actions []string
		want    string
	}{
		{"empty", nil, "none"},
		{"grant", []string{ActionGrant}, "granted"},
		{"revoked", []string{ActionGrant, ActionRevoke}, "revoked"},
		{"resume is not a grant", []string{ActionGrant, ActionRevoke, ActionResume}, "revoked"},
		{"resume keeps a grant", []string{ActionGrant, ActionResume}, "granted"},
		{"resume alone", []string{ActionResume}, "none"},
		{"granted again", []string{ActionRevoke, ActionResume, ActionGrant}, "granted"},
		{"unknown actions are ignored", []string{ActionGrant, "pending"}, "granted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := State(tt.actions); got != tt.want {
				t.Errorf("State(%v) = %q, want %q", tt.actions, got, tt.want)
			}
		})
	}
}
