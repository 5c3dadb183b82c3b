package stackcheck

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/shared/store"
)

// erasureRun is what the erasure probe observed.
type erasureRun struct {
	itemsBefore       int
	keyBefore         bool
	requestID         string
	took              time.Duration
	itemsAfter        int
	keyAfter          bool
	kept, left        []string // data-table items still naming the subject
	keysLeft          int      // keys-table items still naming the subject
	clear             int      // items anywhere holding the number in clear
	scanned           int
	auditEvents       []string // types of the subject's audit events today
	auditNamesSubject int      // audit events holding the number or blind index
}

func (c *Checker) probeErasure(ctx context.Context, cr credentials, s subject) checklist.Finding {
	r, err := c.erase(ctx, cr, s)
	if err != nil {
		return checklist.Failf(checklist.GDPRErasure, checklist.Stack, err.Error())
	}
	return judgeErasure(r, s)
}

func (c *Checker) erase(ctx context.Context, cr credentials, s subject) (erasureRun, error) {
	var r erasureRun
	if err := c.seed(ctx, cr, s); err != nil {
		return r, err
	}
	var err error
	if r.itemsBefore, err = c.partitionSize(ctx, s); err != nil {
		return r, err
	}
	if r.keyBefore, err = c.hasSubjectKey(ctx, s); err != nil {
		return r, err
	}
	start := c.now()
	if r.requestID, err = c.requestErasure(ctx, cr, s); err != nil {
		return r, err
	}
	r.took = c.now().Sub(start).Round(10 * time.Millisecond)
	if r.itemsAfter, err = c.partitionSize(ctx, s); err != nil {
		return r, err
	}
	if r.keyAfter, err = c.hasSubjectKey(ctx, s); err != nil {
		return r, err
	}
	return r, c.scanAfter(ctx, s, start, &r)
}

// seed gives the subject data: a marketing consent and one send.
func (c *Checker) seed(ctx context.Context, cr credentials, s subject) error {
	a, err := c.callJSON(ctx, http.MethodPost, "/v1/consents", map[string]string{"phone": s.num.E164(), "purpose": "marketing",
		"action": "grant", "method": "compliance_check", "policy_version": "compliance"}, cr.apiKey)
	if err != nil {
		return err
	}
	if a.status != http.StatusCreated {
		return fmt.Errorf("could not seed the subject: POST /v1/consents → %s, want 201", a)
	}
	a, err = c.callJSON(ctx, http.MethodPost, "/v1/messages",
		map[string]any{"to": s.num.E164(), "purpose": "marketing", "template": probeTemplate}, cr.apiKey)
	if err != nil {
		return err
	}
	if a.status != http.StatusAccepted {
		return fmt.Errorf("could not seed the subject: POST /v1/messages with consent → %s, want 202", a)
	}
	return nil
}

// requestErasure opens an erasure request and waits for it to complete.
func (c *Checker) requestErasure(ctx context.Context, cr credentials, s subject) (string, error) {
	a, err := c.callJSON(ctx, http.MethodPost, "/v1/erasure-requests", map[string]string{"phone": s.num.E164(), "reason": "other"}, cr.apiKey)
	if err != nil {
		return "", err
	}
	id, _ := a.body["id"].(string)
	if a.status != http.StatusAccepted || !strings.HasPrefix(id, "er_") {
		return "", fmt.Errorf("POST /v1/erasure-requests → %s, want 202 with an er_ id", a)
	}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.ErasureTimeout)
	defer cancel()
	for {
		if a.body["status"] == "completed" {
			return id, nil
		}
		select {
		case <-wctx.Done():
			return id, fmt.Errorf("erasure request %s not completed within %v (status %v)", id, c.cfg.ErasureTimeout, a.body["status"])
		case <-time.After(500 * time.Millisecond):
		}
		if a, err = c.callJSON(wctx, http.MethodGet, "/v1/erasure-requests/"+id, nil, cr.apiKey); err != nil {
			return id, err
		}
		if a.status != http.StatusOK {
			return id, fmt.Errorf("GET /v1/erasure-requests/%s → %s, want 200", id, a)
		}
	}
}

// scanAfter scans the data and keys tables, and the audit events of the
// days the run spans, for anything left of the subject.
func (c *Checker) scanAfter(ctx context.Context, s subject, start time.Time, r *erasureRun) error {
	data, err := c.scan(ctx, c.cfg.DataTable)
	if err != nil {
		return err
	}
	keys, err := c.scan(ctx, c.cfg.KeysTable)
	if err != nil {
		return err
	}
	r.kept, r.left = classify(data, s.bidx)
	r.keysLeft = countMentions(keys, s.bidx)
	r.clear = countMentions(data, s.num.E164(), s.num.Digits()) + countMentions(keys, s.num.E164(), s.num.Digits())
	r.scanned = len(data) + len(keys)
	days := []string{start.UTC().Format(time.DateOnly)}
	if end := c.now().UTC().Format(time.DateOnly); end != days[0] {
		days = append(days, end)
	}
	for _, day := range days {
		events, err := c.auditDay(ctx, day)
		if err != nil {
			return err
		}
		r.scanned += len(events)
		r.clear += countMentions(events, s.num.E164(), s.num.Digits())
		r.auditNamesSubject += countMentions(events, s.bidx)
		for _, e := range events {
			if str(e, "subject") == s.pseudonym {
				r.auditEvents = append(r.auditEvents, str(e, "type"))
			}
		}
	}
	return nil
}

func (c *Checker) scan(ctx context.Context, table string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(c.items, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %s", table, errCode(err))
		}
		out = append(out, page.Items...)
	}
	return out, nil
}

// auditDay reads one UTC day's audit events through the by-day index.
func (c *Checker) auditDay(ctx context.Context, day string) ([]map[string]types.AttributeValue, error) {
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(c.items, &dynamodb.QueryInput{TableName: aws.String(c.cfg.AuditTable), IndexName: aws.String("by-day"),
		KeyConditionExpression:    aws.String("#d = :d"),
		ExpressionAttributeNames:  map[string]string{"#d": "day"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: day}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query audit events of %s: %s", day, errCode(err))
		}
		out = append(out, page.Items...)
	}
	return out, nil
}

// classify sorts the data-table items that still name the subject (its
// blind index) into what docs/gdpr.md says erasure keeps, the erasure
// suppression and erasure requests, and anything else, by key prefix.
func classify(items []map[string]types.AttributeValue, bidx string) (kept, left []string) {
	for _, it := range items {
		if !mentions(it, bidx) {
			continue
		}
		pk := str(it, "pk")
		switch {
		case pk == store.ErasedPK(bidx):
			kept = append(kept, "erasure suppression")
		case strings.HasPrefix(pk, "erq#") && str(it, "subject") == bidx:
			kept = append(kept, "erasure request")
		default:
			prefix, _, _ := strings.Cut(pk, "#")
			left = append(left, prefix+"# item")
		}
	}
	sort.Strings(kept)
	sort.Strings(left)
	return kept, left
}

// judgeErasure decides the erasure item.
func judgeErasure(r erasureRun, s subject) checklist.Finding {
	const id = checklist.GDPRErasure
	var bad []string
	if r.itemsBefore < 2 || !r.keyBefore {
		bad = append(bad, fmt.Sprintf("the seeded subject had %d items and key %v before erasure (want ≥ 2 and a key)", r.itemsBefore, r.keyBefore))
	}
	if r.itemsAfter != 0 {
		bad = append(bad, fmt.Sprintf("%d items left in its partition", r.itemsAfter))
	}
	if r.keyAfter || r.keysLeft > 0 {
		bad = append(bad, "its subject key survived")
	}
	if len(r.left) > 0 {
		bad = append(bad, "left in the data table: "+strings.Join(r.left, ", "))
	}
	if r.clear > 0 {
		bad = append(bad, fmt.Sprintf("the number in clear in %d item(s)", r.clear))
	}
	if r.auditNamesSubject > 0 {
		bad = append(bad, fmt.Sprintf("%d audit event(s) name the subject by its blind index", r.auditNamesSubject))
	}
	if !contains(r.auditEvents, "data_deletion") {
		bad = append(bad, "no data_deletion audit event under the subject's pseudonym")
	}
	head := fmt.Sprintf("erased a synthetic subject (%v, %d items and its key before) with %s in %v", s.num, r.itemsBefore, r.requestID, r.took)
	if len(bad) > 0 {
		return checklist.Failf(id, checklist.Stack, head+": "+strings.Join(bad, "; "))
	}
	return checklist.Passf(id, checklist.Stack, fmt.Sprintf(
		"%s; after: 0 items in its partition, subject key deleted, the number in clear in none of %d items scanned; kept as docs/gdpr.md says: %s, %d pseudonymised audit events (incl. data_deletion)",
		head, r.scanned, strings.Join(unique(r.kept), ", "), len(r.auditEvents)))
}

// mentions reports whether any string in the item contains one of needles.
func mentions(v any, needles ...string) bool {
	switch v := v.(type) {
	case map[string]types.AttributeValue:
		for _, a := range v {
			if mentions(a, needles...) {
				return true
			}
		}
	case *types.AttributeValueMemberS:
		for _, n := range needles {
			if n != "" && strings.Contains(v.Value, n) {
				return true
			}
		}
	case *types.AttributeValueMemberSS:
		return mentions(&types.AttributeValueMemberS{Value: strings.Join(v.Value, "\x00")}, needles...)
	case *types.AttributeValueMemberM:
		return mentions(v.Value, needles...)
	case *types.AttributeValueMemberL:
		for _, a := range v.Value {
			if mentions(a, needles...) {
				return true
			}
		}
	}
	return false
}

func countMentions(items []map[string]types.AttributeValue, needles ...string) int {
	n := 0
	for _, it := range items {
		if mentions(it, needles...) {
			n++
		}
	}
	return n
}

func str(it map[string]types.AttributeValue, name string) string {
	if s, ok := it[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func unique(vs []string) []string {
	var out []string
	for _, v := range vs {
		if !contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
