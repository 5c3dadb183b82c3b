package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/window"
)

// Inbound is a message a data subject sent us.
type Inbound struct {
	// Subject is the sender's blind index; Lookup the keyed hash of the
	// provider message id (it makes the item key, so redelivery is a no-op).
	Subject, Lookup string
	// Phone, ProviderID and ProfileName are personal data: stored encrypted.
	Phone, ProviderID, ProfileName string
	// Type is the WhatsApp message type (text, interactive, image, …).
	Type string
	// Body is the text or reply title; nil for types whose content is not kept.
	Body []byte
	// At is the message's own timestamp.
	At time.Time
	// Class is the retention class (support by default).
	Class retention.Class
	// Also lists the keys of the event's other identifiers ([identity.ID.Key]):
	// the message is refused if any of them was erased too.
	Also []string
	// Attach is the identity change the event brings ([Store.PrepareAttach]),
	// committed with the message or not at all.
	Attach Attachment
	// Username is the sender's WhatsApp username, display data (sealed).
	Username string
	// UserID is the sender's BSUID, when Meta sent one (sealed).
	UserID string
}

// PutInbound stores m and moves the subject's service window forward, in
// one transaction with u. The window counts from
// the message's own time, bounded by now ([window.Bound]), and never moves
// back: a late redelivery of an older message leaves it where it is. It
// returns [ErrDuplicate] when the message was stored before and
// [ErrErased] when the subject is erased, or was erased after the
// message's time (a redelivery from before an erasure, even once a fresh
// consent lifted it); in both cases nothing is written.
func (s *Store) PutInbound(ctx context.Context, m Inbound, u Unit) error {
	now := s.now()
	pk, sk := SubjectPK(m.Subject), "msg#in#"+m.Lookup
	item := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr(sk), "direction": sAttr("in"),
		"type": sAttr(m.Type), "received_at": num(m.At.Unix()), "stored_at": num(now.Unix()), "mid": sAttr(InboundMessageID(m.Lookup))}
	if err := s.expiring(item, m.Class, now); err != nil {
		return err
	}
	if err := s.sealContent(ctx, m.Subject, pk, sk, item, Content{Phone: m.Phone, UserID: m.UserID, Username: m.Username,
		ProviderID: m.ProviderID, ProfileName: m.ProfileName, Body: m.Body}); err != nil {
		return err
	}
	at := window.Bound(m.At, now)
	win, err := s.windowForward(pk, at, now)
	if err != nil {
		return err
	}
	var profile []types.TransactWriteItem
	if m.Username != "" { // the latest username, display data: sealed, never a key
		u := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr("username"), "at": num(now.Unix())}
		if err := s.sealFields(ctx, m.Subject, pk, "username", u, field{"value", []byte(m.Username)}); err != nil {
			return err
		}
		profile = append(profile, put(s.name, u, ""))
	}
	checks := []types.TransactWriteItem{s.notErasedSince(m.Subject, at)}
	for _, k := range m.Also {
		if k != m.Subject {
			checks = append(checks, s.notErasedSince(k, at))
		}
	}
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error {
		attempt := func(withWindow bool) error {
			t := new(tx).add(ErrErased, checks...).add(ErrDuplicate, put(s.name, item, "attribute_not_exists(pk)"))
			if withWindow {
				t.add(errWindowLater, win)
			}
			return commit(t.add(ErrConflict, m.Attach.items...).add(nil, profile...))
		}
		err := attempt(true)
		if errors.Is(err, errWindowLater) { // the window is already later: store the message alone
			err = attempt(false)
		}
		return err
	})
}

// errWindowLater: the service window's condition failed (it is later).
var errWindowLater = errors.New("store: service window already later")

// windowForward moves the service window to at unless it is already
// later (the condition fails then, and the caller writes without it).
func (s *Store) windowForward(pk string, at, now time.Time) (types.TransactWriteItem, error) {
	exp, err := s.policy.Expiry(retention.ClassMetadata, now)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.name, Key: key(pk, "window"),
		UpdateExpression:         aws.String("SET last_inbound_at = :t, #c = :c, written_at = :w, expires_at = :e, exp_bucket = :b"),
		ConditionExpression:      aws.String("attribute_not_exists(last_inbound_at) OR last_inbound_at <= :t"),
		ExpressionAttributeNames: map[string]string{"#c": "class"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": num(at.Unix()), ":c": sAttr(string(retention.ClassMetadata)),
			":w": num(now.Unix()), ":e": num(exp.Unix()), ":b": sAttr(retention.Bucket(pk, exp))}}}, nil
}

// Outbound is a message waguard sent to a data subject.
type Outbound struct {
	// Subject is the recipient's blind index; ID waguard's message id (msg_…);
	// Lookup the keyed hash of the provider message id.
	Subject, ID, Lookup string
	// Phone (or UserID, a business-scoped user id, for a message sent to
	// one), ProviderID and Body (the text or template) are stored encrypted.
	Phone, UserID, ProviderID string
	Body                      []byte
	// Type is OutboundText (Body is the text) or OutboundTemplate (Body is
	// the template's JSON document).
	Type string
	// Purpose is the retention class; Status the provider's first status.
	Purpose retention.Class
	Status  string
	// ClientID is the API client that sent it (not personal).
	ClientID string
	// IdempotencyRef names the send's idempotency record, if it had a key
	// (idempotency.Lease.Ref: a keyed hash, not personal).
	IdempotencyRef string
	At             time.Time
}

// The kinds of outbound message ([Outbound.Type]).
const (
	OutboundText     = "text"
	OutboundTemplate = "template"
)

// StatusSending is the status of an outbound message recorded before the
// provider call ([Store.PutOutbound] with no provider id): it stays so if
// the provider's answer never arrived or could not be recorded.
const StatusSending = "sending"

// PutOutbound stores m in one transaction with u.
// It returns [ErrErased] if the subject was erased meanwhile. A message
// recorded before the provider call has status [StatusSending] and no
// ProviderID or Lookup; [Store.PrepareConfirm] and [Store.Confirm] complete it.
func (s *Store) PutOutbound(ctx context.Context, m Outbound, u Unit) error {
	item, err := s.outboundItem(ctx, m)
	if err != nil {
		return err
	}
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error {
		return commit(new(tx).add(ErrErased, s.notErased(m.Subject)).add(ErrDuplicate, put(s.name, item, "attribute_not_exists(pk)")))
	})
}

// Confirmation is a prepared [Store.Confirm]: the message's new item,
// sealed. It holds only ciphertext and keyed hashes, so it may be kept to
// commit later.
type Confirmation struct {
	subject string
	item    map[string]types.AttributeValue
}

// PrepareConfirm seals m (the message recorded with status
// [StatusSending], now with its provider id, lookup and status) for
// [Store.Confirm].
func (s *Store) PrepareConfirm(ctx context.Context, m Outbound) (Confirmation, error) {
	item, err := s.outboundItem(ctx, m)
	if err != nil {
		return Confirmation{}, err
	}
	return Confirmation{subject: m.Subject, item: item}, nil
}

// Confirm replaces the message recorded with status [StatusSending] by
// c's item, in one transaction with u (a plain conditional PutItem when
// u is empty). It returns [ErrNotFound] if the message is gone
// (erased meanwhile: the erasure deletes it after suppressing the
// subject, so the condition alone keeps a confirmation from recreating
// it) or no longer sending; nothing is written then. It may be called
// again after a failure.
func (s *Store) Confirm(ctx context.Context, c Confirmation, u Unit) error {
	p := types.Put{TableName: &s.name, Item: c.item,
		ConditionExpression:       aws.String("#s = :sending"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":sending": sAttr(StatusSending)}}
	if u.empty() {
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
			ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		if err != nil {
			return fmt.Errorf("confirm outbound message: %w", err)
		}
		return nil
	}
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error {
		return commit(new(tx).add(ErrNotFound, types.TransactWriteItem{Put: &p}))
	})
}

// SendingOutbound returns the message id of subject if it is still
// recorded as [StatusSending] (the send never recorded the provider's
// answer), decrypted, for a provider status that names it to complete it
// with [Store.PrepareConfirm] and [Store.Confirm]. It returns
// [ErrNotFound] when no such message is sending.
func (s *Store) SendingOutbound(ctx context.Context, subject, id string) (Outbound, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(SubjectPK(subject), "msg#out#"+id),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Outbound{}, fmt.Errorf("get outbound message: %w", err)
	}
	if len(out.Item) == 0 || str(out.Item, "status") != StatusSending {
		return Outbound{}, ErrNotFound
	}
	c, err := s.OpenContent(ctx, subject, out.Item)
	if err != nil {
		return Outbound{}, err
	}
	return Outbound{Subject: subject, ID: id, Phone: c.Phone, UserID: c.UserID, Body: c.Body, Type: str(out.Item, "type"),
		Purpose: retention.Class(str(out.Item, "purpose")), Status: StatusSending, ClientID: str(out.Item, "client"),
		IdempotencyRef: str(out.Item, "idem_ref"), At: time.Unix(numAttr(out.Item, "sent_at"), 0)}, nil
}

// WithdrawOutbound deletes a message recorded with status
// [StatusSending] that the provider refused (nothing was sent, so nothing
// is kept), in one transaction with u. A message
// that is gone (erased meanwhile) is not an error.
func (s *Store) WithdrawOutbound(ctx context.Context, subject, id string, u Unit) error {
	del := types.TransactWriteItem{Delete: &types.Delete{TableName: &s.name, Key: key(SubjectPK(subject), "msg#out#"+id)}}
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error { return commit(new(tx).add(nil, del)) })
}

func (s *Store) outboundItem(ctx context.Context, m Outbound) (map[string]types.AttributeValue, error) {
	pk, sk := SubjectPK(m.Subject), "msg#out#"+m.ID
	item := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr(sk), "direction": sAttr("out"),
		"purpose": sAttr(string(m.Purpose)), "status": sAttr(m.Status), "status_rank": num(statusRank(m.Status)),
		"sent_at": num(m.At.Unix()), "client": sAttr(m.ClientID), "mid": sAttr(m.ID)}
	if m.Type != "" {
		item["type"] = sAttr(m.Type)
	}
	if m.Lookup != "" { // the by-lookup index refuses an empty key
		item["lookup"] = sAttr(m.Lookup)
	}
	if m.IdempotencyRef != "" {
		item["idem_ref"] = sAttr(m.IdempotencyRef)
	}
	if err := s.expiring(item, m.Purpose, m.At); err != nil {
		return nil, err
	}
	if err := s.sealContent(ctx, m.Subject, pk, sk, item, Content{Phone: m.Phone, UserID: m.UserID, ProviderID: m.ProviderID, Body: m.Body}); err != nil {
		return nil, err
	}
	return item, nil
}

// Status is a provider status callback for an outbound message.
type Status struct {
	// Lookup is the keyed hash of the provider message id.
	Lookup string
	// Status is sent, delivered, read or failed; ErrorCode Meta's code on failure.
	Status    string
	ErrorCode int
	At        time.Time
}

// statusRank orders statuses so a late "sent" never overwrites "read".
func statusRank(s string) int64 {
	switch s {
	case "sent":
		return 1
	case "delivered":
		return 2
	case "read":
		return 3
	case "failed":
		return 4
	}
	return 0
}

// FindOutbound returns the key of the outbound message with lookup, via
// the by-lookup index. It returns [ErrNotFound] when there is none (yet:
// the index is eventually consistent).
func (s *Store) FindOutbound(ctx context.Context, lookup string) (subject, sk string, err error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, IndexName: aws.String("by-lookup"),
		KeyConditionExpression:    aws.String("lookup = :l"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":l": sAttr(lookup)}, Limit: aws.Int32(1)})
	if err != nil {
		return "", "", fmt.Errorf("query lookup: %w", err)
	}
	if len(out.Items) == 0 {
		return "", "", ErrNotFound
	}
	pk := str(out.Items[0], "pk")
	return pk[len("sub#"):], str(out.Items[0], "sk"), nil
}

// ApplyStatus records st for the outbound message at (subject, sk): a
// status item with its own retention (statuses and read receipts are
// behavioural data) and, unless it is older than what the message already
// shows, the message's status. It returns [ErrDuplicate] for a redelivered
// status and [ErrErased] once the subject is being erased; u commits
// with it.
func (s *Store) ApplyStatus(ctx context.Context, subject, sk string, st Status, u Unit) error {
	pk := SubjectPK(subject)
	item := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr("status#" + st.Lookup + "#" + st.Status),
		"status": sAttr(st.Status), "at": num(st.At.Unix()), "message": sAttr(sk)}
	if st.ErrorCode != 0 {
		item["error_code"] = num(int64(st.ErrorCode))
	}
	if err := s.expiring(item, retention.ClassStatus, s.now()); err != nil {
		return err
	}
	update := types.TransactWriteItem{Update: &types.Update{TableName: &s.name, Key: key(pk, sk),
		UpdateExpression:         aws.String("SET #s = :s, status_rank = :r, status_at = :t" + errorCodeSet(st)),
		ConditionExpression:      aws.String("attribute_exists(pk) AND status_rank < :r"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: withErrorCode(map[string]types.AttributeValue{":s": sAttr(st.Status),
			":r": num(statusRank(st.Status)), ":t": num(st.At.Unix())}, st)}}
	// The erasure check keeps a status arriving during an erasure from
	// recreating data in the subject's partition.
	base := func() *tx {
		return new(tx).add(ErrErased, s.notErased(subject)).add(ErrDuplicate, put(s.name, item, "attribute_not_exists(pk)"))
	}
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error {
		err := commit(base().add(errStatusLater, update))
		if !errors.Is(err, errStatusLater) {
			return err
		}
		// The message already shows a later status (callbacks arrive out
		// of order) or is gone: keep the status item alone.
		return commit(base())
	})
}

// errStatusLater: the message already shows a later status, or is gone.
var errStatusLater = errors.New("store: the message shows a later status")

func errorCodeSet(st Status) string {
	if st.ErrorCode == 0 {
		return ""
	}
	return ", error_code = :e"
}

func withErrorCode(v map[string]types.AttributeValue, st Status) map[string]types.AttributeValue {
	if st.ErrorCode != 0 {
		v[":e"] = num(int64(st.ErrorCode))
	}
	return v
}

// Content is the personal part of a message, sealed as one ciphertext in
// the item's `content` attribute: one key derivation and one AEAD per
// message rather than one per field, and 100 bytes of overhead instead of
// 400. It never prints its values.
type Content struct {
	Phone string `json:"phone"`
	// UserID is the person's business-scoped user id, when Meta sent one;
	// Username their WhatsApp username (display data, never a key).
	UserID      string `json:"user_id,omitempty"`
	Username    string `json:"username,omitempty"`
	ProviderID  string `json:"pmid"`
	ProfileName string `json:"profile_name,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// String reports only which parts are present.
func (c Content) String() string {
	return fmt.Sprintf("store.Content{body %d bytes, profile name %t}", len(c.Body), c.ProfileName != "")
}

// Format writes [Content.String] for every verb.
func (c Content) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

const contentAttr = "content"

func (s *Store) sealContent(ctx context.Context, subject, pk, sk string, item map[string]types.AttributeValue, c Content) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode content: %w", err)
	}
	return s.sealFields(ctx, subject, pk, sk, item, field{contentAttr, doc})
}

// OpenContent decrypts a message item's content (for export). It returns
// envelope.ErrSubjectKeyNotFound once the subject's key was deleted.
func (s *Store) OpenContent(ctx context.Context, subject string, item map[string]types.AttributeValue) (Content, error) {
	doc, err := s.open(ctx, subject, item, contentAttr)
	if err != nil || doc == nil {
		return Content{}, err
	}
	var c Content
	if err := json.Unmarshal(doc, &c); err != nil {
		return Content{}, fmt.Errorf("decode content: %w", err)
	}
	return c, nil
}

// OutboundContent decrypts the content of the subject's outbound message
// id; [ErrNotFound] when there is no live message.
func (s *Store) OutboundContent(ctx context.Context, subject, id string) (Content, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(SubjectPK(subject), "msg#out#"+id),
		ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Content{}, fmt.Errorf("get outbound message: %w", err)
	}
	if len(out.Item) == 0 || !live(out.Item, s.now()) {
		return Content{}, ErrNotFound
	}
	return s.OpenContent(ctx, subject, out.Item)
}

// Message is one stored message, decrypted, for an export or the read
// API.
type Message struct {
	// ID is waguard's message id (msg_…): an outbound message's own, an
	// inbound message's [InboundMessageID].
	ID string
	// Partition is the subject partition that holds it.
	Partition string
	// Type is the WhatsApp type of an inbound message (text, interactive,
	// image, …) or the kind of an outbound one (text or template; "" for
	// one written before outbound messages recorded it).
	SK, Direction, Type, Class, Status string
	// ErrorCode is Meta's error code of a failed outbound message (0: none).
	ErrorCode int
	// Lookup is the keyed hash of the provider message id of an outbound
	// message Meta accepted ("" otherwise): [Store.StatusHistory] takes it.
	Lookup  string
	At      time.Time
	Content Content
}

// StatusEntry is one provider status of an outbound message.
type StatusEntry struct {
	Status string
	// ErrorCode is Meta's error code of a failed status (0: none).
	ErrorCode int
	At        time.Time
}

// StatusHistory returns the live statuses recorded for the outbound
// message with lookup (at most one per status: sent, delivered, read,
// failed), oldest first.
func (s *Store) StatusHistory(ctx context.Context, subject, lookup string) ([]StatusEntry, error) {
	items, err := s.queryRange(ctx, SubjectPK(subject), "status#"+lookup+"#", "status#"+lookup+"$")
	if err != nil {
		return nil, fmt.Errorf("status history: %w", err)
	}
	now := s.now()
	var out []StatusEntry
	for _, it := range items {
		if live(it, now) {
			out = append(out, StatusEntry{Status: str(it, "status"), ErrorCode: int(numAttr(it, "error_code")), At: time.Unix(numAttr(it, "at"), 0).UTC()})
		}
	}
	slices.SortStableFunc(out, func(a, b StatusEntry) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(statusRank(a.Status), statusRank(b.Status)))
	})
	return out, nil
}

// Messages returns up to limit of the subject's live messages after the
// cursor (an opaque string from a previous call; "" for the start), and
// the next cursor ("" when done).
func (s *Store) Messages(ctx context.Context, subject, cursor string, limit int32) ([]Message, string, error) {
	in := &dynamodb.QueryInput{TableName: &s.name, ConsistentRead: aws.Bool(true), Limit: aws.Int32(limit),
		KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :m)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sAttr(SubjectPK(subject)), ":m": sAttr("msg#")}}
	if cursor != "" {
		in.ExclusiveStartKey = key(SubjectPK(subject), cursor)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("query messages: %w", err)
	}
	now := s.now()
	msgs := make([]Message, 0, len(out.Items))
	for _, it := range out.Items {
		if !live(it, now) {
			continue
		}
		m, err := s.message(ctx, subject, it)
		if err != nil {
			return nil, "", err
		}
		msgs = append(msgs, m)
	}
	next := ""
	if len(out.LastEvaluatedKey) > 0 {
		next = str(out.LastEvaluatedKey, "sk")
	}
	return msgs, next, nil
}
