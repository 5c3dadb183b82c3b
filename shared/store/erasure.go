package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErasureDeadline is the one month GDPR Art. 12(3) allows, as 30 days.
const ErasureDeadline = 30 * 24 * time.Hour

// ErasureRequest is a request to erase one subject. It holds no personal
// data: the subject is its blind index.
type ErasureRequest struct {
	// ID is the request id (er_…); Subject the blind index it concerns.
	ID, Subject string
	// Reason is user_request, whatsapp_keyword, contract_end or other.
	Reason string
	// Status is pending, in_progress, completed or failed.
	Status string
	// RequestedAt and DueBy bound the one-month deadline.
	RequestedAt, DueBy time.Time
}

func erasurePointer(subject string) map[string]types.AttributeValue {
	return key("erq-open#"+subject, "erq")
}

// OpenErasure creates a pending erasure request for the subject, with
// extra (the audit event) in the same transaction. When one is already
// open it returns that request together with an error wrapping
// [ErrDuplicate] (requests are idempotent per subject; the wrapped
// cancellation tells an audit.Pending its item was not written).
func (s *Store) OpenErasure(ctx context.Context, req ErasureRequest, extra ...types.TransactWriteItem) (ErasureRequest, error) {
	req.Status = "pending"
	req.DueBy = req.RequestedAt.Add(ErasureDeadline)
	pointer := erasurePointer(req.Subject)
	pointer["id"] = sAttr(req.ID)
	item := map[string]types.AttributeValue{"pk": sAttr("erq#" + req.ID), "sk": sAttr("erq"), "subject": sAttr(req.Subject),
		"reason": sAttr(req.Reason), "status": sAttr(req.Status), "requested_at": num(req.RequestedAt.Unix()),
		"due_by": num(req.DueBy.Unix())}
	items := append([]types.TransactWriteItem{put(s.name, pointer, "attribute_not_exists(pk)"),
		put(s.name, item, "attribute_not_exists(pk)")}, extra...)
	err := s.transact(ctx, items, 0, -1)
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
	return ErasureRequest{ID: id, Subject: str(it, "subject"), Reason: str(it, "reason"), Status: str(it, "status"),
		RequestedAt: time.Unix(numAttr(it, "requested_at"), 0).UTC(), DueBy: time.Unix(numAttr(it, "due_by"), 0).UTC()}, nil
}

// LiftErasure is the write that removes a subject's erasure suppression,
// for the transaction that records their fresh consent.
func (s *Store) LiftErasure(subject string) types.TransactWriteItem {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: &s.name, Key: key(ErasedPK(subject), "erased")}}
}
