package settings

import (
	"net/url"
	"regexp"
	"time"
)

// Every function (template.yaml's Globals).
var (
	// Stage is the deployment stage; the metrics carry it as a dimension.
	Stage = OneOf{Name: "STAGE", Values: []string{"dev", "staging", "prod"},
		Doc: "deployment stage; metrics carry it as the Stage dimension (unset: no dimension)"}
	// DataTable, KeysTable and AuditTable are the DynamoDB tables.
	DataTable  = String{Name: "DATA_TABLE", Required: true, Valid: tableName.MatchString, Want: "a DynamoDB table name", Doc: "the data table"}
	KeysTable  = String{Name: "KEYS_TABLE", Required: true, Valid: tableName.MatchString, Want: "a DynamoDB table name", Doc: "the wrapped-key table"}
	AuditTable = String{Name: "AUDIT_TABLE", Required: true, Valid: tableName.MatchString, Want: "a DynamoDB table name", Doc: "the audit table"}
	// KMSKeyID is the data key (KEK) of envelope encryption.
	KMSKeyID = String{Name: "KMS_KEY_ID", Required: true, Valid: awsID, Want: "a KMS key id, alias or ARN", Doc: "the KMS key that wraps data keys"}
	// IndexKeySecretID and PseudonymKeySecretID name the HMAC key secrets.
	IndexKeySecretID = String{Name: "INDEX_KEY_SECRET_ID", Required: true, Valid: awsID, Want: "a secret name or ARN",
		Doc: "the secret of the blind-index key"}
	PseudonymKeySecretID = String{Name: "PSEUDONYM_KEY_SECRET_ID", Required: true, Valid: awsID, Want: "a secret name or ARN",
		Doc: "the secret of the audit pseudonym key"}
	// AuditRetentionDays is how long audit events and digests live.
	AuditRetentionDays = Duration{Name: "AUDIT_RETENTION_DAYS", Unit: 24 * time.Hour, Default: 2190, Min: 1, Max: 36500,
		Doc: "audit events and their signed digests expire by TTL after this long (6 years)"}
	// RetentionDaysTransactional and the others are the retention
	// policy's periods per class (shared/retention).
	RetentionDaysTransactional = retentionDays("TRANSACTIONAL", 90)
	RetentionDaysMarketing     = retentionDays("MARKETING", 30)
	RetentionDaysSupport       = retentionDays("SUPPORT", 180)
	RetentionDaysOTP           = retentionDays("OTP", 1)
	RetentionDaysStatus        = retentionDays("STATUS", 30)
	RetentionDaysMetadata      = retentionDays("METADATA", 90)
)

func retentionDays(class string, def int) Int {
	return Int{Name: "RETENTION_DAYS_" + class, Default: def, Min: 1, Max: 3650, Unit: "days",
		Doc: "retention period of the class " + class}
}

// The provider (send, the webhook's replies, erase's confirmation, rotate's
// token check; shared/provider).
var (
	// PhoneNumberID is the business phone number id.
	PhoneNumberID = String{Name: "PHONE_NUMBER_ID", Required: true, Valid: digits.MatchString, Want: "digits",
		Doc: "the Meta phone number id waguard sends from and accepts webhooks for"}
	// WhatsAppAPIBaseURL locates the Cloud API (the sandbox locally).
	WhatsAppAPIBaseURL = String{Name: "WHATSAPP_API_BASE_URL", Default: "https://graph.facebook.com", Valid: baseURL,
		Want: "https://host, or http://127.0.0.1:port for the sandbox", Doc: "where the Cloud API is"}
	// GraphAPIVersion is the Graph API version of every call.
	GraphAPIVersion = String{Name: "GRAPH_API_VERSION", Default: "v23.0", Valid: graphVersion.MatchString, Want: "a version such as v21.0",
		Doc: "the Graph API version"}
	// ProviderRapidAPIHost selects the RapidAPI-style proxy.
	ProviderRapidAPIHost = String{Name: "PROVIDER_RAPIDAPI_HOST", Valid: hostName.MatchString, Want: "a host name",
		Doc: "set: a RapidAPI-style proxy of the Cloud API (X-RapidAPI-Key, X-RapidAPI-Host); unset: Meta"}
	// ProviderSecretID names the provider-credentials secret.
	ProviderSecretID = String{Name: "PROVIDER_SECRET_ID", Valid: awsID, Want: "a secret name or ARN",
		Doc: "the provider-credentials secret (required by send, and where replies or confirmations are configured)"}
)

// API keys (send, erase, events, rotate; shared/apiauth).
var (
	// ClientSecretPrefix names the API clients' secrets.
	ClientSecretPrefix = String{Name: "CLIENT_SECRET_PREFIX", Required: true, Valid: secretPrefix.MatchString,
		Want: "a secret name prefix ending in /", Doc: "prefix of the API clients' secrets"}
	// APIKeyOverlapHours is how long a rotated key stays valid.
	APIKeyOverlapHours = Duration{Name: "API_KEY_OVERLAP_HOURS", Unit: time.Hour, Default: 24, Min: 1, Max: 720,
		Doc: "how long an API key stays valid at AWSPREVIOUS after a rotation"}
)

// The webhook.
var (
	MetaWebhookSecretID = String{Name: "META_WEBHOOK_SECRET_ID", Required: true, Valid: awsID, Want: "a secret name or ARN",
		Doc: "the Meta app secret and verify token"}
	SignedWebhookSecretID = String{Name: "SIGNED_WEBHOOK_SECRET_ID", Required: true, Valid: awsID, Want: "a secret name or ARN",
		Doc: "the signed (timestamped HMAC) webhook secret"}
	WebhookMaxBodyBytes = Int{Name: "WEBHOOK_MAX_BODY_BYTES", Default: 3 << 20, Min: 1, Max: 6 << 20, Unit: "bytes",
		Doc: "largest webhook body, refused with 413 before any HMAC work"}
	WebhookRedeliveryHorizonHours = Duration{Name: "WEBHOOK_REDELIVERY_HORIZON_HOURS", Unit: time.Hour, Default: 168, Min: 168, Max: 8760,
		Doc: "how old an event may be; covers Meta's 7-day redelivery"}
	SignedWebhookToleranceSeconds = Duration{Name: "SIGNED_WEBHOOK_TOLERANCE_SECONDS", Unit: time.Second, Default: 300, Min: 1, Max: 3600,
		Doc: "timestamp window of the signed scheme"}
	WebhookSecretOverlapHours = Duration{Name: "WEBHOOK_SECRET_OVERLAP_HOURS", Unit: time.Hour, Default: 24, Min: 1, Max: 720,
		Doc: "how long the previous webhook secret is accepted after a rotation"}
	ErasurePhrase = String{Name: "ERASURE_PHRASE", Default: "DELETE MY DATA", Valid: text, Want: "at most 4096 bytes",
		Doc: "whole message that requests erasure"}
	StopPromotionsLabels = List{Name: "STOP_PROMOTIONS_LABELS", Default: []string{"Stop promotions"},
		Doc: "labels of Meta's Stop promotions button, one per template language"}
	HelpText         = String{Name: "HELP_TEXT", Valid: text, Want: "at most 4096 bytes", Doc: "answer to HELP/INFO (unset: none)"}
	StopConfirmation = String{Name: "STOP_CONFIRMATION", Valid: text, Want: "at most 4096 bytes",
		Doc: "confirmation of STOP (unset: none)"}
	StartConfirmation = String{Name: "START_CONFIRMATION", Valid: text, Want: "at most 4096 bytes",
		Doc: "confirmation of START (unset: none)"}
	ErasureConfirmation = String{Name: "ERASURE_CONFIRMATION", Valid: text, Want: "at most 4096 bytes",
		Doc: "confirmation of the erasure phrase (unset: none)"}
	InboundRetentionClass = OneOf{Name: "INBOUND_RETENTION_CLASS", Default: "support",
		Values: []string{"transactional", "marketing", "support", "otp", "status", "metadata"},
		Doc:    "retention class of inbound messages (not a template parameter)"}
)

// The send function.
var (
	RateLimitPerRecipient = Int{Name: "RATE_LIMIT_PER_RECIPIENT", Default: 10, Min: 1, Max: 1000000, Unit: "messages",
		Doc: "messages per recipient per window"}
	RateLimitPerRecipientWindow = Duration{Name: "RATE_LIMIT_PER_RECIPIENT_WINDOW_SECONDS", Unit: time.Second, Default: 3600, Min: 1, Max: 31622400,
		Doc: "the per-recipient window"}
	RateLimitOTP = Int{Name: "RATE_LIMIT_OTP", Default: 5, Min: 1, Max: 1000000, Unit: "messages",
		Doc: "otp messages per recipient per window"}
	RateLimitOTPWindow = Duration{Name: "RATE_LIMIT_OTP_WINDOW_SECONDS", Unit: time.Second, Default: 900, Min: 1, Max: 31622400,
		Doc: "the otp window"}
	RateLimitGlobalPerSecond = Int{Name: "RATE_LIMIT_GLOBAL_PER_SECOND", Default: 80, Min: 1, Max: 1000000, Unit: "messages",
		Doc: "messages per second from the business number"}
	ConsentConfirmTemplate = Template{Name: "CONSENT_CONFIRM_TEMPLATE",
		Doc: "double opt-in confirmation template, its first button a quick reply (unset: double opt-in refused)"}
	ConsentConfirmHours = Duration{Name: "CONSENT_CONFIRM_HOURS", Unit: time.Hour, Default: 24, Min: 1, Max: 168,
		Doc: "how long a pending grant waits for its confirmation"}
)

// The erase function.
var (
	ErasureFinalText = String{Name: "ERASURE_FINAL_TEXT", Valid: text, Want: "at most 4096 bytes",
		Doc: "last message before an erasure, inside the service window (unset: none)"}
	ErasureFinalTemplate = Template{Name: "ERASURE_FINAL_TEMPLATE",
		Doc: "last message before an erasure, outside the window (unset: none)"}
)

// The events function.
var (
	EventBusName = String{Name: "EVENT_BUS_NAME", Required: true, Valid: busName.MatchString, Want: "an event bus name or ARN",
		Doc: "the EventBridge bus events are published to"}
	EndpointSecretPrefix = String{Name: "ENDPOINT_SECRET_PREFIX", Required: true, Valid: secretPrefix.MatchString,
		Want: "a secret name prefix ending in /", Doc: "prefix of the webhook endpoints' secrets"}
)

// The retention function.
var (
	AuditSigningKeyID = String{Name: "AUDIT_SIGNING_KEY_ID", Required: true, Valid: awsID, Want: "a KMS key id, alias or ARN",
		Doc: "the KMS key that signs the audit trail's daily digests"}
)

// All lists every setting, once each, in the order of the settings table.
func All() []Setting {
	return []Setting{
		Stage, DataTable, KeysTable, AuditTable, KMSKeyID, IndexKeySecretID, PseudonymKeySecretID, AuditRetentionDays,
		RetentionDaysTransactional, RetentionDaysMarketing, RetentionDaysSupport, RetentionDaysOTP, RetentionDaysStatus, RetentionDaysMetadata,
		PhoneNumberID, WhatsAppAPIBaseURL, GraphAPIVersion, ProviderRapidAPIHost, ProviderSecretID,
		ClientSecretPrefix, APIKeyOverlapHours,
		MetaWebhookSecretID, SignedWebhookSecretID, WebhookMaxBodyBytes, WebhookRedeliveryHorizonHours, SignedWebhookToleranceSeconds,
		WebhookSecretOverlapHours, ErasurePhrase, StopPromotionsLabels, HelpText, StopConfirmation, StartConfirmation, ErasureConfirmation,
		InboundRetentionClass,
		RateLimitPerRecipient, RateLimitPerRecipientWindow, RateLimitOTP, RateLimitOTPWindow, RateLimitGlobalPerSecond,
		ConsentConfirmTemplate, ConsentConfirmHours,
		ErasureFinalText, ErasureFinalTemplate,
		EventBusName, EndpointSecretPrefix,
		AuditSigningKeyID,
	}
}

var (
	tableName    = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
	digits       = regexp.MustCompile(`^[0-9]{1,20}$`)
	graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,2}$`)
	// hostName is a DNS name, as X-RapidAPI-Host carries it.
	hostName     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$`)
	secretPrefix = regexp.MustCompile(`^[A-Za-z0-9:_@/+=.-]{1,500}/$`)
	busName      = regexp.MustCompile(`^[A-Za-z0-9:_./-]{1,1000}$`)
)

// awsID accepts an AWS name, id, alias or ARN: 1 to 2048 printable ASCII
// characters without spaces.
func awsID(s string) bool { return printable(s, 2048) }

// text accepts a message text of at most 4096 bytes (the Cloud API's
// limit for a text body).
func text(s string) bool { return len(s) <= 4096 }

// baseURL accepts what template.yaml's WhatsAppApiBaseUrl allows: https
// with a host, or http on 127.0.0.1 with a port; no path, query, fragment
// or credentials. A trailing '/' is allowed (and dropped by the reader).
func baseURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && u.Hostname() == "127.0.0.1" && u.Port() != "")
}
