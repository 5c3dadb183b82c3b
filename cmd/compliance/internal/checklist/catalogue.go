package checklist

// Section names, in report order.
const (
	SectionAPI        = "API security"
	SectionData       = "Data protection"
	SectionGDPR       = "GDPR"
	SectionWebhook    = "Webhook security"
	SectionMonitoring = "Monitoring"
)

// Sections lists the section names in report order.
var Sections = []string{SectionAPI, SectionData, SectionGDPR, SectionWebhook, SectionMonitoring}

// Item IDs. Checks refer to items only through these.
const (
	APIHTTPS          = "api.https"
	APIThrottling     = "api.throttling"
	APIAccessLogs     = "api.access-logs"
	APIAuthentication = "api.authentication"

	DataKMSRotation    = "data.kms-rotation"
	DataTableSSE       = "data.table-sse"
	DataPITR           = "data.pitr"
	DataTTL            = "data.ttl"
	DataAuditAppend    = "data.audit-append-only"
	DataSecretRotation = "data.secret-rotation"
	DataNoEnvSecrets   = "data.no-env-secrets"
	DataThreatModel    = "data.threat-model"

	GDPRConsent        = "gdpr.consent"
	GDPRErasure        = "gdpr.erasure"
	GDPRDPA            = "gdpr.dpa"
	GDPRPrivacyPolicy  = "gdpr.privacy-policy"
	GDPRRecords        = "gdpr.records-of-processing"
	GDPRBreachResponse = "gdpr.breach-response"

	WebhookSignature = "webhook.signature"

	MonSignatureFailures = "monitoring.alarm.signature-failures"
	MonAuthFailures      = "monitoring.alarm.auth-failures"
	MonRateLimited       = "monitoring.alarm.rate-limited"
	MonOutboundAnomaly   = "monitoring.alarm.outbound-anomaly"
	MonFunctionErrors    = "monitoring.alarm.function-errors"
	MonFunctionThrottles = "monitoring.alarm.function-throttles"
	MonErasurePending    = "monitoring.alarm.erasure-pending"
	MonRetentionBreach   = "monitoring.alarm.retention-breach"
	MonRotationFailures  = "monitoring.alarm.rotation-failures"
	MonAuditDigest       = "monitoring.alarm.audit-digest"
	MonDashboard         = "monitoring.dashboard"
	MonAuditTrail        = "monitoring.audit-trail"
)

var (
	tpl      = []Source{Template}
	live     = []Source{Stack}
	both     = []Source{Template, Stack}
	manually = []Source{Docs}
)

// Catalogue returns the checklist, in report order. It follows the
// production checklist in README.md ("Where the production checklist is
// handled").
func Catalogue() []Definition {
	return []Definition{
		{APIHTTPS, SectionAPI, "HTTPS only, for the API and the calls to the provider", "docs/api.md", both},
		{APIThrottling, SectionAPI, "API throttling configured", "docs/api.md", tpl},
		{APIAccessLogs, SectionAPI, "Access logs without bodies, query strings or headers", "docs/gdpr.md", tpl},
		{APIAuthentication, SectionAPI, "Calls without a valid API key refused", "docs/api.md", live},

		{DataKMSRotation, SectionData, "KMS key rotation on", "docs/crypto.md", both},
		{DataTableSSE, SectionData, "Every table encrypted with the customer-managed key", "docs/crypto.md", both},
		{DataPITR, SectionData, "Point-in-time recovery on (keys table excepted by design)", "docs/crypto.md", both},
		{DataTTL, SectionData, "TTL on every table", "docs/data-model.md", both},
		{DataAuditAppend, SectionData, "Audit table append-only: PutItem only, for every role", "docs/audit.md", tpl},
		{DataSecretRotation, SectionData, "Secrets rotated on a schedule of at most 90 days", "docs/rotation.md", both},
		{DataNoEnvSecrets, SectionData, "No secret values in environment variables", "docs/crypto.md", tpl},
		{DataThreatModel, SectionData, "Threat model reviewed for this release", "docs/threat-model.md", manually},

		{GDPRConsent, SectionGDPR, "Consent enforced: a marketing send without consent is refused", "docs/gdpr.md", live},
		{GDPRErasure, SectionGDPR, "Right to erasure works end to end", "docs/gdpr.md", live},
		{GDPRDPA, SectionGDPR, "Processing agreements signed (Meta, AWS, any API proxy operator)", "docs/gdpr.md", manually},
		{GDPRPrivacyPolicy, SectionGDPR, "Privacy policy states purposes, retention and erasure", "docs/gdpr.md", manually},
		{GDPRRecords, SectionGDPR, "Records of processing (Art. 30) reviewed", "docs/records-of-processing.md", manually},
		{GDPRBreachResponse, SectionGDPR, "Breach response procedure (Art. 33-34) in place", "docs/breach-response.md", manually},

		{WebhookSignature, SectionWebhook, "Forged webhooks refused and nothing stored", "docs/webhooks.md", live},

		{MonSignatureFailures, SectionMonitoring, "Alarm: webhook signature failures", "docs/breach-response.md", tpl},
		{MonAuthFailures, SectionMonitoring, "Alarm: API authentication failures", "docs/breach-response.md", tpl},
		{MonRateLimited, SectionMonitoring, "Alarm: rate-limited requests", "docs/breach-response.md", tpl},
		{MonOutboundAnomaly, SectionMonitoring, "Alarm: outbound message volume outside its anomaly band", "docs/breach-response.md", tpl},
		{MonFunctionErrors, SectionMonitoring, "Alarm: function errors", "docs/breach-response.md", tpl},
		{MonFunctionThrottles, SectionMonitoring, "Alarm: function throttles", "docs/breach-response.md", tpl},
		{MonErasurePending, SectionMonitoring, "Alarm: erasure pending over 24 hours", "docs/breach-response.md", tpl},
		{MonRetentionBreach, SectionMonitoring, "Alarm: items outliving their retention", "docs/breach-response.md", tpl},
		{MonRotationFailures, SectionMonitoring, "Alarm: secret rotation failures", "docs/breach-response.md", tpl},
		{MonAuditDigest, SectionMonitoring, "Alarm: audit digest failed, late or not run", "docs/audit.md", tpl},
		{MonDashboard, SectionMonitoring, "Operations dashboard", "docs/breach-response.md", tpl},
		{MonAuditTrail, SectionMonitoring, "Tamper-evident audit trail: stream and signed daily digest; the trail verifies", "docs/audit.md", both},
	}
}

// Manual pointers: what a person must review, by manual item ID.
var manualNotes = map[string]string{
	DataThreatModel:    "review the threat model and its open risks",
	GDPRDPA:            "contracts are outside the code: check each is signed and current",
	GDPRPrivacyPolicy:  "check your privacy policy against what the document says it must state",
	GDPRRecords:        "review the records of processing against this deployment",
	GDPRBreachResponse: "review and rehearse the breach response procedure",
}

// ManualNote returns what a person must review for a manual item.
func ManualNote(id string) string { return manualNotes[id] }
