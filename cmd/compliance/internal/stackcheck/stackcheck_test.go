package stackcheck

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/shared/phone"
)

const number = "+12015550123"

func testSubject(t *testing.T) subject {
	t.Helper()
	n, err := phone.Parse(number)
	if err != nil {
		t.Fatal(err)
	}
	return subject{num: n, bidx: "BIDX0123456789abcdefghijklmnopqrstuvwxyzAB", pseudonym: "PSEUDO"}
}

// checkFinding asserts a finding's status and evidence, and that the
// evidence never shows the number in clear.
func checkFinding(t *testing.T, f checklist.Finding, status checklist.Status, want string) {
	t.Helper()
	if f.Status != status || !strings.Contains(f.Evidence, want) {
		t.Errorf("finding = %v %q, want %v containing %q", f.Status, f.Evidence, status, want)
	}
	if strings.Contains(f.Evidence, number[2:]) {
		t.Errorf("evidence %q shows the number in clear", f.Evidence)
	}
}

func TestValidate(t *testing.T) {
	local := map[string]string{"DYNAMODB": "http://127.0.0.1:8000", "KMS": "http://127.0.0.1:8001", "SECRETS_MANAGER": "http://[::1]:8002"}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"local", Config{GatewayURL: "http://127.0.0.1:3000", AWSEndpoints: local}, ""},
		{"no gateway", Config{AWSEndpoints: local}, "no gateway URL"},
		{"remote gateway", Config{GatewayURL: "https://api.example.com", AWSEndpoints: local}, "gateway endpoint is not a loopback address"},
		{"localhost by name", Config{GatewayURL: "http://localhost:3000", AWSEndpoints: local}, "not a loopback address"},
		{"real AWS", Config{GatewayURL: "http://127.0.0.1:3000", AWSEndpoints: map[string]string{"DYNAMODB": "http://127.0.0.1:8000"}}, "AWS_ENDPOINT_URL_KMS is unset"},
		{"remote allowed", Config{GatewayURL: "https://api.example.com", AllowRemote: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestJudgeUnauthenticated(t *testing.T) {
	bearer := http.Header{"Www-Authenticate": {"Bearer"}}
	ok := answer{status: 401, code: "unauthenticated", header: bearer}
	checkFinding(t, judgeUnauthenticated(ok, ok), checklist.Pass, "no key → 401 unauthenticated")
	checkFinding(t, judgeUnauthenticated(ok, answer{status: 202}), checklist.Fail, "→ 202, want 401 unauthenticated")
	checkFinding(t, judgeUnauthenticated(answer{status: 401, code: "unauthenticated"}, ok), checklist.Fail, "without WWW-Authenticate")
}

func TestJudgeConsent(t *testing.T) {
	s := testSubject(t)
	refused := answer{status: 403, code: "consent_required"}
	tests := []struct {
		name   string
		a      answer
		sends  int
		status checklist.Status
		want   string
	}{
		{"refused", refused, 0, checklist.Pass, "without consent → 403 consent_required; the provider sandbox received nothing"},
		{"refused, no sandbox", refused, -1, checklist.Pass, "(+1…23) without consent → 403 consent_required"},
		{"sent", answer{status: 202}, 1, checklist.Fail, "→ 202, want 403 consent_required"},
		{"wrong refusal", answer{status: 403, code: "recipient_suppressed"}, 0, checklist.Fail, "→ 403 recipient_suppressed, want 403 consent_required"},
		{"refused but sent", refused, 1, checklist.Fail, "the provider sandbox received 1 message(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFinding(t, judgeConsent(tt.a, tt.sends, s), tt.status, tt.want) })
	}
}

func TestJudgeWebhooks(t *testing.T) {
	s := testSubject(t)
	bad := answer{status: 401, code: "invalid_signature"}
	refused := answer{status: 403, code: "verification_failed"}
	checkFinding(t, judgeWebhooks(bad, bad, refused, 0, 0, false, s), checklist.Pass, "nothing stored for the sender (+1…23)")
	checkFinding(t, judgeWebhooks(answer{status: 200}, bad, refused, 0, 1, true, s), checklist.Fail, "forged X-Hub-Signature-256 → 200")
	checkFinding(t, judgeWebhooks(bad, answer{status: 401, code: "stale_timestamp"}, refused, 0, 0, false, s), checklist.Fail, "want 401 invalid_signature for both")
	checkFinding(t, judgeWebhooks(bad, bad, refused, 2, 3, false, s), checklist.Fail, "the forged message was stored")
	checkFinding(t, judgeWebhooks(bad, bad, refused, 0, 0, true, s), checklist.Fail, "the forged message was stored")
	checkFinding(t, judgeWebhooks(bad, bad, answer{status: 200}, 0, 0, false, s), checklist.Fail, "placeholder verify token → 200")
}

func item(kv ...string) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		it[kv[i]] = &types.AttributeValueMemberS{Value: kv[i+1]}
	}
	return it
}

func TestClassify(t *testing.T) {
	const b = "BIDX"
	items := []map[string]types.AttributeValue{
		item("pk", "erased#"+b, "sk", "erased"),
		item("pk", "erq#er_1", "sk", "erq", "subject", b),
		item("pk", "erq#er_0", "sk", "erq", "subject", b), // an older request: kept too
		item("pk", "erq-open#"+b, "sk", "erq"),            // an open-request pointer must be gone
		item("pk", "rl#send#to-marketing-"+b, "sk", "rl"),
		item("pk", "sub#"+b, "sk", "consent#2026"),
		item("pk", "sub#OTHER", "sk", "window"),
		{"pk": &types.AttributeValueMemberS{Value: "x#1"}, "nested": &types.AttributeValueMemberM{Value: item("ref", b)}},
	}
	kept, left := classify(items, b)
	if diff := cmp.Diff([]string{"erasure request", "erasure request", "erasure suppression"}, kept); diff != "" {
		t.Errorf("kept mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"erq-open# item", "rl# item", "sub# item", "x# item"}, left); diff != "" {
		t.Errorf("left mismatch (-want +got):\n%s", diff)
	}
}

func TestJudgeErasure(t *testing.T) {
	s := testSubject(t)
	good := erasureRun{itemsBefore: 3, keyBefore: true, requestID: "er_1", kept: []string{"erasure request", "erasure suppression"},
		scanned: 40, auditEvents: []string{"consent_recorded", "message_sent", "erasure_requested", "data_deletion"}}
	checkFinding(t, judgeErasure(good, s), checklist.Pass, "kept as docs/gdpr.md says: erasure request, erasure suppression, 4 pseudonymised audit events")
	tests := []struct {
		name   string
		change func(*erasureRun)
		want   string
	}{
		{"nothing seeded", func(r *erasureRun) { r.itemsBefore, r.keyBefore = 0, false }, "had 0 items and key false before erasure"},
		{"partition left", func(r *erasureRun) { r.itemsAfter = 2 }, "2 items left in its partition"},
		{"key survived", func(r *erasureRun) { r.keyAfter = true }, "its subject key survived"},
		{"rate limits left", func(r *erasureRun) { r.left = []string{"rl# item"} }, "left in the data table: rl# item"},
		{"number in clear", func(r *erasureRun) { r.clear = 1 }, "the number in clear in 1 item(s)"},
		{"audit names blind index", func(r *erasureRun) { r.auditNamesSubject = 1 }, "1 audit event(s) name the subject by its blind index"},
		{"no proof", func(r *erasureRun) { r.auditEvents = r.auditEvents[:3] }, "no data_deletion audit event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.change(&r)
			checkFinding(t, judgeErasure(r, s), checklist.Fail, tt.want)
		})
	}
}

func TestMentions(t *testing.T) {
	it := map[string]types.AttributeValue{
		"l":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x 12015550123 y"}}},
		"ss": &types.AttributeValueMemberSS{Value: []string{"a", "needle"}},
		"b":  &types.AttributeValueMemberB{Value: []byte("hidden")},
	}
	for needle, want := range map[string]bool{"12015550123": true, "needle": true, "hidden": false, "": false} {
		if got := mentions(it, needle); got != want {
			t.Errorf("mentions(%q) = %v, want %v", needle, got, want)
		}
	}
}
