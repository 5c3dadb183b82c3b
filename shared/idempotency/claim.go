package idempotency

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/deadline"
)

// Condition expressions, one per kind of write.
const (
	// condCreate claims a key nobody holds.
	condCreate = "attribute_not_exists(pk)"
	// condReplace replaces exactly the record read: an expired one, or an
	// in-progress one whose lease has passed.
	condReplace = "claim_id = :old_claim AND #status = :old_status"
	// condOwned completes or releases the caller's own in-progress claim.
	condOwned = "claim_id = :claim AND #status = :in_progress"
)

// maxAttempts bounds the claim loop, which only repeats when another
// request changes the record between our write and our read.
const maxAttempts = 8

// errTaken reports a failed condition check.
var errTaken = errors.New("condition failed")

// Lease is a successful claim: the caller owns the key until ctx's
// deadline and must end the lease with [Lease.Complete] or
// [Lease.Release]. A Lease is not safe for concurrent use.
type Lease struct {
	s *Store
	record
}

// Claim claims key for client and body, the canonical request body.
// Exactly one of its first two results is non-nil when err is nil: a
// [Lease] when the caller must now run the operation, or the stored
// response when an identical earlier request completed (replay it).
//
// While an identical request is in progress, Claim waits for it as
// described for [Store.Do]. It returns [ErrConflict] when key was used with
// another body and [ErrInProgress] when the other request is still running
// after the wait; other errors mean the record could not be read or
// written.
func (s *Store) Claim(ctx context.Context, client, key string, body []byte) (*Lease, *Response, error) {
	if !validClient(client) || !ValidKey(key) {
		return nil, nil, errInvalid
	}
	pk, hash := s.recordKey(client, key), s.payloadHash(client, key, body)
	w := s.newWaiter(ctx)
	var old *record // the record to replace; nil to create one
	for range maxAttempts {
		lease, err := s.claim(ctx, pk, hash, old)
		if !errors.Is(err, errTaken) {
			return lease, nil, err
		}
		var prior *Response
		if old, prior, err = s.await(ctx, pk, hash, w); prior != nil || err != nil {
			return nil, prior, err
		}
	}
	return nil, nil, ErrInProgress
}

// claim writes a fresh in-progress record, creating it or replacing old.
func (s *Store) claim(ctx context.Context, pk, hash string, old *record) (*Lease, error) {
	now := s.now()
	l := &Lease{s: s, record: record{
		pk: pk, hash: hash, claimID: rand.Text(), status: statusInProgress,
		createdAt: now.Unix(), expiresAt: now.Add(RecordTTL).Unix(), until: s.leaseEnd(ctx, now),
	}}
	in := &dynamodb.PutItemInput{TableName: &s.tableName, Item: l.item(), ConditionExpression: aws.String(condCreate)}
	if old != nil {
		in.ConditionExpression = aws.String(condReplace)
		in.ExpressionAttributeNames = map[string]string{"#status": attrStatus}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":old_claim": &types.AttributeValueMemberS{Value: old.claimID}, ":old_status": &types.AttributeValueMemberS{Value: old.status},
		}
	}
	if err := s.put(ctx, in); err != nil {
		return nil, fmt.Errorf("claim idempotency key: %w", err)
	}
	return l, nil
}

// leaseEnd is when a claim made at now stops holding: ctx's deadline,
// rounded up to the second.
func (s *Store) leaseEnd(ctx context.Context, now time.Time) int64 {
	remaining := s.lease
	if dl, ok := ctx.Deadline(); ok {
		remaining = time.Until(dl)
	}
	end := now.Add(remaining)
	secs := end.Unix()
	if end.After(time.Unix(secs, 0)) {
		secs++
	}
	return secs
}

// await reads the record until a claim may be tried again (it returns the
// record to replace, or nil when there is none) or the request is decided
// (a response to replay, or an error).
func (s *Store) await(ctx context.Context, pk, hash string, w *waiter) (*record, *Response, error) {
	for {
		rec, err := s.get(ctx, pk)
		if err != nil {
			return nil, nil, err
		}
		now := s.now()
		switch {
		case rec == nil:
			return nil, nil, nil
		case rec.expired(now):
			return rec, nil, nil
		case rec.hash != hash:
			return nil, nil, ErrConflict
		case rec.status == statusCompleted:
			return nil, &rec.resp, nil
		case rec.stale(now) && rec.lost != nil:
			// The claim passed its point of no return and lapsed: the
			// operation may have had its effect, so it never runs again.
			return nil, rec.lost, nil
		case rec.stale(now):
			return rec, nil, nil
		}
		if err := w.wait(ctx); err != nil {
			return nil, nil, err
		}
	}
}

// waiter paces the polling of an in-progress record.
type waiter struct {
	s     *Store
	end   time.Time
	delay time.Duration
}

func (s *Store) newWaiter(ctx context.Context) *waiter {
	now := s.now()
	end := now.Add(s.wait)
	if dl, ok := ctx.Deadline(); ok {
		if byDeadline := now.Add(time.Until(dl) - s.callTimeout); byDeadline.Before(end) {
			end = byDeadline
		}
	}
	return &waiter{s: s, end: end, delay: s.poll}
}

// wait sleeps before the next poll, or returns ErrInProgress when the
// wait is over.
func (w *waiter) wait(ctx context.Context) error {
	left := w.end.Sub(w.s.now())
	if left <= 0 {
		return ErrInProgress
	}
	d := min(w.delay, left)
	w.delay = min(2*w.delay, maxPoll)
	if err := w.s.sleep(ctx, d); err != nil {
		return fmt.Errorf("wait for idempotency key: %w", err)
	}
	return nil
}

// Complete stores r as the response to replay for the next [RecordTTL]
// (counted from the claim). r must hold no personal data. Complete runs
// even when ctx is already cancelled (each call bounded by
// [Config.CallTimeout]), since the operation has happened.
//
// It returns an error wrapping [ErrNotRecorded] when r could not be
// stored, including when the lease ended and another request claimed the
// key, or the lease was already completed or released.
func (l *Lease) Complete(ctx context.Context, r Response) error {
	w, err := l.CompleteWrite(r)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: w.Put.TableName, Item: w.Put.Item, ConditionExpression: w.Put.ConditionExpression,
		ExpressionAttributeNames: w.Put.ExpressionAttributeNames, ExpressionAttributeValues: w.Put.ExpressionAttributeValues}
	err = l.s.put(context.WithoutCancel(ctx), in)
	switch {
	case errors.Is(err, errTaken):
		return fmt.Errorf("complete idempotency record: %w: claim lost", ErrNotRecorded)
	case err != nil:
		return fmt.Errorf("complete idempotency record: %w: %w", ErrNotRecorded, err)
	}
	return nil
}

// Irreversible returns a write that marks the operation's point of no
// return, for the caller to commit in the transaction that precedes the
// effect (e.g. the write recording intent before a call to an external
// service that cannot be asked what it did). From then on, should the
// lease end without [Lease.Complete] or [Lease.Release] (the invocation
// crashed, or could not write its outcome), the key is never claimed
// again: requests with it get ifLost (status and body; headers are not
// kept) as a replayed response until the record expires. ifLost, like
// every stored response, must hold no personal data.
//
// The write is conditioned on the lease still holding the claim, so the
// transaction fails if it does not.
func (l *Lease) Irreversible(ifLost Response) (types.TransactWriteItem, error) {
	if ifLost.Status < 100 || ifLost.Status > 599 {
		return types.TransactWriteItem{}, fmt.Errorf("mark idempotency record: invalid status %d", ifLost.Status)
	}
	cond, names, vals := l.owned()
	set := "SET " + attrLostStatus + " = :lost_status"
	vals[":lost_status"] = num(int64(ifLost.Status))
	if len(ifLost.Body) > 0 {
		set += ", " + attrLostBody + " = :lost_body"
		vals[":lost_body"] = &types.AttributeValueMemberB{Value: ifLost.Body}
	}
	return types.TransactWriteItem{Update: &types.Update{TableName: &l.s.tableName, Key: itemKey(l.pk),
		UpdateExpression: aws.String(set), ConditionExpression: cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals}}, nil
}

// CompleteWrite returns the write that [Lease.Complete] makes, for the
// caller to commit in its own transaction together with the operation's
// last write, so that the outcome and its replayable response are stored
// at once. After that transaction succeeds, do not call Complete or
// Release; if it fails, the lease is unchanged.
func (l *Lease) CompleteWrite(r Response) (types.TransactWriteItem, error) {
	if r.Status < 100 || r.Status > 599 {
		return types.TransactWriteItem{}, fmt.Errorf("complete idempotency record: %w: invalid status %d", ErrNotRecorded, r.Status)
	}
	done := l.record
	done.status, done.until, done.resp = statusCompleted, 0, r
	cond, names, vals := l.owned()
	return types.TransactWriteItem{Put: &types.Put{TableName: &l.s.tableName, Item: done.item(),
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: vals}}, nil
}

// Ref names the lease's record for [Store.CompleteLost]. It holds the
// client id and the keyed hash of the key, never the key itself.
func (l *Lease) Ref() string { return l.pk }

// CompleteLost returns a write that completes the record ref (a
// [Lease.Ref]) with r, if the record is still in progress past its point
// of no return ([Lease.Irreversible]): for whoever learns the outcome of
// an operation whose own invocation lost it (Meta's status webhook about
// a message whose send could not record Meta's answer). Commit it in a
// transaction; its condition fails when the record was completed,
// released, replaced or never marked. r, like every stored response, must
// hold no personal data.
func (s *Store) CompleteLost(ref string, r Response) (types.TransactWriteItem, error) {
	if len(ref) < len("idem#") || ref[:len("idem#")] != "idem#" {
		return types.TransactWriteItem{}, fmt.Errorf("complete lost idempotency record: %w: malformed reference", ErrNotRecorded)
	}
	if r.Status < 100 || r.Status > 599 {
		return types.TransactWriteItem{}, fmt.Errorf("complete lost idempotency record: %w: invalid status %d", ErrNotRecorded, r.Status)
	}
	set := "SET #status = :completed, " + attrRespStatus + " = :resp_status"
	vals := map[string]types.AttributeValue{
		":completed": &types.AttributeValueMemberS{Value: statusCompleted}, ":in_progress": &types.AttributeValueMemberS{Value: statusInProgress},
		":resp_status": num(int64(r.Status)),
	}
	if len(r.Body) > 0 {
		set += ", " + attrRespBody + " = :resp_body"
		vals[":resp_body"] = &types.AttributeValueMemberB{Value: r.Body}
	}
	if len(r.Headers) > 0 {
		set += ", " + attrRespHeaders + " = :resp_headers"
		vals[":resp_headers"] = headersAttr(r.Headers)
	}
	return types.TransactWriteItem{Update: &types.Update{TableName: &s.tableName, Key: itemKey(ref),
		UpdateExpression:          aws.String(set + " REMOVE " + attrUntil + ", " + attrLostStatus + ", " + attrLostBody),
		ConditionExpression:       aws.String("#status = :in_progress AND attribute_exists(" + attrLostStatus + ")"),
		ExpressionAttributeNames:  map[string]string{"#status": attrStatus},
		ExpressionAttributeValues: vals}}, nil
}

// Release deletes the record so that the client may retry at once. Call
// it only when the operation certainly had no effect. Like
// [Lease.Complete], it runs even when ctx is cancelled. Releasing a lease
// that another request has since claimed, or that was completed or
// released, does nothing.
func (l *Lease) Release(ctx context.Context) error {
	in := &dynamodb.DeleteItemInput{TableName: &l.s.tableName, Key: itemKey(l.pk)}
	in.ConditionExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues = l.owned()
	ctx, cancel := deadline.Within(context.WithoutCancel(ctx), deadline.DynamoDB, l.s.callTimeout)
	defer cancel()
	_, err := l.s.db.DeleteItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("release idempotency record: %w", err)
	}
	return nil
}

// owned is the condition that the record is still this lease's claim.
func (l *Lease) owned() (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String(condOwned), map[string]string{"#status": attrStatus}, map[string]types.AttributeValue{
		":claim": &types.AttributeValueMemberS{Value: l.claimID}, ":in_progress": &types.AttributeValueMemberS{Value: statusInProgress},
	}
}

// put runs one conditional PutItem; a failed condition gives errTaken.
func (s *Store) put(ctx context.Context, in *dynamodb.PutItemInput) error {
	ctx, cancel := deadline.Within(ctx, deadline.DynamoDB, s.callTimeout)
	defer cancel()
	_, err := s.db.PutItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return errTaken
	}
	return err
}

// get reads the record with a consistent read; nil when there is none.
func (s *Store) get(ctx context.Context, pk string) (*record, error) {
	ctx, cancel := deadline.Within(ctx, deadline.DynamoDB, s.callTimeout)
	defer cancel()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.tableName, Key: itemKey(pk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get idempotency record: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	rec, err := decode(out.Item)
	if err != nil {
		return nil, fmt.Errorf("decode idempotency record: %w", err)
	}
	return rec, nil
}
