package chaos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
)

// auditEvent is the part of a stored audit event the checks read.
type auditEvent struct {
	ID, Type, Subject string
	Details           map[string]string
}

// readAudit scans the audit table (directly, not through the faults).
func readAudit(ctx context.Context, s *stack) ([]map[string]types.AttributeValue, []auditEvent, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(s.ddb, &dynamodb.ScanInput{TableName: aws.String(s.st.AuditTable), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("scan audit: %w", err)
		}
		items = append(items, page.Items...)
	}
	var evs []auditEvent
	for _, it := range items {
		if !strings.HasPrefix(str(it["pk"]), "chain#") {
			continue
		}
		e := auditEvent{ID: str(it["id"]), Type: str(it["type"]), Subject: str(it["subject"]), Details: map[string]string{}}
		if m, ok := it["details"].(*types.AttributeValueMemberM); ok {
			for k, v := range m.Value {
				e.Details[k] = str(v)
			}
		}
		evs = append(evs, e)
	}
	return items, evs, nil
}

func str(av types.AttributeValue) string {
	if s, ok := av.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// distinct counts events of subject with one of types, by event id (an
// event whose write outcome was unknown may be stored twice with one id),
// leaving out those whose detail k equals v (refusals, dropped messages).
func distinct(evs []auditEvent, subject string, types []string, skipKey, skipValue string) map[string]auditEvent {
	out := map[string]auditEvent{}
	for _, e := range evs {
		if e.Subject == subject && slices.Contains(types, e.Type) && (skipKey == "" || e.Details[skipKey] != skipValue) {
			out[e.ID] = e
		}
	}
	return out
}

func hasDetail(evs []auditEvent, typ, key, value string) bool {
	return slices.ContainsFunc(evs, func(e auditEvent) bool { return e.Type == typ && e.Details[key] == value })
}

// partition counts a subject's items by kind of sort key.
func partition(ctx context.Context, s *stack, subject string) (map[string]int, error) {
	out := map[string]int{}
	p := dynamodb.NewQueryPaginator(s.ddb, &dynamodb.QueryInput{TableName: aws.String(s.st.DataTable), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.SubjectPK(subject)}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query partition: %w", err)
		}
		for _, it := range page.Items {
			sk := str(it["sk"])
			switch {
			case strings.HasPrefix(sk, "msg#out#"):
				out["out"]++
			case strings.HasPrefix(sk, "msg#in#"):
				out["in"]++
			case strings.HasPrefix(sk, "consent#"):
				out["consent"]++
			}
		}
	}
	return out, nil
}

// subjectOf returns the blind index and audit pseudonym of n, or two
// empty strings for a number that does not parse (no record matches them,
// so every check of that person then fails).
func subjectOf(s *stack, n string) (string, string) {
	num, err := phone.Parse(n)
	if err != nil {
		return "", ""
	}
	idx, pse, err := s.core.Keys.ForPhone(num)
	if err != nil {
		return "", ""
	}
	return idx, pse
}

// gaps collects the changes without an audit event found by the checks.
type gaps struct {
	s          *stack
	x          *run
	evs        []auditEvent
	missing    int
	storedDups int
	why        []string
}

func (g *gaps) add(n int, format string, a ...any) {
	if n > 0 {
		g.missing += n
		g.why = append(g.why, fmt.Sprintf(format, a...))
	}
}

// auditGaps compares what changed for each of the run's subjects (items
// in the data table, messages the provider accepted, successful answers)
// with the audit trail. It returns the changes without an audit event,
// inbound messages stored more than once, and a description of each.
func auditGaps(ctx context.Context, s *stack, x *run, ops []opKind) (missing, storedDups int, why []string, err error) {
	g := &gaps{s: s, x: x}
	if _, g.evs, err = readAudit(ctx, s); err != nil {
		return 0, 0, nil, err
	}
	checks := []func(context.Context) error{g.consents}
	for op, check := range map[opKind]func(context.Context) error{opSend: g.sends, opWebhook: g.inbound, opErasure: g.erasures} {
		if slices.Contains(ops, op) {
			checks = append(checks, check)
		}
	}
	for _, check := range checks {
		if err := check(ctx); err != nil {
			return 0, 0, nil, err
		}
	}
	return g.missing, g.storedDups, g.why, nil
}

// consents: every ledger entry of G and S, and every 201, is audited.
func (g *gaps) consents(ctx context.Context) error {
	kinds := []string{string(audit.EventConsentGranted), string(audit.EventConsentRevoked)}
	for _, n := range []string{g.x.G, g.x.S} {
		idx, pse := subjectOf(g.s, n)
		c, err := partition(ctx, g.s, idx)
		if err != nil {
			return err
		}
		ev := len(distinct(g.evs, pse, kinds, "", ""))
		g.add(c["consent"]-ev, "%d consent ledger entries, %d consent events", c["consent"], ev)
	}
	for _, id := range g.x.consentIDs {
		if !hasDetail(g.evs, string(audit.EventConsentGranted), "consent_event", id) {
			g.add(1, "consent %s answered 201 but has no audit event", id)
		}
	}
	return nil
}

// sends: every message the provider accepted for S, every stored
// outbound message and every 202 has its message_sent event.
func (g *gaps) sends(ctx context.Context) error {
	idx, pse := subjectOf(g.s, g.x.S)
	c, err := partition(ctx, g.s, idx)
	if err != nil {
		return err
	}
	sent := len(distinct(g.evs, pse, []string{string(audit.EventMessageSent)}, "outcome", "refused"))
	accepted, err := g.x.c.sends(ctx, g.x.S)
	if err != nil {
		return err
	}
	g.add(accepted-sent, "%d messages accepted by the provider, %d message_sent events", accepted, sent)
	g.add(c["out"]-sent, "%d outbound messages stored, %d message_sent events", c["out"], sent)
	for _, id := range g.x.messageIDs {
		if !hasDetail(g.evs, string(audit.EventMessageSent), "message", id) {
			g.add(1, "message %s answered 202 but has no audit event", id)
		}
	}
	return nil
}

// inbound: W's message is stored once, with its message_received event.
func (g *gaps) inbound(ctx context.Context) error {
	idx, pse := subjectOf(g.s, g.x.W)
	c, err := partition(ctx, g.s, idx)
	if err != nil {
		return err
	}
	recv := len(distinct(g.evs, pse, []string{string(audit.EventMessageReceived)}, "outcome", "dropped_stale"))
	g.add(c["in"]-recv, "%d inbound messages stored, %d message_received events", c["in"], recv)
	g.storedDups = max(0, c["in"]-1)
	if c["in"] == 0 {
		g.why = append(g.why, "the inbound message was never stored")
	}
	return nil
}

// erasures: every erasure request of E found in the data table (not only
// those answered 202) has its erasure_requested event, and a completed
// one its data_deletion event.
func (g *gaps) erasures(ctx context.Context) error {
	idx, _ := subjectOf(g.s, g.x.E)
	var requests []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(g.s.ddb, &dynamodb.ScanInput{TableName: aws.String(g.s.st.DataTable), ConsistentRead: aws.Bool(true),
		FilterExpression: aws.String("begins_with(pk, :p) AND #s = :s"), ExpressionAttributeNames: map[string]string{"#s": "subject"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "erq#"},
			":s": &types.AttributeValueMemberS{Value: idx}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan erasure requests: %w", err)
		}
		requests = append(requests, page.Items...)
	}
	for _, it := range requests {
		id := strings.TrimPrefix(str(it["pk"]), "erq#")
		if !hasDetail(g.evs, string(audit.EventErasureRequested), "erasure_request", id) {
			g.add(1, "erasure request %s has no erasure_requested event", id)
		}
		switch status := str(it["status"]); {
		case status == "completed" && !hasDetail(g.evs, string(audit.EventDataDeletion), "erasure_request", id):
			g.add(1, "erasure request %s completed without a data_deletion event", id)
		case status != "completed":
			g.why = append(g.why, "erasure request "+id+" is still "+status)
		}
	}
	for _, id := range g.x.erasureIDs {
		if !slices.ContainsFunc(requests, func(it map[string]types.AttributeValue) bool { return str(it["pk"]) == "erq#"+id }) {
			g.why = append(g.why, "erasure request "+id+" answered 202 but is not stored")
		}
	}
	return nil
}

// verifyChains runs the offline verifier of cmd/auditverify over the whole
// audit table, with the signing key's public key from KMS.
func verifyChains(ctx context.Context, s *stack) (string, error) {
	items, evs, err := readAudit(ctx, s)
	if err != nil {
		return "", err
	}
	out, err := s.kms.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(s.st.AuditSigningKeyID)})
	if err != nil {
		return "", fmt.Errorf("get public key: %w", err)
	}
	pub, err := audit.ParsePublicKey(out.PublicKey)
	if err != nil {
		return "", err
	}
	rep, err := audit.Verify(items, pub, audit.VerifyOptions{SealedThrough: audit.SealedThrough(time.Now())})
	if err != nil {
		return "", err
	}
	if b, broken := rep.First(); broken {
		return "", fmt.Errorf("%d breaks, first: %v", len(rep.Breaks), b)
	}
	return fmt.Sprintf("chains verify: %d events", len(evs)), nil
}

// writeCanary stores canaryNumber in clear, directly, so the scan can
// prove it sees what DynamoDB Local writes to disk.
func writeCanary(ctx context.Context, s *stack) error {
	_, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.st.DataTable), Item: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "chaos#canary"}, "sk": &types.AttributeValueMemberS{Value: "canary"},
		"probe": &types.AttributeValueMemberS{Value: canaryNumber}}})
	return err
}
