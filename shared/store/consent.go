package store

import (
	"cmp"
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
	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/window"
)

// Consent actions (shared/consent defines them and [consent.ActionResume]).
const (
	ActionGrant  = consent.ActionGrant
	ActionRevoke = consent.ActionRevoke
)

// ConsentEvent is one entry of a subject's append-only consent ledger.
type ConsentEvent struct {
	// ID is the event id (cev_…); Purpose the messaging purpose.
	ID, Purpose string
	// Action is grant or revoke; Method how it was given (api, whatsapp_keyword, …).
	Action, Method string
	// PolicyVersion is the privacy policy version shown; Actor who recorded it.
	PolicyVersion, Actor string
	// Evidence is optional proof (stored encrypted).
	Evidence []byte
	// Notice is the exact text shown (shared/notice), registered with the
	// entry and not kept in it; NoticeSHA256 is its id, which the entry
	// keeps (set from Notice when empty; read back by [Store.Profile]).
	// An entry with the id alone names a notice registered before (a
	// grant confirming a pending one).
	Notice, NoticeSHA256 string
	// ConfirmBy is a pending entry's deadline ([consent.ActionPending]).
	ConfirmBy time.Time
	// Confirms is, on a grant, the id of the pending entry it confirms.
	Confirms string
	// At is when it happened.
	At time.Time
}

// SuppressionChange says what a consent event does to the purpose's
// suppression: nothing, add one (a STOP) or lift one (a fresh grant).
type SuppressionChange int

// The suppression changes.
const (
	SuppressionKeep SuppressionChange = iota
	SuppressionAdd
	SuppressionLift
)

// RecordConsent appends ev to the ledger and applies change to the
// purpose's suppression, in one transaction with u.
// A revoke never deletes the grant it revokes (GDPR Art. 7(1)). Returns
// [ErrErased] if the subject was erased and ev is not a grant.
func (s *Store) RecordConsent(ctx context.Context, subject string, ev ConsentEvent, change SuppressionChange, reason string, u Unit) error {
	return s.record(ctx, subject, ev, suppression{change: change, reason: reason}, u)
}

// RecordChange appends the ledger entry of c (the rule shared/consent
// decided) with ev's id, actor, evidence and time, and applies c's effect
// on the suppression, in one transaction with u. Returns [ErrDuplicate]
// when ev's id was recorded before, [ErrErased] if the subject was erased
// and c is not a grant, and [ErrSuppressionChanged] when c's effect is
// limited to some reasons (c.Over) and the suppression changed since the
// caller read it: read it again and decide again.
func (s *Store) RecordChange(ctx context.Context, subject string, ev ConsentEvent, c consent.Change, u Unit) error {
	ev, sup := fromChange(ev, c)
	return s.record(ctx, subject, ev, sup, u)
}

// ChangeWrites is [Store.ConsentWrites] for a change decided by
// shared/consent ([Store.RecordChange]), for a caller that commits it in
// its own transaction. A failed c.Over condition cancels that
// transaction.
func (s *Store) ChangeWrites(ctx context.Context, subject string, ev ConsentEvent, c consent.Change) ([]types.TransactWriteItem, error) {
	ev, sup := fromChange(ev, c)
	return s.consentWrites(ctx, subject, ev, sup)
}

// ErrSuppressionChanged is returned when a suppression change limited to
// some reasons found the suppression held for another one.
var ErrSuppressionChanged = errors.New("store: the suppression changed meanwhile")

// suppression is what a ledger entry does to its purpose's suppression.
type suppression struct {
	change SuppressionChange
	reason string
	// over, when not nil, limits the change to a purpose not suppressed
	// or suppressed for one of these reasons (a condition).
	over []string
}

// Entry is the ledger entry of change c (the rule shared/consent
// decided) recorded as id.
func Entry(id string, c consent.Change) ConsentEvent {
	ev, _ := fromChange(ConsentEvent{ID: id}, c)
	return ev
}

// ConsentAudit is the audit event of ledger entry ev, as every writer
// records it: its type from the action, and the purpose, method and id.
// It leaves the notice id out: a hex hash often holds a run of digits the
// audit guard refuses as a phone number; the entry in the same
// transaction names it.
func ConsentAudit(ev ConsentEvent, pseudonym string, actor audit.Actor, requestID string) audit.Event {
	return audit.Event{Type: consent.AuditType(ev.Action), Subject: pseudonym, Actor: actor, RequestID: requestID,
		Details: map[string]string{"purpose": ev.Purpose, "method": ev.Method, "consent_event": ev.ID}}
}

// ConsentRecord is the consent.changed outbox record of subject's ledger
// entry ev, dated at.
func ConsentRecord(subject string, ev ConsentEvent, at time.Time) EventRecord {
	return EventRecord{Type: events.TypeConsentChanged, Subject: subject, At: at,
		Fields: events.Data{ConsentEventID: ev.ID, Purpose: ev.Purpose, Action: ev.Action, Method: ev.Method,
			NoticeSHA256: ev.NoticeSHA256, Confirms: ev.Confirms}}
}

// fromChange fills ev from c.
func fromChange(ev ConsentEvent, c consent.Change) (ConsentEvent, suppression) {
	ev.Purpose, ev.Action, ev.Method, ev.PolicyVersion = c.Purpose, c.Action, c.Method, c.PolicyVersion
	if c.NoticeSHA256 != "" {
		ev.NoticeSHA256 = c.NoticeSHA256
	}
	if c.Confirms != "" {
		ev.Confirms = c.Confirms
	}
	sup := suppression{reason: c.Reason, over: c.Over}
	switch c.Effect {
	case consent.Suppress:
		sup.change = SuppressionAdd
	case consent.Lift:
		sup.change = SuppressionLift
	}
	return ev, sup
}

// record writes ev and sup in one transaction with u.
func (s *Store) record(ctx context.Context, subject string, ev ConsentEvent, sup suppression, u Unit) error {
	items, err := s.consentWrites(ctx, subject, ev, sup)
	if err != nil {
		return err
	}
	t := new(tx)
	if ev.Action != ActionGrant {
		t.add(ErrErased, s.notErased(subject))
	}
	// The event's marker and ledger entry first; only a limited
	// suppression change has a condition among the rest.
	t.add(ErrDuplicate, items[:2]...).add(ErrSuppressionChanged, items[2:]...)
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error { return commit(t) })
}

// ConsentWrites returns the writes that record ev and apply change, for a
// caller that commits them in its own transaction (the webhook commits a
// STOP keyword together with the message that carried it). The event
// id's marker and the ledger entry come first, each conditional on not
// existing; ev's notice, when not registered yet, is registered by the
// last write.
func (s *Store) ConsentWrites(ctx context.Context, subject string, ev ConsentEvent, change SuppressionChange, reason string) ([]types.TransactWriteItem, error) {
	return s.consentWrites(ctx, subject, ev, suppression{change: change, reason: reason})
}

// consentIDPrefix begins the sort key of the item that marks a consent
// event id as recorded.
const consentIDPrefix = "cevid#"

// consentWrites returns the writes of the event id's marker and of the
// ledger entry (both conditional on not existing), then the
// suppression's.
// A lift removes the purpose's suppression from every partition of the
// subject ([Store.Partitions]): [Store.Profile] counts a suppression held
// in any of them, so lifting the home partition's alone would leave a
// merged subject suppressed after a fresh grant.
func (s *Store) consentWrites(ctx context.Context, subject string, ev ConsentEvent, sup suppression) ([]types.TransactWriteItem, error) {
	pk := SubjectPK(subject)
	now := s.now()
	at := window.Bound(ev.At, now).UTC()
	sk := ledgerSK(at, now, ev.ID)
	item := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr(sk), "purpose": sAttr(ev.Purpose),
		"action": sAttr(ev.Action), "method": sAttr(ev.Method), "policy_version": sAttr(ev.PolicyVersion),
		"actor": sAttr(ev.Actor), "at": num(at.Unix()), "seq": num(now.UnixNano()), "event_id": sAttr(ev.ID)}
	if err := s.sealFields(ctx, subject, pk, sk, item, field{"evidence", ev.Evidence}); err != nil {
		return nil, err
	}
	// The ledger's sort key holds the time of recording, so the entry's
	// own condition cannot refuse a second recording of one event: a
	// marker keyed by the event id does (a signal's id derives from what
	// Meta sent, so its redelivery is a duplicate).
	noticeID, register, err := s.consentNotice(ctx, ev)
	if err != nil {
		return nil, err
	}
	if noticeID != "" {
		item["notice_sha256"] = sAttr(noticeID)
	}
	// A pending entry's deadline is not "expires_at", the attribute that
	// TTL deletes and readers skip: the entry stays as the record of what
	// was asked.
	if !ev.ConfirmBy.IsZero() {
		item["confirm_by"] = num(ev.ConfirmBy.Unix())
	}
	if ev.Confirms != "" {
		item["confirms"] = sAttr(ev.Confirms)
	}
	marker := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr(consentIDPrefix + ev.ID), "at": num(at.Unix())}
	items := []types.TransactWriteItem{put(s.name, marker, "attribute_not_exists(pk)"), put(s.name, item, "attribute_not_exists(pk)")}
	cond, names, values := overCondition(sup.over)
	switch sup.change {
	case SuppressionAdd:
		w := put(s.name, map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr("supp#" + ev.Purpose),
			"reason": sAttr(sup.reason), "at": num(ev.At.Unix())}, cond)
		w.Put.ExpressionAttributeNames, w.Put.ExpressionAttributeValues = names, values
		items = append(items, w)
	case SuppressionLift:
		parts, err := s.Partitions(ctx, subject)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			d := &types.Delete{TableName: &s.name, Key: key(SubjectPK(p), "supp#"+ev.Purpose)}
			if cond != "" {
				d.ConditionExpression, d.ExpressionAttributeNames, d.ExpressionAttributeValues = &cond, names, values
			}
			items = append(items, types.TransactWriteItem{Delete: d})
		}
	}
	return append(items, register...), nil
}

// overCondition is the condition that limits a suppression change to a
// purpose not suppressed or suppressed for one of reasons ("" when
// reasons is nil: unconditional).
func overCondition(reasons []string) (string, map[string]string, map[string]types.AttributeValue) {
	if reasons == nil {
		return "", nil, nil
	}
	values := map[string]types.AttributeValue{}
	var refs []string
	for i, r := range reasons {
		ref := fmt.Sprintf(":r%d", i)
		values[ref] = sAttr(r)
		refs = append(refs, ref)
	}
	return "attribute_not_exists(pk) OR #reason IN (" + strings.Join(refs, ", ") + ")", map[string]string{"#reason": "reason"}, values
}

// ledgerSK is a ledger entry's sort key: its own time to the second
// (fixed width), then the time it was recorded (fixed-width nanoseconds),
// then its id. Entries sort by when they happened and, within a second
// (Meta's timestamps have no fractions), in arrival order.
func ledgerSK(at, recorded time.Time, id string) string {
	return fmt.Sprintf("consent#%s#%020d#%s", at.UTC().Format("2006-01-02T15:04:05Z"), recorded.UnixNano(), id)
}

// ledgerOrder sorts ledger items as [ledgerSK] does, also for entries
// written before it (RFC3339Nano keys, no seq: they count as recorded at
// the start of their second, before any newer entry of that second).
func ledgerOrder(a, b map[string]types.AttributeValue) int {
	return cmp.Or(cmp.Compare(numAttr(a, "at"), numAttr(b, "at")), cmp.Compare(numAttr(a, "seq"), numAttr(b, "seq")),
		strings.Compare(str(a, "sk"), str(b, "sk")))
}

// Profile is what the send path needs to decide about a recipient.
type Profile struct {
	// Ledger is the consent ledger, oldest first.
	Ledger []ConsentEvent
	// Suppressed maps a purpose to the reason it is suppressed.
	Suppressed map[string]string
	// Erased is set when the subject's erasure suppression is in force in
	// any of its partitions ([consent.Erasure.InForce]).
	Erased bool
	// LastInbound is when the subject last wrote to us (zero if never).
	LastInbound time.Time
	// ReadAt is when it was read: a pending grant counts as pending
	// until its deadline ([consent.State]).
	ReadAt time.Time
}

// Consented reports whether the latest grant or revoke for purpose is a
// grant ([consent.State]: a resume of WhatsApp's setting grants nothing,
// and neither does a pending grant).
func (p Profile) Consented(purpose string) bool {
	return p.State(purpose) == consent.StateGranted
}

// State is purpose's consent state when the profile was read: granted,
// revoked, pending or none ([consent.State]).
func (p Profile) State(purpose string) string {
	var entries []consent.Entry
	for _, e := range p.Entries() {
		if e.Purpose == purpose {
			entries = append(entries, e)
		}
	}
	return consent.State(entries, p.ReadAt)
}

// Entries is the ledger as shared/consent's rules read it.
func (p Profile) Entries() []consent.Entry {
	out := make([]consent.Entry, 0, len(p.Ledger))
	for _, ev := range p.Ledger {
		out = append(out, consent.Entry{ID: ev.ID, Purpose: ev.Purpose, Action: ev.Action, At: ev.At, PolicyVersion: ev.PolicyVersion,
			NoticeSHA256: ev.NoticeSHA256, ConfirmBy: ev.ConfirmBy, Confirms: ev.Confirms})
	}
	return out
}

// Profile reads a subject's consent ledger, suppressions, erasure state
// and service window, across its partitions ([Store.Partitions]): a
// consent or suppression recorded under any identifier of the person
// counts. Evidence is not decrypted.
func (s *Store) Profile(ctx context.Context, subject string) (Profile, error) {
	now := s.now()
	p := Profile{Suppressed: map[string]string{}, ReadAt: now}
	var ledger []map[string]types.AttributeValue
	parts := []string{subject}
	for i := 0; i < len(parts); i++ {
		pk := SubjectPK(parts[i])
		head, err := s.queryRange(ctx, pk, "consent#", "member$") // ledger, identifiers, members
		if err != nil {
			return Profile{}, err
		}
		for _, it := range head {
			switch sk := str(it, "sk"); {
			case strings.HasPrefix(sk, "consent#"):
				ledger = append(ledger, it)
			case i == 0 && strings.HasPrefix(sk, "member#"):
				parts = append(parts, strings.TrimPrefix(sk, "member#"))
			}
		}
		rest, err := s.queryRange(ctx, pk, "supp#", "window~")
		if err != nil {
			return Profile{}, err
		}
		for _, it := range rest {
			switch sk := str(it, "sk"); {
			case !live(it, now):
			case strings.HasPrefix(sk, "supp#"):
				p.Suppressed[strings.TrimPrefix(sk, "supp#")] = str(it, "reason")
			case sk == "window":
				if t := time.Unix(numAttr(it, "last_inbound_at"), 0).UTC(); t.After(p.LastInbound) {
					p.LastInbound = t
				}
			}
		}
		erased, err := s.erasureOf(ctx, parts[i])
		if err != nil {
			return Profile{}, err
		}
		p.Erased = p.Erased || erased.InForce()
	}
	slices.SortFunc(ledger, ledgerOrder)
	for _, it := range ledger {
		if live(it, now) {
			ev := ConsentEvent{ID: str(it, "event_id"), Purpose: str(it, "purpose"),
				Action: str(it, "action"), Method: str(it, "method"), PolicyVersion: str(it, "policy_version"),
				Actor: str(it, "actor"), NoticeSHA256: str(it, "notice_sha256"), At: time.Unix(numAttr(it, "at"), 0).UTC(),
				Confirms: str(it, "confirms")}
			if n := numAttr(it, "confirm_by"); n != 0 {
				ev.ConfirmBy = time.Unix(n, 0).UTC()
			}
			p.Ledger = append(p.Ledger, ev)
		}
	}
	return p, nil
}

// queryRange returns the live and expired items of pk with from ≤ sk ≤ to.
func (s *Store) queryRange(ctx context.Context, pk, from, to string) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	in := &dynamodb.QueryInput{TableName: &s.name, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("pk = :pk AND sk BETWEEN :a AND :b"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sAttr(pk), ":a": sAttr(from), ":b": sAttr(to)}}
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query subject: %w", err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
