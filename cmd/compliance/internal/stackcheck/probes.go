package stackcheck

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/shared/blindindex"
)

// probeSubject runs the probes that share the run's synthetic subject, in
// order: consent refused, forged webhooks refused, then erasure.
func (c *Checker) probeSubject(ctx context.Context) []checklist.Finding {
	ids := []string{checklist.GDPRConsent, checklist.WebhookSignature, checklist.GDPRErasure}
	cr, err := c.credentials(ctx)
	var s subject
	if err == nil {
		s, err = c.newSubject(ctx, cr)
	}
	if err != nil {
		out := make([]checklist.Finding, 0, len(ids))
		for _, id := range ids {
			out = append(out, checklist.Failf(id, checklist.Stack, "not checked: "+err.Error()))
		}
		return out
	}
	return []checklist.Finding{c.probeConsent(ctx, cr, s), c.probeWebhooks(ctx, cr, s), c.probeErasure(ctx, cr, s)}
}

// probeTemplate is the template every probe send uses.
var probeTemplate = map[string]string{"name": "compliance_probe", "language": "en_US"}

func (c *Checker) probeConsent(ctx context.Context, cr credentials, s subject) checklist.Finding {
	a, err := c.callJSON(ctx, http.MethodPost, "/v1/messages",
		map[string]any{"to": s.num.E164(), "purpose": "marketing", "template": probeTemplate}, cr.apiKey)
	if err != nil {
		return checklist.Failf(checklist.GDPRConsent, checklist.Stack, err.Error())
	}
	sends, err := c.sandboxSends(ctx, s)
	if err != nil {
		return checklist.Failf(checklist.GDPRConsent, checklist.Stack, err.Error())
	}
	return judgeConsent(a, sends, s)
}

// judgeConsent decides the consent item: the send must be refused with
// 403 consent_required (docs/api.md) and reach no provider.
func judgeConsent(a answer, sends int, s subject) checklist.Finding {
	const id = checklist.GDPRConsent
	what := fmt.Sprintf("marketing send to a synthetic number (%v) without consent → %s", s.num, a)
	if a.status != http.StatusForbidden || a.code != "consent_required" {
		return checklist.Failf(id, checklist.Stack, what+", want 403 consent_required")
	}
	switch {
	case sends > 0:
		return checklist.Failf(id, checklist.Stack, what+fmt.Sprintf(", but the provider sandbox received %d message(s)", sends))
	case sends == 0:
		what += "; the provider sandbox received nothing"
	}
	return checklist.Passf(id, checklist.Stack, what)
}

// forgedEvent returns a Meta delivery of a text message from the subject.
func (c *Checker) forgedEvent(s subject, wamid string, now int64) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"100000000000002","changes":[{"value":`+
		`{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100000","phone_number_id":%q},`+
		`"contacts":[{"profile":{"name":"Compliance Probe"},"wa_id":%q}],"messages":[{"from":%q,"id":%q,"timestamp":"%d",`+
		`"type":"text","text":{"body":"forged by the compliance check"}}]},"field":"messages"}]}]}`,
		c.cfg.PhoneNumberID, s.num.Digits(), s.num.Digits(), wamid, now)
}

// randomKey is a key nobody shares with the stack: signatures under it
// are forgeries.
func randomKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func (c *Checker) probeWebhooks(ctx context.Context, cr credentials, s subject) checklist.Finding {
	const id = checklist.WebhookSignature
	before, err := c.partitionSize(ctx, s)
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	now := c.now().Unix()
	wamid := "wamid.compliance" + hex.EncodeToString(randomKey()[:12])
	body := c.forgedEvent(s, wamid, now)
	meta, err := c.call(ctx, http.MethodPost, "/webhooks/meta", body, http.Header{
		"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac(randomKey(), string(body)))}})
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	msgID, ts := "msg_compliance_"+hex.EncodeToString(randomKey()[:8]), strconv.FormatInt(now, 10)
	signed, err := c.call(ctx, http.MethodPost, "/webhooks/signed", body, http.Header{
		"Webhook-Id": {msgID}, "Webhook-Timestamp": {ts},
		"Webhook-Signature": {"v1," + base64.StdEncoding.EncodeToString(mac(randomKey(), msgID, ".", ts, ".", string(body)))}})
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	// template.yaml provisions the verify token as a placeholder the
	// operator must replace: a handshake with it must fail.
	handshake, err := c.call(ctx, http.MethodGet, "/webhooks/meta?hub.mode=subscribe&hub.verify_token="+placeholderVerifyToken+"&hub.challenge=1158201444", nil, nil)
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	after, err := c.partitionSize(ctx, s)
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	indexed, err := c.indexed(ctx, cr.keys.Lookup(blindindex.KindWAMID, wamid))
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	return judgeWebhooks(meta, signed, handshake, before, after, indexed, s)
}

// placeholderVerifyToken is the verify token template.yaml's
// SecretStringTemplate provisions until the operator sets a real one.
const placeholderVerifyToken = "set-me"

// indexed reports whether any data-table item carries the lookup.
func (c *Checker) indexed(ctx context.Context, lookup string) (bool, error) {
	out, err := c.items.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(c.cfg.DataTable), IndexName: aws.String("by-lookup"),
		Select: types.SelectCount, KeyConditionExpression: aws.String("#l = :l"),
		ExpressionAttributeNames:  map[string]string{"#l": "lookup"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": &types.AttributeValueMemberS{Value: lookup}}})
	if err != nil {
		return false, fmt.Errorf("query by-lookup: %s", errCode(err))
	}
	return out.Count > 0, nil
}

// judgeWebhooks decides the webhook item: both forgeries answer 401
// invalid_signature (docs/webhooks.md), nothing is stored, and the GET
// handshake refuses the template's placeholder verify token with 403.
func judgeWebhooks(meta, signed, handshake answer, before, after int, indexed bool, s subject) checklist.Finding {
	const id = checklist.WebhookSignature
	what := fmt.Sprintf("forged X-Hub-Signature-256 → %s, forged Standard Webhooks signature → %s", meta, signed)
	for _, a := range []answer{meta, signed} {
		if a.status != http.StatusUnauthorized || a.code != "invalid_signature" {
			return checklist.Failf(id, checklist.Stack, what+", want 401 invalid_signature for both")
		}
	}
	what += fmt.Sprintf(", handshake with the placeholder verify token → %s", handshake)
	if handshake.status != http.StatusForbidden {
		return checklist.Failf(id, checklist.Stack, what+", want 403: set the Meta secret's verify_token (README, Deploy)")
	}
	if after != before || indexed {
		return checklist.Failf(id, checklist.Stack, fmt.Sprintf("%s, but the forged message was stored (sender's partition: %d → %d items, message id indexed: %v)", what, before, after, indexed))
	}
	return checklist.Passf(id, checklist.Stack, fmt.Sprintf("%s; nothing stored for the sender (%v): %d items before and after, message id not indexed", what, s.num, after))
}
