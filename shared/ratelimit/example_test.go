package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// A send path checks the per-recipient and the global per-sender limit
// together and audits a refusal once per key and window.
func ExampleLimiter_AllowAll() {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	lim, err := New(newFakeTable(), Config{Table: testTable, Scope: "send", Now: clock.Now}) // a *dynamodb.Client in production
	if err != nil {
		fmt.Println(err)
		return
	}
	perRecipient := Limit{Count: 2, Per: time.Hour}
	perSender := Limit{Count: 80, Per: time.Second}
	for i := 1; i <= 4; i++ {
		d, err := lim.AllowAll(ctx,
			Check{Key: "to:" + "QmxpbmRJbmRleE9mQWxpY2U", Limit: perRecipient}, // the recipient's blind index
			Check{Key: "from:" + "106540352242922", Limit: perSender},          // the phone number ID
		)
		if err != nil {
			fmt.Println(err) // fail closed
			return
		}
		if d.Allowed {
			fmt.Printf("send %d: allowed, %d remaining\n", i, d.Remaining)
			continue
		}
		first, err := lim.FirstRefusals(ctx, d)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("send %d: 429 Retry-After %.0f, audit %d\n", i, d.RetryAfter.Seconds(), len(first))
	}
	// Output:
	// send 1: allowed, 1 remaining
	// send 2: allowed, 0 remaining
	// send 3: 429 Retry-After 1800, audit 1
	// send 4: 429 Retry-After 1800, audit 0
}
