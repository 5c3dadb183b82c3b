package signature

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestKey(t *testing.T) {
	tests := []struct {
		configured string
		want       []byte
		wantErr    bool
	}{
		{"test-app-secret-0001", []byte("test-app-secret-0001"), false},
		{"Zoë-ünïcode", []byte("Zoë-ünïcode"), false},
		{"whsec_d2FndWFyZC10ZXN0LXNpZ25lZC1rZXktMDAwMS14eXo=", []byte("waguard-test-signed-key-0001-xyz"), false},
		{"whsec_d2FndWFyZC10ZXN0LXNpZ25lZC1rZXktMDAwMS14eXo", []byte("waguard-test-signed-key-0001-xyz"), false},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", mustB64("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), false},
		{"WHSEC_abc", []byte("WHSEC_abc"), false}, // the prefix is case-sensitive
		{"", nil, true},
		{"whsec_", nil, true},
		{"whsec_!!!!", nil, true},
		{"whsec_d2FndWFy ZC10", nil, true},
		{"whsec_d2FndWFyZC10ZXN0LXNpZ25lZC1rZXktMDAwMS14eXo==", nil, true},
		{"whsec_d2FndWFyZC10ZXN0LXNpZ25lZC1rZXktMDAwMS14eX=", nil, true}, // non-canonical trailing bits
	}
	for _, tt := range tests {
		t.Run(tt.configured, func(t *testing.T) {
			got, err := Key(tt.configured)
			if (err != nil) != tt.wantErr || !bytes.Equal(got, tt.want) {
				t.Fatalf("Key(%q) = %q, %v, want %q, error %v", tt.configured, got, err, tt.want, tt.wantErr)
			}
			if err != nil && tt.configured != "" && strings.Contains(err.Error(), tt.configured) {
				t.Errorf("Key() error %q contains the configured value", err)
			}
		})
	}
}

// mustB64 is Key on a whsec_ value, for expectations.
func mustB64(s string) []byte {
	k, err := Key("whsec_" + s)
	if err != nil {
		panic(err)
	}
	return k
}

func TestParseSecrets(t *testing.T) {
	got, err := ParseSecrets("test-app-secret-0001", "", "whsec_d2FndWFyZC10ZXN0LXNpZ25lZC1rZXktMDAwMS14eXo=")
	if err != nil || len(got) != 2 || string(got[0]) != "test-app-secret-0001" || string(got[1]) != "waguard-test-signed-key-0001-xyz" {
		t.Errorf("ParseSecrets(current, empty, whsec) = %d keys, %v; want 2 keys, nil", len(got), err)
	}
	for _, in := range [][]string{nil, {""}, {"", ""}, {"ok", "whsec_!!"}} {
		if s, err := ParseSecrets(in...); err == nil {
			t.Errorf("ParseSecrets(%q) = %d keys, nil; want an error", in, len(s))
		}
	}
}

// sprintAll formats v with every common verb.
func sprintAll(v any) string {
	return fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%T", v, v, v, v, v, v, v, v, v)
}

func TestSecretsNeverPrint(t *testing.T) {
	s := Secrets{[]byte("test-app-secret-0001"), []byte("test-app-secret-0000")}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "secrets", s)
	out := sprintAll(s) + sprintAll(&s) + sprintAll([]any{s}) + logged.String()
	for _, leak := range []string{"test-app-secret", "746573742d", "116 101 115 116"} {
		if strings.Contains(out, leak) {
			t.Errorf("printed Secrets contain %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "2 keys") {
		t.Errorf("printed Secrets = %q, want the key count", out)
	}
}
