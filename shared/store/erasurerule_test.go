package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/shared/consent"
	"github.com/waguard/waguard/shared/retention"
	"github.com/waguard/waguard/shared/store"
)

// TestErasureRuleIsOneRule: what the store refuses in a transaction (its
// conditions), what it reports (ErasedSince, Profile.Erased) and what
// shared/consent's rule says agree, for each state of a subject's erasure
// suppression and an event from before, at and after the erasure.
func TestErasureRuleIsOneRule(t *testing.T) {
	backends(t, func(t *testing.T, f *fixture) {
		erasedAt := f.now.Add(-time.Hour)
		states := []struct {
			name         string
			erase, grant bool
			rule         consent.Erasure
		}{
			{"never erased", false, false, consent.Erasure{}},
			{"erased", true, false, consent.Erasure{Suppressed: true, At: erasedAt}},
			{"erased, then a fresh grant", true, true, consent.Erasure{Suppressed: true, Lifted: true, At: erasedAt}},
			{"a grant, never erased", false, true, consent.Erasure{Suppressed: true, Lifted: true}},
		}
		for _, st := range states {
			for _, d := range []time.Duration{-time.Minute, 0, time.Minute} {
				at := erasedAt.Add(d)
				t.Run(fmt.Sprintf("%s/event %v", st.name, d), func(t *testing.T) {
					subject := randomID(t)
					if st.erase {
						if err := f.s.MarkErased(ctx(t), subject, "er_x", erasedAt); err != nil {
							t.Fatal(err)
						}
					}
					if st.grant {
						if _, err := f.db.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{f.s.LiftErasure(subject)}}); err != nil {
							t.Fatal(err)
						}
					}
					lookup := randomID(t)
					err := f.s.PutInbound(ctx(t), store.Inbound{Subject: subject, Lookup: lookup, ProviderID: "wamid.r" + lookup, Type: "text",
						Body: []byte("r"), At: at, Class: retention.ClassSupport}, store.Unit{})
					if got := errors.Is(err, store.ErrErased); got != st.rule.Withholds(at) || (!got && err != nil) {
						t.Errorf("PutInbound(at) err = %v; rule withholds: %t", err, st.rule.Withholds(at))
					}
					if got, err := f.s.ErasedSince(ctx(t), subject, at); err != nil || got != st.rule.Withholds(at) {
						t.Errorf("ErasedSince(at) = %t, %v; rule withholds: %t", got, err, st.rule.Withholds(at))
					}
					p, err := f.s.Profile(ctx(t), subject)
					if err != nil || p.Erased != st.rule.InForce() {
						t.Errorf("Profile().Erased = %t, %v; rule in force: %t", p.Erased, err, st.rule.InForce())
					}
					err = f.s.PutOutbound(ctx(t), store.Outbound{Subject: subject, ID: "msg_" + lettersID(t), Phone: "+447700900003",
						Purpose: retention.ClassTransactional, Status: store.StatusSending, At: f.now}, store.Unit{})
					if got := errors.Is(err, store.ErrErased); got != st.rule.InForce() || (!got && err != nil) {
						t.Errorf("PutOutbound() err = %v; rule in force: %t", err, st.rule.InForce())
					}
				})
			}
		}
	})
}
