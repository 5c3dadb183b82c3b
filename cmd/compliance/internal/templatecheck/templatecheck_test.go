package templatecheck

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
)

const goodFile = "testdata/good.yaml"

func readGood(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(goodFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func check(t *testing.T, yaml string) []checklist.Finding {
	t.Helper()
	tpl, err := Parse("test.yaml", []byte(yaml), "dev")
	if err != nil {
		t.Fatalf("Parse() err = %v, want nil", err)
	}
	return tpl.Check()
}

func failing(fs []checklist.Finding) ([]string, map[string]string) {
	var ids []string
	ev := map[string]string{}
	for _, f := range fs {
		if f.Status != checklist.Pass {
			ids = append(ids, f.Item)
			ev[f.Item] = f.Evidence
		}
	}
	sort.Strings(ids)
	return ids, ev
}

func TestGoodTemplatePasses(t *testing.T) {
	fs := check(t, readGood(t))
	if ids, ev := failing(fs); len(ids) > 0 {
		t.Fatalf("good template: failing items %v, want none; evidence %v", ids, ev)
	}
	// Every template-sourced catalogue item gets exactly one finding.
	got := map[string]int{}
	for _, f := range fs {
		got[f.Item]++
	}
	for _, d := range checklist.Catalogue() {
		for _, s := range d.Sources {
			if s == checklist.Template && got[d.ID] != 1 {
				t.Errorf("item %s has %d template findings, want 1", d.ID, got[d.ID])
			}
		}
	}
	want := map[string]string{
		checklist.DataPITR:           "KeysTable off by design",
		checklist.DataKMSRotation:    "AuditSigningKey (ECC_NIST_P256) not rotatable",
		checklist.DataSecretRotation: "WebhookSecret 90 d; never rotated by design: IndexKeySecret",
		checklist.APIHTTPS:           "except loopback (local sandbox, documented)",
		checklist.MonOutboundAnomaly: "OutboundVolumeAnomalyAlarm watches waguard/MessagesSent, outside its anomaly band",
		checklist.MonErasurePending:  "notifies AlarmTopicArn",
		checklist.DataAuditAppend:    "PutItem from 1 of 1 roles (RotateFunction)",
		checklist.MonFunctionErrors:  "FunctionErrorsAlarm watches AWS/Lambda/Errors, GreaterThanThreshold 0, every function (1)",
		checklist.DataNoEnvSecrets:   "secrets passed by id (INDEX_KEY_SECRET_ID, WEBHOOK_SECRET_ID)",
	}
	for _, f := range fs {
		if w, ok := want[f.Item]; ok && !strings.Contains(f.Evidence, w) {
			t.Errorf("%s evidence = %q, want it to contain %q", f.Item, f.Evidence, w)
		}
	}
}

// alarmActions is the line every alarm of good.yaml ends with.
const alarmActions = "      AlarmActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AWS::NoValue]]\n"

// TestBrokenTemplates breaks one property of good.yaml at a time: exactly
// the matching item must fail, with evidence naming what broke.
func TestBrokenTemplates(t *testing.T) {
	tests := []struct {
		name, item, old, new, want string
	}{
		{"kms rotation off", checklist.DataKMSRotation, "EnableKeyRotation: true", "EnableKeyRotation: false", "DataKey: EnableKeyRotation is not true"},
		{"sse aws-owned key", checklist.DataTableSSE, "SSEType: KMS, KMSMasterKeyId: !GetAtt DataKey.Arn", "SSEType: AES256", `AuditTable: SSEEnabled true, SSEType "AES256"`},
		{"sse foreign key", checklist.DataTableSSE, "KMSMasterKeyId: !GetAtt DataKey.Arn", "KMSMasterKeyId: alias/aws/dynamodb", "AuditTable: KMSMasterKeyId is not a customer-managed key"},
		{"pitr off on data table", checklist.DataPITR, "PointInTimeRecoveryEnabled: true}\n      SSESpecification: {SSEEnabled: true, SSEType: KMS, KMSMasterKeyId: !Ref DataKey}",
			"PointInTimeRecoveryEnabled: false}\n      SSESpecification: {SSEEnabled: true, SSEType: KMS, KMSMasterKeyId: !Ref DataKey}", "DataTable: PointInTimeRecoveryEnabled is not true"},
		{"keys table exception implicit", checklist.DataPITR, "      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: false}\n", "", "KeysTable: PointInTimeRecoveryEnabled must be explicitly false"},
		{"ttl off", checklist.DataTTL, "waguard-${Stage}-keys\n      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}", "waguard-${Stage}-keys\n      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: false}", "KeysTable: TimeToLiveSpecification not enabled"},
		{"audit update", checklist.DataAuditAppend, "Action: [dynamodb:PutItem]\n", "Action: [dynamodb:PutItem, dynamodb:UpdateItem]\n", "RotateFunction/AuditAppendOnly grants dynamodb:UpdateItem on AuditTable"},
		{"audit by resource star", checklist.DataAuditAppend, "Resource: !GetAtt DataTable.Arn", `Resource: "*"`, "RotateFunction/Data grants dynamodb:UpdateItem on AuditTable"},
		{"audit by table wildcard", checklist.DataAuditAppend, "Resource: !GetAtt DataTable.Arn", `Resource: !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/waguard-*"`, "RotateFunction/Data grants dynamodb:UpdateItem on AuditTable"},
		{"audit wildcard action", checklist.DataAuditAppend, "Action: [dynamodb:Query]", "Action: [dynamodb:*]", "RotateFunction/AuditRead grants dynamodb:UpdateItem on AuditTable"},
		{"audit delete via notaction", checklist.DataAuditAppend, "Action: [dynamodb:Query]", "NotAction: [dynamodb:Scan]", "RotateFunction/AuditRead uses NotAction on AuditTable"},
		{"audit managed policy", checklist.DataAuditAppend, "      Policies:\n", "      Policies:\n        - AmazonDynamoDBFullAccess\n", "managed policy AmazonDynamoDBFullAccess"},
		{"audit policy template", checklist.DataAuditAppend, "      Policies:\n", "      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref AuditTable}\n", "RotateFunction grants DynamoDBCrudPolicy on AuditTable"},
		{"rotation parameter unbounded", checklist.DataSecretRotation, "    MaxValue: 90\n", "    MaxValue: 365\n", "parameter SecretRotationDays has no MaxValue or AllowedValues of at most 90"},
		{"rotation over 90 days", checklist.DataSecretRotation, "Default: 90\n    MinValue", "Default: 120\n    MinValue", "rotates every 120 days"},
		{"rotation rate over 90 days", checklist.DataSecretRotation, "AutomaticallyAfterDays: !Ref SecretRotationDays", "ScheduleExpression: rate(91 days)", "rotates every 91 days"},
		{"no rotation schedule", checklist.DataSecretRotation, "SecretId: !Ref WebhookSecret", "SecretId: !Ref Missing", "WebhookSecret: no RotationSchedule"},
		{"index key rotated", checklist.DataSecretRotation, "SecretId: !Ref WebhookSecret", "SecretId: !Ref IndexKeySecret", "IndexKeySecret has WebhookSecretRotation, but rotating it orphans every partition"},
		{"no rotation function", checklist.DataSecretRotation, "      RotationLambdaARN: !GetAtt RotateFunction.Arn\n", "", "WebhookSecretRotation: no rotation function"},
		{"token in environment", checklist.DataNoEnvSecrets, "API_KEY_OVERLAP_HOURS: 24\n", "API_KEY_OVERLAP_HOURS: 24\n          CRM_SYNC: EAAGm0PX4ZCpsBA1b2c3D4e5F6g7H8\n", "RotateFunction CRM_SYNC holds a value that looks like a secret"},
		{"secret literal in environment", checklist.DataNoEnvSecrets, "WEBHOOK_SECRET_ID: !Ref WebhookSecret", "WEBHOOK_SECRET_ID: hunter2", "RotateFunction WEBHOOK_SECRET_ID is not a reference to a secret or key"},
		{"secret string in template", checklist.DataNoEnvSecrets, "      KmsKeyId: !Ref DataKey\n      GenerateSecretString:\n        SecretStringTemplate: '{\"kind\":\"webhook-secret\"}'",
			"      KmsKeyId: !Ref DataKey\n      SecretString: '{\"kind\":\"webhook-secret\",\"secret\":\"s\"}'\n      GenerateSecretString:\n        SecretStringTemplate: '{\"kind\":\"webhook-secret\"}'", "WebhookSecret has a SecretString literal"},
		{"provider url plain http", checklist.APIHTTPS, "Default: https://graph.facebook.com", "Default: http://graph.facebook.com", "WhatsAppApiBaseUrl defaults to plain HTTP"},
		{"provider url pattern admits http", checklist.APIHTTPS, `AllowedPattern: "^https://.*|^http://127\\.0\\.0\\.1:[0-9]+$"`, `AllowedPattern: "^https?://.*"`, "AllowedPattern accepts http://graph.facebook.com"},
		{"provider url unconstrained", checklist.APIHTTPS, "    AllowedPattern: \"^https://.*|^http://127\\\\.0\\\\.0\\\\.1:[0-9]+$\"\n", "", "WhatsAppApiBaseUrl has no AllowedPattern"},
		{"plain http in environment", checklist.APIHTTPS, "API_KEY_OVERLAP_HOURS: 24\n", "API_KEY_OVERLAP_HOURS: 24\n          STATUS_URL: http://status.example.com/hook\n", "RotateFunction STATUS_URL is a plain-HTTP URL"},
		{"plain http output", checklist.APIHTTPS, "Value: !Sub https://${HttpApi}", "Value: !Sub http://${HttpApi}", "output ApiUrl is a plain-HTTP URL"},
		{"no throttling", checklist.APIThrottling, "        ThrottlingRateLimit: 200\n", "", "HttpApi: DefaultRouteSettings lacks a positive ThrottlingRateLimit"},
		{"user agent logged", checklist.APIAccessLogs, `"status":"$context.status"}`, `"status":"$context.status","ua":"$context.identity.userAgent"}`, "access log format contains useragent"},
		{"access logs kept forever", checklist.APIAccessLogs, "      RetentionInDays: 365\n", "      LogGroupClass: STANDARD\n", "ApiAccessLogGroup has no RetentionInDays"},
		{"signature alarm gone", checklist.MonSignatureFailures, "MetricName: SignatureFailures", "MetricName: SignatureFailure", "no AWS::CloudWatch::Alarm watches waguard/SignatureFailures"},
		{"auth alarm silent", checklist.MonAuthFailures, "Threshold: 20\n      ComparisonOperator: GreaterThanThreshold\n" + alarmActions, "Threshold: 20\n      ComparisonOperator: GreaterThanThreshold\n", "AuthFailuresAlarm watches waguard/AuthFailures but has no AlarmActions"},
		{"rate limited alarm gone", checklist.MonRateLimited, "MetricName: RateLimited", "MetricName: Throttled", "no AWS::CloudWatch::Alarm watches waguard/RateLimited"},
		{"anomaly band gone", checklist.MonOutboundAnomaly, "Expression: ANOMALY_DETECTION_BAND(sent, 3)", "Expression: sent * 2", "waguard/MessagesSent with an ANOMALY_DETECTION_BAND threshold"},
		{"function errors alarm gone", checklist.MonFunctionErrors, "Namespace: AWS/Lambda\n              MetricName: Errors", "Namespace: waguard\n              MetricName: Errors", "no AWS::CloudWatch::Alarm watches AWS/Lambda/Errors"},
		{"function errors alarm partial", checklist.MonFunctionErrors, "Value: !Ref RotateFunction}]", "Value: !Ref OtherFunction}]", "FunctionErrorsAlarm leaves out RotateFunction"},
		{"throttles alarm gone", checklist.MonFunctionThrottles, "MetricName: Throttles", "MetricName: ConcurrentExecutions", "no AWS::CloudWatch::Alarm watches AWS/Lambda/Throttles"},
		{"erasure alarm gone", checklist.MonErasurePending, "MetricName: ErasurePendingOldestHours", "MetricName: Erasures", "no AWS::CloudWatch::Alarm watches waguard/ErasurePendingOldestHours"},
		{"retention alarm gone", checklist.MonRetentionBreach, "MetricName: RetentionExcessHours", "MetricName: RetentionDeleted", "waguard/RetentionExcessHours or waguard/RetentionOverdueHours"},
		{"audit digest alarm blind to failures", checklist.MonAuditDigest, "MetricName: AuditDigestFailures}", "MetricName: AuditDigestRuns}",
			"no AWS::CloudWatch::Alarm watches waguard/AuditDigestsLate and waguard/AuditDigestFailures"},
		{"rotation alarm gone", checklist.MonRotationFailures, "MetricName: RotationFailures", "MetricName: Rotations", "no AWS::CloudWatch::Alarm watches waguard/RotationFailures"},
		{"dashboard empty", checklist.MonDashboard, `'{"widgets":[{"type":"metric","properties":{"region":"${AWS::Region}","metrics":[["waguard","MessagesSent"]]}}]}'`, `'{"widgets":[]}'`, "OperationsDashboard: DashboardBody is not a JSON document with widgets"},
		{"audit stream off", checklist.MonAuditTrail, "      StreamSpecification: {StreamViewType: NEW_IMAGE}\n", "", "AuditTable has no stream"},
		{"audit digest unscheduled", checklist.MonAuditTrail, `Input: '{"action":"audit_digest"}'`, `Input: '{"action":"sweep"}'`, "no schedule runs the audit_digest action"},
	}
	good := readGood(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(good, tt.old); n != 1 {
				t.Fatalf("%q occurs %d times in %s, want once", tt.old, n, goodFile)
			}
			ids, ev := failing(check(t, strings.Replace(good, tt.old, tt.new, 1)))
			if diff := cmp.Diff([]string{tt.item}, ids); diff != "" {
				t.Fatalf("failing items mismatch (-want +got):\n%s\nevidence: %v", diff, ev)
			}
			if !strings.Contains(ev[tt.item], tt.want) {
				t.Errorf("%s evidence = %q, want it to contain %q", tt.item, ev[tt.item], tt.want)
			}
		})
	}
}

func TestParseRateDays(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"rate(30 days)", 30, true},
		{"rate(1 day)", 1, true},
		{"rate(4 hours)", 1, true},
		{"rate(48 hours)", 2, true},
		{"rate(49 hours)", 3, true},
		{"rate(30 minutes)", 0, false},
		{"cron(0 0 1 * ? *)", 0, false},
		{"rate(-1 days)", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRateDays(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRateDays(%q) = %d, %v, want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLooksLikeSecret(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"EAAGm0PX4ZCpsBA1b2c3D4e5F6g7H8", true},
		{"-----BEGIN PRIVATE KEY-----", true},
		{"waguard-dev-data", false},
		{"https://graph.facebook.com", false},
		{"arn:aws:secretsmanager:eu-west-2:123456789012:secret:x", false},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ123", false}, // one case only: an id, not a token
	}
	for _, tt := range tests {
		if got := LooksLikeSecret(tt.v); got != tt.want {
			t.Errorf("LooksLikeSecret(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

func FuzzParseRateDays(f *testing.F) {
	for _, s := range []string{"rate(30 days)", "rate(1 day)", "rate(4 hours)", "cron(0 0 * * ? *)", "rate(999999 days)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRateDays(s)
		if ok && (d < 0 || !strings.HasPrefix(s, "rate(")) {
			t.Errorf("ParseRateDays(%q) = %d, true", s, d)
		}
		if !ok && d != 0 {
			t.Errorf("ParseRateDays(%q) = %d, false, want 0", s, d)
		}
	})
}
