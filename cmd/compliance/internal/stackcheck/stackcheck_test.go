package stackcheck

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/shared/audit"
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

func TestJudgeAuditTrail(t *testing.T) {
	missing := audit.Break{Reason: audit.ReasonDigestMissing, Day: "2026-03-04", Detail: "no digest for 2026-03-04"}
	late := audit.Break{Reason: audit.ReasonLateDigest, Day: "2026-03-05", Detail: "digest made late"}
	tests := []struct {
		name   string
		rep    audit.Report
		status checklist.Status
		want   string
	}{
		{"sealed", audit.Report{Events: 40, Chains: 3, Digests: 5, Since: "2026-03-01", Unsealed: []string{"2026-03-06"}}, checklist.Pass,
			"40 events in 3 chains and 5 digests verify with key sha256:0123…; every day from 2026-03-01 through 2026-03-05 has an on-time digest; 1 day(s) not yet due"},
		{"nothing due yet", audit.Report{Events: 4, Chains: 1, Since: "2026-03-06"}, checklist.Pass, "no day is due yet"},
		{"empty trail", audit.Report{}, checklist.Pass, "0 events in 0 chains and 0 digests verify"},
		{"missing and late digests", audit.Report{Since: "2026-03-01", Breaks: []audit.Break{missing, late}}, checklist.Fail,
			"auditverify finds 2 break(s); first: digest_missing: day 2026-03-04: no digest for 2026-03-04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFinding(t, judgeAuditTrail(&tt.rep, "2026-03-05", "0123"), tt.status, tt.want)
		})
	}
}

// scanTable serves a fixed set of items to Scan, two per page.
type scanTable struct {
	itemAPI
	items []map[string]types.AttributeValue
}

func (s scanTable) Scan(ctx context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	start := 0
	if in.ExclusiveStartKey != nil {
		start, _ = strconv.Atoi(in.ExclusiveStartKey["pos"].(*types.AttributeValueMemberN).Value)
	}
	end := min(len(s.items), start+2)
	out := &dynamodb.ScanOutput{Items: s.items[start:end]}
	if end < len(s.items) {
		out.LastEvaluatedKey = map[string]types.AttributeValue{"pos": &types.AttributeValueMemberN{Value: strconv.Itoa(end)}}
	}
	return out, ctx.Err()
}

// TestCheckAuditTrail runs the audit check over the export cmd/auditverify
// pins (days one and two of March 2026 digested, day three not yet): it
// passes while day three is not due, and fails once it is, or when the
// newest digest is deleted.
func TestCheckAuditTrail(t *testing.T) {
	f, err := os.Open("../../../auditverify/testdata/export-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	items, err := audit.ParseExport(f)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile("../../../auditverify/testdata/public-v2.pem")
	if err != nil {
		t.Fatal(err)
	}
	withoutNewest := slices.DeleteFunc(slices.Clone(items), func(it map[string]types.AttributeValue) bool {
		return it["pk"].(*types.AttributeValueMemberS).Value == "digest#2026-03-02"
	})
	tests := []struct {
		name   string
		items  []map[string]types.AttributeValue
		now    time.Time
		status checklist.Status
		want   string
	}{
		{"day three not yet due", items, time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC), checklist.Pass,
			"16 events in 2 chains and 2 digests verify with key sha256:"},
		{"day three due", items, time.Date(2026, 3, 4, 7, 0, 0, 0, time.UTC), checklist.Fail,
			"first: digest_missing: day 2026-03-03"},
		{"newest digest deleted", withoutNewest, time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC), checklist.Fail,
			"first: digest_missing: day 2026-03-02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Checker{cfg: Config{AuditTable: "waguard-test-audit", AuditPublicKey: pub}, items: scanTable{items: tt.items},
				now: func() time.Time { return tt.now }}
			checkFinding(t, c.checkAuditTrail(context.Background()), tt.status, tt.want)
		})
	}
}
