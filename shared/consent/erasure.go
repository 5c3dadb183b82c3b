package consent

import "time"

// Erasure is what a subject's erasure suppression says. An erasure
// suppresses the subject: nothing new is stored for them or sent to them,
// and what was stored before is withheld while it is deleted. A fresh
// grant lifts the suppression but keeps its time, so that what happened
// before the erasure stays withheld for good (a redelivery or a replay of
// an event from then never brings erased data back). The zero value is a
// subject never erased.
//
// shared/store reads it from the suppression item, and writes the same
// rule as DynamoDB conditions (its notErased and notErasedSince), which
// refuse in the transaction itself what [Erasure.InForce] and
// [Erasure.Withholds] report.
type Erasure struct {
	// Suppressed: the subject has an erasure suppression item (erased, or
	// given a fresh grant, which records a lifted one).
	Suppressed bool
	// Lifted: a fresh grant lifted it.
	Lifted bool
	// At is when the subject was erased (zero: not recorded, as for a
	// subject never erased whose grant wrote the lifted item).
	At time.Time
}

// InForce reports whether the suppression holds: the subject is erased
// (or being erased) and no fresh grant lifted it since.
func (e Erasure) InForce() bool { return e.Suppressed && !e.Lifted }

// Withholds reports whether something from t (a message written, an
// event that happened) is withheld: everything while the suppression is
// in force, and after a lift what is from the erasure's second or before.
func (e Erasure) Withholds(t time.Time) bool {
	if !e.Suppressed {
		return false
	}
	return !e.Lifted || (!e.At.IsZero() && !t.After(e.At))
}
