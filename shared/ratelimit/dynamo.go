package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// table holds the DynamoDB calls the limiter makes.
type table interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, params *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ table = (*dynamodb.Client)(nil)

// The expressions. condFresh is exactly "no live TAT after now" and
// condQueued exactly "live TAT in (now, now+τ]", as [step.decide] reads an
// item; the fake table in the tests evaluates these strings.
const (
	skValue    = "rl"
	projection = "tat, expires_at, refused_window"

	updFresh  = "SET tat = :tat, expires_at = :exp"
	condFresh = "attribute_not_exists(tat) OR attribute_not_exists(expires_at) OR expires_at <= :nows OR tat <= :now"

	updQueued  = "SET tat = tat + :t, expires_at = :exp"
	condQueued = "tat > :now AND tat <= :max AND expires_at > :nows"

	updRefusal  = "SET refused_window = :w"
	condRefusal = "attribute_exists(tat) AND (attribute_not_exists(refused_window) OR refused_window < :w)"

	// ttlMargin keeps an item this long after its TAT has passed.
	ttlMargin = int64(time.Minute / time.Second)
)

func (lim *Limiter) key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: skValue},
	}
}

// read fetches a key's state with a strongly consistent read.
func (lim *Limiter) read(ctx context.Context, pk string) (state, error) {
	out, err := lim.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &lim.tableName, Key: lim.key(pk), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String(projection),
	})
	if err != nil {
		return state{}, fmt.Errorf("read state: %w", err)
	}
	st := state{refusedWindow: -1}
	for _, a := range [...]struct {
		name string
		dst  *int64
	}{{"tat", &st.tat}, {"expires_at", &st.exp}, {"refused_window", &st.refusedWindow}} {
		v, ok, err := number(out.Item, a.name)
		if err != nil {
			return state{}, fmt.Errorf("read state: %w", err)
		}
		if ok {
			*a.dst = v
		}
	}
	return st, nil
}

// number decodes an integer number attribute; ok is false when absent.
func number(item map[string]types.AttributeValue, name string) (v int64, ok bool, err error) {
	a, present := item[name]
	if !present {
		return 0, false, nil
	}
	n, isN := a.(*types.AttributeValueMemberN)
	if !isN {
		return 0, false, fmt.Errorf("attribute %s is not a number", name)
	}
	if v, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
		return 0, false, fmt.Errorf("attribute %s is not an integer", name)
	}
	return v, true, nil
}

// update returns the conditional update that admits step s.
func (s *step) update() (upd, cond string, vals map[string]types.AttributeValue) {
	nowSec := s.now / int64(time.Second)
	vals = map[string]types.AttributeValue{":now": num(s.now), ":nows": num(nowSec)}
	if s.kind == kindFresh {
		vals[":tat"] = num(s.newTAT)
		vals[":exp"] = num(ceilSec(s.newTAT) + ttlMargin)
		return updFresh, condFresh, vals
	}
	// The stored TAT may have grown since the read; the condition caps it
	// at now+τ, so now+τ+T bounds the new TAT.
	vals[":t"] = num(s.g.t)
	vals[":max"] = num(s.now + s.g.tau)
	vals[":exp"] = num(ceilSec(s.now+s.g.tau+s.g.t) + ttlMargin)
	return updQueued, condQueued, vals
}

// commit writes the admitted steps: one UpdateItem for one step, one
// transaction for several. ok is false when a condition failed.
func (lim *Limiter) commit(ctx context.Context, steps []step) (Decision, bool, error) {
	if len(steps) > 1 {
		return lim.commitAll(ctx, steps)
	}
	s := &steps[0]
	upd, cond, vals := s.update()
	out, err := lim.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &lim.tableName, Key: lim.key(s.pk),
		UpdateExpression: &upd, ConditionExpression: &cond, ExpressionAttributeValues: vals,
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if lostRace(err) {
		return Decision{}, false, nil
	}
	if err != nil {
		return Decision{}, false, fmt.Errorf("update state: %w", err)
	}
	tat, ok, err := number(out.Attributes, "tat")
	if err != nil || !ok {
		return Decision{}, false, errors.New("update state: no tat returned")
	}
	return Decision{Allowed: true, Remaining: s.remaining(tat)}, true, nil
}

// commitAll writes several admitted steps in one transaction.
func (lim *Limiter) commitAll(ctx context.Context, steps []step) (Decision, bool, error) {
	items := make([]types.TransactWriteItem, len(steps))
	for i := range steps {
		upd, cond, vals := steps[i].update()
		items[i].Update = &types.Update{
			TableName: &lim.tableName, Key: lim.key(steps[i].pk),
			UpdateExpression: &upd, ConditionExpression: &cond, ExpressionAttributeValues: vals,
		}
	}
	_, err := lim.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if lostRace(err) {
		return Decision{}, false, nil
	}
	if err != nil {
		return Decision{}, false, fmt.Errorf("transact state: %w", err)
	}
	return admitted(steps), true, nil
}

// lostRace reports whether err means the item changed under the write (a
// failed condition, or a concurrent transaction on the item): nothing was
// written and a fresh read will decide.
func lostRace(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	var conflict *types.TransactionConflictException
	var canceled *types.TransactionCanceledException
	switch {
	case err == nil:
		return false
	case errors.As(err, &ccf), errors.As(err, &conflict):
		return true
	case !errors.As(err, &canceled):
		return false
	}
	lost := false
	for _, r := range canceled.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "", "None":
		case "ConditionalCheckFailed", "TransactionConflict":
			lost = true
		default:
			return false
		}
	}
	return lost
}

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// ceilSec converts unix nanoseconds to epoch seconds, rounding up.
func ceilSec(ns int64) int64 { return (ns + int64(time.Second) - 1) / int64(time.Second) }
