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
	"github.com/waguard/waguard/shared/identity"
)

// ErrConflict is returned when an identifier's attachment changed between
// [Store.Identify] and the write that relied on it (a concurrent event of
// the same person): identify again and retry.
var ErrConflict = errors.New("store: identity changed meanwhile")

// AliasPK is the partition key of an identifier's alias item, which names
// the subject the identifier belongs to. It sits outside every subject
// partition, keyed by the identifier's blind index.
func AliasPK(idKey string) string { return "alias#" + idKey }

// Identify reads what the table knows of each identifier (docs/data-model.md,
// "Identity"): the subject its alias item names, or, without one, whether
// its own partition holds data written before identities were recorded
// (its subject is then itself). The result is keyed by [identity.ID.Key].
func (s *Store) Identify(ctx context.Context, ids []identity.ID) (map[string]identity.Known, error) {
	known := make(map[string]identity.Known, len(ids))
	for _, id := range ids {
		if id.Key == "" {
			continue
		}
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(AliasPK(id.Key), "alias"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("identify: get alias: %w", err)
		}
		if len(out.Item) > 0 {
			known[id.Key] = identity.Known{Subject: str(out.Item, "subject"), Pseudonym: str(out.Item, "pseudonym"), Attached: true}
			continue
		}
		has, err := s.hasData(ctx, id.Key)
		if err != nil {
			return nil, err
		}
		if has {
			known[id.Key] = identity.Known{Subject: id.Key, Pseudonym: id.Pseudonym}
		}
	}
	return known, nil
}

// hasData reports whether the partition of key holds any item.
func (s *Store) hasData(ctx context.Context, subject string) (bool, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.name, ConsistentRead: aws.Bool(true), Limit: aws.Int32(1),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ProjectionExpression:      aws.String("pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sAttr(SubjectPK(subject))}})
	if err != nil {
		return false, fmt.Errorf("identify: probe partition: %w", err)
	}
	return len(out.Items) > 0, nil
}

// Identifier is an identifier with its clear value, which is sealed in
// the subject's partition when it is attached.
type Identifier struct {
	identity.ID
	// Value is the E.164 number or the BSUID.
	Value string
}

// Attachment is a prepared identity change: the writes that attach
// identifiers to a subject and merge other subjects into it. It holds
// keyed hashes and ciphertext only; commit it inside the transaction of
// the write that needed it ([Inbound.Attach], [Store.AttachNow]).
type Attachment struct {
	items  []types.TransactWriteItem
	links  bool
	merges int
}

// Empty reports whether the attachment writes nothing.
func (a Attachment) Empty() bool { return len(a.items) == 0 }

// Links reports whether the attachment ties identifiers of one person
// together (several identifiers, something new attached, or subjects
// merged): an identity_linked audit event records it.
func (a Attachment) Links() bool { return a.links }

// Merges is how many other subjects the attachment merges in.
func (a Attachment) Merges() int { return a.merges }

// PrepareAttach turns decision d (from [identity.Decide] over known, as
// [Store.Identify] returned it) into writes: an alias item per attached
// identifier (conditional on the attachment [Store.Identify] saw, so a
// concurrent change fails with [ErrConflict]), its value sealed in an
// identifier item of the subject's partition, and for each merged
// subject a member item and its identifiers' aliases re-pointed.
func (s *Store) PrepareAttach(ctx context.Context, d identity.Decision, known map[string]identity.Known, ids []Identifier) (Attachment, error) {
	a := Attachment{merges: len(d.Merge), links: d.Links(len(ids))}
	now := s.now()
	pk := SubjectPK(d.Subject)
	for _, id := range d.Attach {
		a.items = append(a.items, s.aliasPut(id.Key, id.Kind, d, known[id.Key]))
		i := slices.IndexFunc(ids, func(v Identifier) bool { return v.Key == id.Key })
		if i < 0 {
			return Attachment{}, fmt.Errorf("attach: no value for a %s identifier", id.Kind)
		}
		sk := "ident#" + string(id.Kind) + "#" + id.Key
		item := map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr(sk), "kind": sAttr(string(id.Kind)), "at": num(now.Unix())}
		if err := s.sealFields(ctx, d.Subject, pk, sk, item, field{"value", []byte(ids[i].Value)}); err != nil {
			return Attachment{}, err
		}
		a.items = append(a.items, put(s.name, item, ""))
	}
	for _, m := range d.Merge {
		items, err := s.mergeWrites(ctx, d, m, now)
		if err != nil {
			return Attachment{}, err
		}
		a.items = append(a.items, items...)
	}
	return a, nil
}

// aliasPut attaches identifier key to d's subject, on the condition that
// it is still attached as k says.
func (s *Store) aliasPut(idKey string, kind identity.Kind, d identity.Decision, k identity.Known) types.TransactWriteItem {
	item := map[string]types.AttributeValue{"pk": sAttr(AliasPK(idKey)), "sk": sAttr("alias"), "subject": sAttr(d.Subject),
		"pseudonym": sAttr(d.Pseudonym), "at": num(s.now().Unix())}
	if kind != identity.KindUnknown {
		item["kind"] = sAttr(string(kind))
	}
	p := &types.Put{TableName: &s.name, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	if k.Attached {
		p.ConditionExpression = aws.String("#s = :old")
		p.ExpressionAttributeNames = map[string]string{"#s": "subject"}
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":old": sAttr(k.Subject)}
	}
	return types.TransactWriteItem{Put: p}
}

// mergeWrites makes subject m (and its own members) members of d's
// subject and re-points every identifier attached to them.
func (s *Store) mergeWrites(ctx context.Context, d identity.Decision, m string, now time.Time) ([]types.TransactWriteItem, error) {
	parts, err := s.Partitions(ctx, m)
	if err != nil {
		return nil, err
	}
	pk := SubjectPK(d.Subject)
	var items []types.TransactWriteItem
	for _, p := range parts {
		items = append(items, put(s.name, map[string]types.AttributeValue{"pk": sAttr(pk), "sk": sAttr("member#" + p), "at": num(now.Unix())}, ""))
		idents, err := s.queryRange(ctx, SubjectPK(p), "ident#", "ident$")
		if err != nil {
			return nil, err
		}
		keys := []string{p} // the partition's home identifier
		for _, it := range idents {
			k := str(it, "sk")
			keys = append(keys, k[strings.LastIndex(k, "#")+1:])
		}
		for _, k := range keys {
			if k == d.Subject || slices.ContainsFunc(d.Attach, func(id identity.ID) bool { return id.Key == k }) {
				continue
			}
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.name,
				Item: map[string]types.AttributeValue{"pk": sAttr(AliasPK(k)), "sk": sAttr("alias"), "subject": sAttr(d.Subject),
					"pseudonym": sAttr(d.Pseudonym), "at": num(now.Unix())},
				ConditionExpression:       aws.String("attribute_not_exists(pk) OR #s = :old"),
				ExpressionAttributeNames:  map[string]string{"#s": "subject"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":old": sAttr(m)}}})
		}
	}
	return items, nil
}

// AttachNow commits a on its own (for an event that stores nothing
// else, such as a change of identifiers), with u. It returns
// [ErrConflict] when an attachment changed meanwhile.
func (s *Store) AttachNow(ctx context.Context, a Attachment, u Unit) error {
	if a.Empty() && u.empty() {
		return nil
	}
	return s.write(ctx, u, func(_ []audit.Event, commit func(*tx) error) error {
		return commit(new(tx).add(ErrConflict, a.items...))
	})
}

// TransactItems returns a's writes, for a caller that commits them in its
// own transaction (before any audit items). A conflict then cancels that
// transaction; [IsConflict] tells.
func (a Attachment) TransactItems() []types.TransactWriteItem { return slices.Clone(a.items) }

// IsConflict reports whether err cancelled a transaction holding a's
// writes from position from because an attachment changed meanwhile.
func (a Attachment) IsConflict(err error, from int) bool {
	return conditionFailedIn(err, from, from+len(a.items))
}

// Partitions returns the partitions holding subject's data: its own,
// then its members' (subjects merged into it), sorted.
func (s *Store) Partitions(ctx context.Context, subject string) ([]string, error) {
	items, err := s.queryRange(ctx, SubjectPK(subject), "member#", "member$")
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	out := []string{subject}
	var members []string
	for _, it := range items {
		members = append(members, strings.TrimPrefix(str(it, "sk"), "member#"))
	}
	slices.Sort(members)
	return append(out, members...), nil
}

// Identifiers returns the identifiers attached to subject, decrypted,
// from its partition and its members'. Data written before identities
// were recorded has none: its phone number is in its messages.
func (s *Store) Identifiers(ctx context.Context, subject string) ([]Identifier, error) {
	parts, err := s.Partitions(ctx, subject)
	if err != nil {
		return nil, err
	}
	var out []Identifier
	for _, p := range parts {
		items, err := s.queryRange(ctx, SubjectPK(p), "ident#", "ident$")
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			v, err := s.open(ctx, p, it, "value")
			if err != nil {
				return nil, err
			}
			sk := str(it, "sk")
			id := Identifier{ID: identity.ID{Kind: identity.Kind(str(it, "kind")), Key: sk[strings.LastIndex(sk, "#")+1:]}, Value: string(v)}
			if !slices.ContainsFunc(out, func(o Identifier) bool { return o.Key == id.Key }) { // attached in two partitions by a merge
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// Usernames returns the latest WhatsApp username recorded in each of
// subject's partitions, decrypted (display data, never a key).
func (s *Store) Usernames(ctx context.Context, subject string) ([]string, error) {
	parts, err := s.Partitions(ctx, subject)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range parts {
		got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.name, Key: key(SubjectPK(p), "username"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("get username: %w", err)
		}
		if len(got.Item) == 0 {
			continue
		}
		v, err := s.open(ctx, p, got.Item, "value")
		if err != nil {
			return nil, err
		}
		if u := string(v); !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// conditionFailedIn reports whether a transaction was cancelled by the
// condition of one of its items from..to-1.
func conditionFailedIn(err error, from, to int) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	for i := from; i < to && i < len(tc.CancellationReasons); i++ {
		if aws.ToString(tc.CancellationReasons[i].Code) == "ConditionalCheckFailed" {
			return true
		}
	}
	return false
}
