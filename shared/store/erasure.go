package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
)

// ErasureDeadline is the one month GDPR Art. 12(3) allows, as 30 days.
const ErasureDeadline = 30 * 24 * time.Hour

// ErasureRequest is a request to erase one subject. It holds no personal
// data: the subject is its blind index.
type ErasureRequest struct {
	// ID is the request id (er_…); Subject the blind index it concerns;
	// Pseudonym the subject's audit pseudonym (keyed; for data_deletion).
	ID, Subject, Pseudonym string
	// Reason is user_request, whatsapp_keyword, contract_end or other.
	Reason string
	// Status is pending, in_progress, completed or failed.
	Status string
	// Step is the last step done (see the erase function).
	Step string
	// RequestedAt and DueBy bound the one-month deadline; CompletedAt is
	// set once done.
	RequestedAt, DueBy, CompletedAt time.Time
	// Counts are the items erased so far; KeyDeleted reports the subject
	// key's deletion; AuditEvent is the data_deletion event proving it.
	Counts     Counts
	KeyDeleted bool
	AuditEvent string
	// Scope is what the erasure covers, fixed when it starts
	// ([Store.ScopeErasure]): nil until then.
	Scope *ErasureScope
	// Recipients are the destinations told of the erasure (GDPR Art. 19),
	// sorted by name; set when the erasure is proven.
	Recipients []ErasureRecipient
}

// ErasureRecipient is one destination told of an erasure and how far it
// got: notified (the subject.erased event recorded for it), then
// acknowledged (a 2xx) or failed (out of retries).
type ErasureRecipient struct {
	Destination                          string
	NotifiedAt, AcknowledgedAt, FailedAt time.Time
}

// Settled reports whether the recipient acknowledged or ran out of retries.
func (r ErasureRecipient) Settled() bool { return !r.AcknowledgedAt.IsZero() || !r.FailedAt.IsZero() }

// The outcomes [Store.SetErasureRecipient] records.
const (
	RecipientAcknowledged = "acknowledged_at"
	RecipientFailed       = "failed_at"
)

// ErasureScope is everything of one person an erasure covers: every
// partition of the subject (its own and those merged into it) and the
// blind index of every identifier attached to it. Keyed hashes only.
type ErasureScope struct {
	Partitions, Identifiers []string
}

// pendingLookup marks open requests in the sparse by-lookup index, so the
// scheduled resume finds them without a scan.
const pendingLookup = "erasure#pending"

func erasurePointer(subject string) map[string]types.AttributeValue {
	return key("erq-open#"+subject, "erq")
}

// OpenErasure creates a pending erasure request for the subject, with u
// in the same transaction. When one is already
// open it returns that request together with an error wrapping
// [ErrDuplicate] (requests are idempotent per subject; the wrapped
// cancellation tells an audit.Pending its item was not written).
func (s *Store) OpenErasure(ctx context.Context, req ErasureRequest, u Unit) (ErasureRequest, error) {
	req.Status = "pending"
	req.DueBy = req.RequestedAt.Add(ErasureDeadline)
	pointer := erasurePointer(req.Subject)
	pointer["id"] = sAttr(req.ID)
	item := map[string]types.AttributeValue{"pk": sAttr("erq#" + req.ID), "sk": sAttr("erq"), "subject": sAttr(req.Subject),
		"reason": sAttr(req.Reason), "status": sAttr(req.Status), "requested_at": num(req.RequestedAt.Unix()),
		"due_by": num(req.DueBy.Unix()), "lookup": sAttr(pendingLookup), "pseudonym": sAttr(req.Pseudonym)}
	err := s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error {
		return commit(new(tx).add(ErrDuplicate, put(s.name, pointer, "attribute_not_exists(pk)")).add(nil, put(s.name, item, "attribute_not_exists(pk)")))
	})
	if !errors.Is(err, ErrDuplicate) {
		return req, err
	}
	existing, rerr := s.openErasure(ctx, req.Subject)
	if rerr != nil {
		return ErasureRequest{}, rerr
	}
	return existing, err
}

// openErasure reads the subject's open request.
func (s *Store) openErasure(ctx context.Context, subject string) (ErasureRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: erasurePointer(subject), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return ErasureRequest{}, fmt.Errorf("get open erasure: %w", err)
	}
	if len(out.Item) == 0 {
		return ErasureRequest{}, ErrNotFound
	}
	return s.ErasureRequest(ctx, str(out.Item, "id"))
}

// ErasureRequest reads a request by id; [ErrNotFound] if there is none.
func (s *Store) ErasureRequest(ctx context.Context, id string) (ErasureRequest, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key("erq#"+id, "erq"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return ErasureRequest{}, fmt.Errorf("get erasure request: %w", err)
	}
	if len(out.Item) == 0 {
		return ErasureRequest{}, ErrNotFound
	}
	it := out.Item
	r := ErasureRequest{ID: id, Subject: str(it, "subject"), Pseudonym: str(it, "pseudonym"), Reason: str(it, "reason"), Status: str(it, "status"), Step: str(it, "step"),
		RequestedAt: time.Unix(numAttr(it, "requested_at"), 0).UTC(), DueBy: time.Unix(numAttr(it, "due_by"), 0).UTC(),
		Counts: Counts{Messages: int(numAttr(it, "n_messages")), Statuses: int(numAttr(it, "n_statuses")),
			ConsentEvents: int(numAttr(it, "n_consent_events")), Other: int(numAttr(it, "n_other")), RateRecords: int(numAttr(it, "n_rate"))},
		KeyDeleted: str(it, "key_deleted") == "true", AuditEvent: str(it, "audit_event")}
	if m, ok := it["recipients"].(*types.AttributeValueMemberM); ok {
		for name, v := range m.Value {
			e, _ := v.(*types.AttributeValueMemberM)
			if e == nil {
				continue
			}
			at := func(k string) time.Time {
				if n := numAttr(e.Value, k); n > 0 {
					return time.Unix(n, 0).UTC()
				}
				return time.Time{}
			}
			r.Recipients = append(r.Recipients, ErasureRecipient{Destination: name, NotifiedAt: at("notified_at"),
				AcknowledgedAt: at(RecipientAcknowledged), FailedAt: at(RecipientFailed)})
		}
		slices.SortFunc(r.Recipients, func(a, b ErasureRecipient) int { return strings.Compare(a.Destination, b.Destination) })
	}
	if parts, ok := it["scope_parts"].(*types.AttributeValueMemberSS); ok {
		r.Scope = &ErasureScope{Partitions: slices.Sorted(slices.Values(parts.Value))}
		if ids, ok := it["scope_ids"].(*types.AttributeValueMemberSS); ok {
			r.Scope.Identifiers = slices.Sorted(slices.Values(ids.Value))
		}
	}
	if c := numAttr(it, "completed_at"); c > 0 {
		r.CompletedAt = time.Unix(c, 0).UTC()
	}
	return r, nil
}

// PendingErasures lists the ids of requests not completed yet, oldest
// first as the index returns them, at most limit.
func (s *Store) PendingErasures(ctx context.Context, limit int32) ([]string, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-lookup"), Limit: aws.Int32(limit),
		KeyConditionExpression:    aws.String("lookup = :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": sAttr(pendingLookup)}})
	if err != nil {
		return nil, fmt.Errorf("query pending erasures: %w", err)
	}
	ids := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		ids = append(ids, strings.TrimPrefix(str(it, "pk"), "erq#"))
	}
	return ids, nil
}

// ScopeErasure fixes what request r covers, once: the subject's
// partitions and its identifiers' keys as they are now. A resumed or
// concurrent run reads the scope the first run fixed, so the merges and
// aliases the erasure deletes cannot shrink it. It returns the scope in
// force.
func (s *Store) ScopeErasure(ctx context.Context, r ErasureRequest) (ErasureScope, error) {
	if r.Scope != nil {
		return *r.Scope, nil
	}
	parts, err := s.Partitions(ctx, r.Subject)
	if err != nil {
		return ErasureScope{}, err
	}
	var ids []string
	for _, p := range parts {
		items, err := s.queryRange(ctx, SubjectPK(p), "ident#", "ident$")
		if err != nil {
			return ErasureScope{}, err
		}
		for _, it := range items {
			k := str(it, "sk")
			ids = append(ids, k[strings.LastIndex(k, "#")+1:])
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	vals := map[string]types.AttributeValue{":p": &types.AttributeValueMemberSS{Value: parts}}
	expr := "SET scope_parts = :p"
	if len(ids) > 0 {
		expr, vals[":i"] = expr+", scope_ids = :i", &types.AttributeValueMemberSS{Value: ids}
	}
	upd := s.erasureUpdate(r.ID, expr, vals)
	upd.Update.ConditionExpression = aws.String(*upd.Update.ConditionExpression + " AND attribute_not_exists(scope_parts)")
	err = s.transact(ctx, []types.TransactWriteItem{upd}, 0, -1)
	if errors.Is(err, ErrDuplicate) { // fixed by another run meanwhile
		cur, err := s.ErasureRequest(ctx, r.ID)
		if err != nil || cur.Scope == nil {
			return ErasureScope{}, fmt.Errorf("erasure scope: %w", err)
		}
		return *cur.Scope, nil
	}
	if err != nil {
		return ErasureScope{}, err
	}
	return ErasureScope{Partitions: slices.Sorted(slices.Values(parts)), Identifiers: ids}, nil
}

// DropAliases deletes the alias items of the given identifier keys, so
// that an identifier of an erased person no longer leads to a subject: it
// then resolves to its own key, whose erasure suppression refuses it.
func (s *Store) DropAliases(ctx context.Context, keys []string) error {
	for start := 0; start < len(keys); start += 25 {
		var items []types.TransactWriteItem
		for _, k := range keys[start:min(start+25, len(keys))] {
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.name, Key: key(AliasPK(k), "alias")}})
		}
		if err := s.transact(ctx, items, -1, -1); err != nil {
			return fmt.Errorf("drop aliases: %w", err)
		}
	}
	return nil
}

// SetErasureRecipient records outcome ([RecipientAcknowledged] or
// [RecipientFailed]) at at for destination of request id. It is a no-op
// for a destination the request did not notify.
func (s *Store) SetErasureRecipient(ctx context.Context, id, destination, outcome string, at time.Time) error {
	if outcome != RecipientAcknowledged && outcome != RecipientFailed {
		return fmt.Errorf("erasure recipient: unknown outcome %q", outcome)
	}
	err := s.transact(ctx, []types.TransactWriteItem{{Update: &types.Update{TableName: &s.name, Key: key("erq#"+id, "erq"),
		UpdateExpression:          aws.String("SET recipients.#d.#o = :t"),
		ConditionExpression:       aws.String("attribute_exists(recipients.#d)"),
		ExpressionAttributeNames:  map[string]string{"#d": destination, "#o": outcome},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": num(at.Unix())}}}}, 0, -1)
	if err != nil && !errors.Is(err, ErrDuplicate) { // ErrDuplicate here: not a recipient of this request
		return fmt.Errorf("erasure recipient: %w", err)
	}
	return nil
}

// ProveErasure records that request r's data is gone, in one
// transaction with u (the data_deletion audit event, first, and the
// subject.erased event record; without audit events, the record's
// AuditID names the proof): step notified, the audit event that proves
// it, and each recipient as notified at at. [ErrDuplicate] means
// another run proved it first.
func (s *Store) ProveErasure(ctx context.Context, r ErasureRequest, recipients []string, at time.Time, u Unit) error {
	m := map[string]types.AttributeValue{}
	for _, d := range recipients {
		m[d] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"notified_at": num(at.Unix())}}
	}
	return s.write(ctx, u, func(evs []audit.Event, commit func(*tx) error) error {
		var proof string
		switch {
		case len(evs) > 0:
			proof = evs[0].ID
		case len(u.Events) > 0:
			proof = u.Events[0].AuditID
		default:
			return errors.New("store: an erasure's proof needs its audit event")
		}
		upd := s.erasureUpdate(r.ID, "SET #st = :p, step = :s, audit_event = :a, recipients = :r, updated_at = :t",
			map[string]types.AttributeValue{":p": sAttr("in_progress"), ":s": sAttr("notified"), ":a": sAttr(proof),
				":r": &types.AttributeValueMemberM{Value: m}, ":t": num(at.Unix())})
		return commit(new(tx).add(ErrDuplicate, upd))
	})
}

// BusRecipient names the event bus among an erasure's recipients.
const BusRecipient = "bus"

// NoticesSettled reports whether every endpoint told of the erasure
// acknowledged it or ran out of retries. The bus is not waited for: its
// acceptance says nothing of its rules' targets, which retry on their own.
func (r ErasureRequest) NoticesSettled() bool {
	for _, rc := range r.Recipients {
		if rc.Destination != BusRecipient && !rc.Settled() {
			return false
		}
	}
	return true
}

// FinishErasure completes a proven request (step notified) once its
// notices are settled: the records of who received events about the
// person go, and the request closes. It reports whether the request is
// completed (false: still waiting for a recipient).
func (s *Store) FinishErasure(ctx context.Context, id string, at time.Time) (bool, error) {
	r, err := s.ErasureRequest(ctx, id)
	if err != nil {
		return false, err
	}
	if r.Status == "completed" {
		return true, nil
	}
	if r.Step != "notified" || !r.NoticesSettled() {
		return false, nil
	}
	parts := []string{r.Subject}
	if r.Scope != nil {
		parts = r.Scope.Partitions
	}
	for _, p := range parts {
		if err := s.DropRecipients(ctx, p); err != nil {
			return false, err
		}
	}
	err = s.completeErasure(ctx, r, at)
	if errors.Is(err, ErrDuplicate) {
		return true, nil // completed by another run
	}
	return err == nil, err
}

// DropRecipients deletes the record of which destinations received
// events about subject (at the end of its erasure).
func (s *Store) DropRecipients(ctx context.Context, subject string) error {
	names, err := s.Recipients(ctx, subject)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := s.transact(ctx, []types.TransactWriteItem{{Delete: &types.Delete{TableName: &s.name, Key: key(RecipientPK(subject), n)}}}, -1, -1); err != nil {
			return fmt.Errorf("drop recipients: %w", err)
		}
	}
	return nil
}

// SetErasureStep records a step of request id (status in_progress).
func (s *Store) SetErasureStep(ctx context.Context, id, step string, at time.Time) error {
	return s.transact(ctx, []types.TransactWriteItem{s.erasureUpdate(id, "SET #st = :p, step = :s, updated_at = :t",
		map[string]types.AttributeValue{":p": sAttr("in_progress"), ":s": sAttr(step), ":t": num(at.Unix())})}, -1, -1)
}

// erasureUpdate updates request id unless it is completed.
func (s *Store) erasureUpdate(id, expr string, vals map[string]types.AttributeValue) types.TransactWriteItem {
	vals[":done"] = sAttr("completed")
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.name, Key: key("erq#"+id, "erq"),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String("attribute_exists(pk) AND #st <> :done"),
		ExpressionAttributeNames: map[string]string{"#st": "status"}, ExpressionAttributeValues: vals}}
}

// countUpdate adds c to request id's counts, in the transaction that
// deletes those items, so the counts are exact even across crashes.
func (s *Store) countUpdate(id string, c Counts) types.TransactWriteItem {
	return s.erasureUpdate(id, "ADD n_messages :m, n_statuses :s, n_consent_events :c, n_other :o",
		map[string]types.AttributeValue{":m": num(int64(c.Messages)), ":s": num(int64(c.Statuses)),
			":c": num(int64(c.ConsentEvents)), ":o": num(int64(c.Other))})
}

// MarkKeyDeleted records that the subject key is gone.
func (s *Store) MarkKeyDeleted(ctx context.Context, id string) error {
	return s.transact(ctx, []types.TransactWriteItem{s.erasureUpdate(id, "SET key_deleted = :y",
		map[string]types.AttributeValue{":y": sAttr("true")})}, -1, -1)
}

// completeErasure marks proven request r completed (keeping the audit
// event that proved it), closes the subject's open-request pointer and
// drops the request from the pending index, in one transaction.
// [ErrDuplicate] means it was already done.
func (s *Store) completeErasure(ctx context.Context, r ErasureRequest, at time.Time) error {
	done := s.erasureUpdate(r.ID, "SET #st = :done, step = :s, completed_at = :t REMOVE lookup",
		map[string]types.AttributeValue{":s": sAttr("completed"), ":t": num(at.Unix())})
	pointer := types.TransactWriteItem{Delete: &types.Delete{TableName: &s.name, Key: erasurePointer(r.Subject)}}
	return s.commit(ctx, []types.TransactWriteItem{done, pointer}, span{0, 1, ErrDuplicate})
}

// LiftErasure is the write that lifts a subject's erasure suppression,
// for the transaction that records their fresh consent. The suppression
// item stays, marked lifted_at, so that it keeps the erasure's time: an
// event from before it is still refused ([Store.PutInbound]). For a
// subject never erased it writes an item holding only that time.
func (s *Store) LiftErasure(subject string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.name, Key: key(ErasedPK(subject), "erased"),
		UpdateExpression:          aws.String("SET lifted_at = :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(s.now().Unix())}}}
}

// OpenErasureOf returns the subject's open erasure request, or
// [ErrNotFound].
func (s *Store) OpenErasureOf(ctx context.Context, subject string) (ErasureRequest, error) {
	return s.openErasure(ctx, subject)
}
