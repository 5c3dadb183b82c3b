package ratelimit

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// refusal is one refused check of a Decision and what the read behind it
// knew about reports.
type refusal struct {
	check    Check
	pk       string
	window   int64
	reported bool // the stored refused_window was already this window
}

// FirstRefusals returns the checks of d.Refused for which d is the first
// refusal in the current window, so that the caller audits
// rate_limit_exceeded once per key and window instead of once per
// request. A window is Per long and aligned to the Unix epoch: each clock
// hour for 10 per hour, each second for 80 per second.
//
// The window is recorded in the key's item (refused_window) only when it
// changes. When the read behind d already saw the current window, no call
// is made; otherwise it makes one conditional UpdateItem per key, which
// succeeds for exactly one caller per key and window however many race.
// So a sustained refusal costs one write per key and window.
//
// It returns nil for an allowed Decision. An error (DynamoDB, ctx) leaves
// the caller to decide; auditing anyway reports at worst twice.
func (lim *Limiter) FirstRefusals(ctx context.Context, d Decision) ([]Check, error) {
	var first []Check
	for _, r := range d.refusals {
		if r.reported {
			continue
		}
		ok, err := lim.markRefused(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("rate limit refusals: %w", err)
		}
		if ok {
			first = append(first, r.check)
		}
	}
	return first, nil
}

// markRefused sets refused_window to r.window if it is older, and reports
// whether this call set it. A concurrent transaction on the item is
// retried; any other failed condition means another caller reported the
// window first (or the item is gone).
func (lim *Limiter) markRefused(ctx context.Context, r refusal) (bool, error) {
	upd, cond := updRefusal, condRefusal
	in := &dynamodb.UpdateItemInput{
		TableName: &lim.tableName, Key: lim.key(r.pk),
		UpdateExpression: &upd, ConditionExpression: &cond,
		ExpressionAttributeValues: map[string]types.AttributeValue{":w": num(r.window)},
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if attempt > 0 {
			if err := lim.sleep(ctx, attempt); err != nil {
				return false, err
			}
		}
		_, err := lim.db.UpdateItem(ctx, in)
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &ccf):
			return false, nil
		case !lostRace(err):
			return false, fmt.Errorf("record refusal: %w", err)
		}
	}
	return false, errContention
}
