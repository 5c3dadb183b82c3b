package streams

import (
	"bytes"
	"encoding/json"
)

// batch is a run of consecutive records of one shard on its way to the
// function, with the failed invocations counted against
// MaximumRetryAttempts so far. A bisected batch's halves inherit the
// count: splitting is not a retry.
type batch struct {
	records  []record
	attempts int
}

// outcomeKind is how an invocation ended.
type outcomeKind int

const (
	outcomeUnknown outcomeKind = iota
	// outcomeOK: the function returned a response.
	outcomeOK
	// outcomeFunctionError: the function failed (returned an error,
	// panicked, timed out or crashed).
	outcomeFunctionError
	// outcomeNotInvoked: the function could not be invoked (no instance
	// could start); Lambda retries this without counting it.
	outcomeNotInvoked
)

// outcome is the result of one invocation with a batch.
type outcome struct {
	kind     outcomeKind
	response []byte
}

// decision says what follows an invocation: Done records from the front
// of the batch are finished (the checkpoint moves past them); Next are
// the batches to invoke next, in order, in place of this one; Discard,
// when set, is a batch given up on, whose invocation record goes to the
// on-failure destination before the checkpoint moves past it; Retry says
// the first of Next is this batch (or its rest) again, after a delay.
type decision struct {
	done    int
	next    []batch
	discard *batch
	retry   bool
}

// decide applies the mapping's rules to an invocation's outcome (Lambda's
// documented behaviour for DynamoDB event source mappings):
//
//   - a response, without ReportBatchItemFailures or with an empty or
//     null batchItemFailures, finishes the batch;
//   - batchItemFailures naming records of the batch finish the records
//     before the lowest of them and retry from it (which counts a retry);
//   - batchItemFailures naming no record of the batch, an empty or
//     missing itemIdentifier, or a response that is not JSON fail the
//     whole batch (a retry, without bisecting: the invocation succeeded);
//   - a function error bisects a batch of two or more records when
//     BisectBatchOnFunctionError is set (no retry counted), else retries
//     the batch;
//   - a batch whose retries are used up (more than MaximumRetryAttempts
//     failed invocations) is discarded;
//   - an invocation that never reached the function is retried as it
//     was, uncounted.
func decide(m Mapping, b batch, out outcome) decision {
	switch out.kind {
	case outcomeOK:
		if !m.ReportBatchItemFailures {
			return decision{done: len(b.records)}
		}
		first, ok := firstFailure(out.response, b.records)
		switch {
		case ok && first < 0:
			return decision{done: len(b.records)}
		case ok:
			return failed(m, batch{records: b.records[first:], attempts: b.attempts}, first)
		}
		return failed(m, b, 0)
	case outcomeFunctionError:
		if m.BisectBatchOnFunctionError && len(b.records) > 1 {
			half := len(b.records) / 2
			return decision{next: []batch{{records: b.records[:half], attempts: b.attempts}, {records: b.records[half:], attempts: b.attempts}}}
		}
		return failed(m, b, 0)
	}
	return decision{next: []batch{b}, retry: true}
}

// failed counts a failed invocation of rest (the batch from its first
// failed record on, after done finished records) and retries it, or
// discards it once its retries are used up.
func failed(m Mapping, rest batch, done int) decision {
	rest.attempts++
	if m.MaximumRetryAttempts >= 0 && rest.attempts > m.MaximumRetryAttempts {
		return decision{done: done, discard: &rest}
	}
	return decision{done: done, next: []batch{rest}, retry: true}
}

// firstFailure reads a ReportBatchItemFailures response: the index in recs
// of the lowest failed record, -1 for none (an empty, null or missing
// list, an empty response, JSON null), and ok=false for a response Lambda
// treats as a failure of the whole batch (not JSON, an item without a
// usable itemIdentifier, or one naming no record of the batch).
func firstFailure(resp []byte, recs []record) (index int, ok bool) {
	resp = bytes.TrimSpace(resp)
	if len(resp) == 0 || bytes.Equal(resp, []byte("null")) {
		return -1, true
	}
	var doc struct {
		BatchItemFailures []map[string]json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(resp, &doc); err != nil {
		return 0, false
	}
	index = -1
	for _, f := range doc.BatchItemFailures {
		var id string
		if err := json.Unmarshal(f["itemIdentifier"], &id); err != nil || id == "" {
			return 0, false
		}
		i := indexOf(recs, id)
		if i < 0 {
			return 0, false
		}
		if index < 0 || i < index {
			index = i
		}
	}
	return index, true
}

func indexOf(recs []record, seq string) int {
	for i, r := range recs {
		if r.seq == seq {
			return i
		}
	}
	return -1
}
