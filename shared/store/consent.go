package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/window"
)

// Consent actions.
const (
	ActionGrant  = "grant"
	ActionRevoke = "revoke"
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
	Notice, NoticeSHA256 string
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
	items, err := s.ConsentWrites(ctx, subject, ev, change, reason)
	if err != nil {
		return err
	}
	t := new(tx)
	if ev.Action != ActionGrant {
		t.add(ErrErased, s.notErased(subject))
	}
	t.add(ErrDuplicate, items[0]).add(nil, items[1:]...) // the ledger entry first
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error { return commit(t) })
}

// ConsentWrites returns the writes that record ev and apply change, for a
// caller that commits them in its own transaction (the webhook commits a
// STOP keyword together with the message that carried it). The ledger
// entry comes first and is conditional on not existing; ev's notice, when
// not registered yet, is registered by the last write.
func (s *Store) ConsentWrites(ctx context.Context, subject string, ev ConsentEvent, change SuppressionChange, reason string) ([]types.TransactWriteItem, error) {
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
	noticeID, register, err := s.consentNotice(ctx, ev)
	if err != nil {
		return nil, err
	}
	if noticeID != "" {
		item["notice_sha256"] = sAttr(noticeID)
	}
	items := []types.TransactWriteItem{put(s.name, item, "attribute_not_exists(pk)")}
	switch change {
	case SuppressionAdd:
		items = append(items, put(s.name, map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr("supp#" + ev.Purpose),
			"reason": sAttr(reason), "at": num(ev.At.Unix())}, ""))
	case SuppressionLift:
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.name, Key: key(pk, "supp#"+ev.Purpose)}})
	}
	return append(items, register...), nil
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
	// Erased is set when the subject was erased.
	Erased bool
	// LastInbound is when the subject last wrote to us (zero if never).
	LastInbound time.Time
}

// Consented reports whether the latest ledger event for purpose is a grant.
func (p Profile) Consented(purpose string) bool {
	state := false
	for _, ev := range p.Ledger {
		if ev.Purpose == purpose {
			state = ev.Action == ActionGrant
		}
	}
	return state
}

// Profile reads a subject's consent ledger, suppressions, erasure state
// and service window, across its partitions ([Store.Partitions]): a
// consent or suppression recorded under any identifier of the person
// counts. Evidence is not decrypted.
func (s *Store) Profile(ctx context.Context, subject string) (Profile, error) {
	p := Profile{Suppressed: map[string]string{}}
	now := s.now()
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
		erased, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(ErasedPK(parts[i]), "erased"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return Profile{}, fmt.Errorf("get erasure state: %w", err)
		}
		p.Erased = p.Erased || (len(erased.Item) > 0 && erased.Item["lifted_at"] == nil)
	}
	slices.SortFunc(ledger, ledgerOrder)
	for _, it := range ledger {
		if live(it, now) {
			p.Ledger = append(p.Ledger, ConsentEvent{ID: str(it, "event_id"), Purpose: str(it, "purpose"),
				Action: str(it, "action"), Method: str(it, "method"), PolicyVersion: str(it, "policy_version"),
				Actor: str(it, "actor"), NoticeSHA256: str(it, "notice_sha256"), At: time.Unix(numAttr(it, "at"), 0).UTC()})
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
