package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/webhook golden files")

// Fixed ids for golden payloads; they embed synthetic numbers only.
const (
	goldenInbound  = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUQUJDREVGMDEyMzQ1Njc4OUFCQ0QA"
	goldenOutbound = "wamid.HBgMNDQ3NzAwOTAwMTIzFQIAERgSOUEzQ0E1QjNENENENkU2N0U3AA=="
)

var goldenBusiness = Business{AccountID: DefaultBusinessAccountID, PhoneNumberID: DefaultPhoneNumberID, DisplayPhoneNumber: DefaultDisplayPhoneNumber}

// Synthetic business-scoped user ids: a user's, their next one after a
// change, and a parent BSUID (Meta's examples).
const (
	goldenBSUID     = "US.13491208655302741918"
	goldenNextBSUID = "US.27381940563712094455"
	goldenParent    = "US.ENT.11815799212886844830"
)

func TestBuildEventsGolden(t *testing.T) {
	tests := []struct {
		golden string
		build  func() ([]byte, error)
	}{
		{"text_event.json", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{From: "447700900123", Name: "Zoë Test",
				Body: "Reply STOP / ARRÊT to opt out 👍", WAMID: goldenInbound, Time: testNow})
		}},
		{"status_sent.json", func() ([]byte, error) {
			return BuildStatusEvent(goldenBusiness, StatusEvent{WAMID: goldenOutbound, Status: "sent",
				RecipientID: "447700900123", Time: testNow})
		}},
		{"status_failed.json", func() ([]byte, error) {
			return BuildStatusEvent(goldenBusiness, StatusEvent{WAMID: goldenOutbound, Status: "failed",
				RecipientID: "447700900123", Time: testNow.Add(time.Minute), ErrorCode: CodeReengagement})
		}},
		{"text_bsuid_only.json", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{UserID: goldenBSUID, ParentUserID: goldenParent, Username: "zoe.test",
				Name: "Zoë Test", Body: "STOP", WAMID: goldenInbound, Time: testNow})
		}},
		{"status_delivered_bsuid_only.json", func() ([]byte, error) {
			return BuildStatusEvent(goldenBusiness, StatusEvent{WAMID: goldenOutbound, Status: "delivered",
				UserID: goldenBSUID, Name: "Zoë Test", Username: "zoe.test", Time: testNow})
		}},
		{"status_failed_bsuid.json", func() ([]byte, error) {
			return BuildStatusEvent(goldenBusiness, StatusEvent{WAMID: goldenOutbound, Status: "failed",
				UserID: goldenBSUID, Name: "Zoë Test", Time: testNow, ErrorCode: CodeUndeliverable})
		}},
		{"system_user_changed_user_id.json", func() ([]byte, error) {
			return BuildSystemEvent(goldenBusiness, SystemEvent{Type: SystemUserChangedUserID, WAMID: goldenInbound,
				Name: "Zoë Test", PreviousUserID: goldenBSUID, UserID: goldenNextBSUID, Time: testNow})
		}},
		{"system_user_changed_number.json", func() ([]byte, error) {
			return BuildSystemEvent(goldenBusiness, SystemEvent{Type: SystemUserChangedNumber, WAMID: goldenInbound, Name: "Zoë Test",
				From: "447700900123", NewNumber: "447700900456", PreviousUserID: goldenBSUID, UserID: goldenNextBSUID, Time: testNow})
		}},
		{"preference_stop.json", func() ([]byte, error) {
			return BuildPreferenceEvent(goldenBusiness, PreferenceEvent{Value: "stop", WAID: "447700900123", UserID: goldenBSUID,
				Name: "Zoë Test", Time: testNow})
		}},
		{"user_id_update.json", func() ([]byte, error) {
			return BuildUserIDUpdateEvent(goldenBusiness, UserIDUpdateEvent{WAID: "447700900123", Name: "Zoë Test",
				PreviousUserID: goldenBSUID, UserID: goldenNextBSUID, Time: testNow})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := tt.build()
			if err != nil {
				t.Fatalf("build %s err = %v, want nil", tt.golden, err)
			}
			path := filepath.Join("testdata", "webhook", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatalf("WriteFile(%s) err = %v, want nil", path, err)
				}
			}
			if want := readTestdata(t, "webhook/"+tt.golden); !bytes.Equal(got, want) {
				t.Errorf("build %s =\n%s\nwant golden bytes\n%s", tt.golden, got, want)
			}
		})
	}
}

func TestBuildEventErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func() ([]byte, error)
	}{
		{"text without from", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{Body: "hi", WAMID: goldenInbound})
		}},
		{"text with plus", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{From: "+447700900123", Body: "hi", WAMID: goldenInbound})
		}},
		{"text without body", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{From: "447700900123", WAMID: goldenInbound})
		}},
		{"text without wamid", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{From: "447700900123", Body: "hi"})
		}},
		{"status unknown", func() ([]byte, error) {
			return BuildStatusEvent(goldenBusiness, StatusEvent{WAMID: goldenOutbound, Status: "seen", RecipientID: "447700900123"})
		}},
		{"status code on delivered", func() ([]byte, error) {
			return BuildStatusEvent(goldenBusiness, StatusEvent{WAMID: goldenOutbound, Status: "delivered",
				RecipientID: "447700900123", ErrorCode: CodeUndeliverable})
		}},
		{"text with a malformed user id", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{UserID: "US 13491208655302741918", Body: "hi", WAMID: goldenInbound})
		}},
		{"text with a parent as user id", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{UserID: goldenParent, Body: "hi", WAMID: goldenInbound})
		}},
		{"text with a parent only", func() ([]byte, error) {
			return BuildTextEvent(goldenBusiness, TextEvent{From: "447700900123", ParentUserID: goldenParent, Body: "hi", WAMID: goldenInbound})
		}},
		{"status for nobody", func() ([]byte, error) {
			return BuildStatusEvent(goldenBusiness, StatusEvent{WAMID: goldenOutbound, Status: "read"})
		}},
		{"system of unknown type", func() ([]byte, error) {
			return BuildSystemEvent(goldenBusiness, SystemEvent{Type: "user_changed_name", WAMID: goldenInbound, PreviousUserID: goldenBSUID, UserID: goldenNextBSUID})
		}},
		{"system without previous user id", func() ([]byte, error) {
			return BuildSystemEvent(goldenBusiness, SystemEvent{Type: SystemUserChangedUserID, WAMID: goldenInbound, UserID: goldenNextBSUID})
		}},
		{"system user id change with numbers", func() ([]byte, error) {
			return BuildSystemEvent(goldenBusiness, SystemEvent{Type: SystemUserChangedUserID, WAMID: goldenInbound,
				PreviousUserID: goldenBSUID, UserID: goldenNextBSUID, From: "447700900123", NewNumber: "447700900456"})
		}},
		{"number change without the new number", func() ([]byte, error) {
			return BuildSystemEvent(goldenBusiness, SystemEvent{Type: SystemUserChangedNumber, WAMID: goldenInbound, From: "447700900123"})
		}},
		{"system without wamid", func() ([]byte, error) {
			return BuildSystemEvent(goldenBusiness, SystemEvent{Type: SystemUserChangedUserID, PreviousUserID: goldenBSUID, UserID: goldenNextBSUID})
		}},
		{"preference of unknown value", func() ([]byte, error) {
			return BuildPreferenceEvent(goldenBusiness, PreferenceEvent{Value: "pause", UserID: goldenBSUID})
		}},
		{"preference for nobody", func() ([]byte, error) {
			return BuildPreferenceEvent(goldenBusiness, PreferenceEvent{Value: "stop"})
		}},
		{"user id update with one id", func() ([]byte, error) {
			return BuildUserIDUpdateEvent(goldenBusiness, UserIDUpdateEvent{UserID: goldenNextBSUID})
		}},
		{"user id update with a bad number", func() ([]byte, error) {
			return BuildUserIDUpdateEvent(goldenBusiness, UserIDUpdateEvent{WAID: "+447700900123", PreviousUserID: goldenBSUID, UserID: goldenNextBSUID})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.build(); !errors.Is(err, ErrBadEvent) {
				t.Errorf("build %s err = %v, want ErrBadEvent", tt.name, err)
			}
		})
	}
}

func TestSign(t *testing.T) {
	tests := []struct {
		secret, body, want string
	}{
		// Published vector: HMAC-SHA256 with key "secret" over "test".
		{"secret", "test", "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"},
		{"", "", "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
	}
	for _, tt := range tests {
		if got := Sign(tt.secret, []byte(tt.body)); got != tt.want {
			t.Errorf("Sign(%q, %q) = %s, want %s", tt.secret, tt.body, got, tt.want)
		}
	}
}

func TestEncodeLikeMeta(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"plain", `"plain"`},
		{"a/b", `"a\/b"`},
		{"é", `"\u00e9"`},
		{"👍", `"\ud83d\udc4d"`},
		{"<&>", `"<&>"`},
		{`back\slash/`, `"back\\slash\/"`},
	}
	for _, tt := range tests {
		got, err := EncodeLikeMeta(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("EncodeLikeMeta(%q) = %s, %v, want %s", tt.in, got, err, tt.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != tt.in {
			t.Errorf("json.Unmarshal(EncodeLikeMeta(%q)) = %q, %v, want the input", tt.in, back, err)
		}
	}
}

func TestWAMID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want WAMID
	}{
		{"inbound vector", goldenInbound, WAMID{Number: "447700900123", Outbound: false, Key: "ABCDEF0123456789ABCD"}},
		{"outbound vector", goldenOutbound, WAMID{Number: "447700900123", Outbound: true, Key: "9A3CA5B3D4CD6E67E7"}},
		{"us fictional", "wamid.HBgLMTU1NTAxMDAxMjMVAgARGBIwMTIzNDU2Nzg5QUJDREVGMDEA",
			WAMID{Number: "15550100123", Outbound: true, Key: "0123456789ABCDEF01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWAMID(tt.id)
			if err != nil {
				t.Fatalf("ParseWAMID(%s) err = %v, want nil", tt.id, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseWAMID(%s) mismatch (-want +got):\n%s", tt.id, diff)
			}
			if enc := EncodeWAMID(got); enc != tt.id {
				t.Errorf("EncodeWAMID(ParseWAMID(id)) = %s, want %s", enc, tt.id)
			}
		})
	}
	for _, outbound := range []bool{true, false} {
		id := NewWAMID("447700900999", outbound)
		got, err := ParseWAMID(id)
		wantKey := 2 * outboundRandLen
		if !outbound {
			wantKey = 2 * inboundRandLen
		}
		if err != nil || got.Number != "447700900999" || got.Outbound != outbound || len(got.Key) != wantKey ||
			!strings.HasPrefix(id, "wamid.HBg") {
			t.Errorf("ParseWAMID(NewWAMID(n, %v)) = %+v, %v, want the number, flag and a %d-char key", outbound, got, err, wantKey)
		}
		if NewWAMID("447700900999", outbound) == id {
			t.Errorf("NewWAMID twice gave the same id, want random keys")
		}
	}
}

func TestParseWAMIDRejects(t *testing.T) {
	tests := []struct{ name, id string }{
		{"empty", ""},
		{"no prefix", strings.TrimPrefix(goldenInbound, "wamid.")},
		{"bad base64", "wamid.!!!"},
		{"newline", goldenInbound[:20] + "\n" + goldenInbound[20:]},
		{"truncated", "wamid.HBgMNDQ3NzAwOTAw"},
		{"trailing byte", "wamid.HBgBMRUCABIYAUEAAA=="},
		{"letters in number", EncodeWAMID(WAMID{Number: "44770090O123", Key: "AB"})},
		{"lower-case key", EncodeWAMID(WAMID{Number: "447700900123", Key: "ab"})},
		{"number too long", EncodeWAMID(WAMID{Number: strings.Repeat("1", 21), Key: "AB"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseWAMID(tt.id); !errors.Is(err, ErrBadWAMID) {
				t.Errorf("ParseWAMID(%q) err = %v, want ErrBadWAMID", tt.id, err)
			}
		})
	}
}
