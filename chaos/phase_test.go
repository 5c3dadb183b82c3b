package chaos

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
)

// opKind is one request of the workload.
type opKind string

const (
	opConsent opKind = "consent" // POST /v1/consents: a grant for G
	opSend    opKind = "send"    // POST /v1/messages with an Idempotency-Key: a template to S
	opWebhook opKind = "webhook" // POST /webhooks/meta, signed as Meta signs: a text from W
	opErasure opKind = "erasure" // POST /v1/erasure-requests for E
	opQuery   opKind = "query"   // POST /v1/consents/query for S
)

var allOps = []opKind{opConsent, opSend, opWebhook, opErasure, opQuery}

// ok is the want entry for the operation's success answer.
const ok = "ok"

// recoveryLimit bounds how long a phase waits for every request to
// succeed once its fault is cleared.
const recoveryLimit = 60 * time.Second

// run is one execution of the workload, with fresh numbers: G gets a
// consent grant, S (granted by the harness beforehand) a template, W sends
// a text, E is erased; S is also the consent query's subject.
type run struct {
	s          *stack
	c          *api
	G, S, W, E string
	sendText   string // the template's body parameter: personal content
	inText     string // W's message
	inName     string // W's WhatsApp profile name
	idem       string // the send's current Idempotency-Key
	keys       int    // Idempotency-Keys used
	payload    []byte // W's signed delivery: Meta redelivers these bytes
	signature  string
	wamids     []string
	consentIDs []string
	messageIDs []string
	erasureIDs []string
	cleared    time.Time // when the fault was cleared
	// deadLetterID is the dead letter an events phase made, to redrive.
	deadLetterID string
	during       map[opKind]answer   // the answers during the fault
	doneDuring   map[opKind]bool     // which of them were successes
	done         map[opKind]bool     // which ops have succeeded so far
	trace        map[opKind][]string // the answers while recovering, repeats folded
}

func newRun(t *testing.T, s *stack, c *api, nums *numbers) *run {
	x := &run{s: s, c: c, G: nums.next(t), S: nums.next(t), W: nums.next(t), E: nums.next(t),
		sendText: "chaos order " + rand.Text()[:12], inText: "chaos hello " + rand.Text()[:12], inName: "Probe " + rand.Text()[:8],
		during: map[opKind]answer{}, doneDuring: map[opKind]bool{}, done: map[opKind]bool{},
		trace: map[opKind][]string{}}
	x.newKey()
	x.grant(t, x.S)
	x.buildDelivery(t)
	return x
}

// buildDelivery builds and signs W's inbound text exactly as the sandbox
// (and Meta) would, so the harness can post and redeliver it itself and
// see the gateway's own answer.
func (x *run) buildDelivery(t *testing.T) {
	from := strings.TrimPrefix(x.W, "+")
	wamid := sandbox.NewWAMID(from, false)
	b, err := sandbox.BuildTextEvent(sandbox.Business{AccountID: sandbox.DefaultBusinessAccountID, PhoneNumberID: sandbox.DefaultPhoneNumberID,
		DisplayPhoneNumber: sandbox.DefaultDisplayPhoneNumber}, sandbox.TextEvent{From: from, Name: x.inName, Body: x.inText, WAMID: wamid, Time: time.Now()})
	if err != nil {
		t.Fatalf("build webhook: %v", err)
	}
	x.payload, x.signature = b, sandbox.Sign(x.s.appSecret, b)
	x.wamids = append(x.wamids, wamid)
}

func (x *run) newKey() { x.idem, x.keys = "chaos-"+rand.Text(), x.keys+1 }

// grant records a transactional consent for n exactly as the send
// function does (ledger entry and audit event in one transaction), from
// the harness, so that no function serves a request before the fault.
func (x *run) grant(t *testing.T, n string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	core := x.s.core
	subject, pseudonym := subjectOf(x.s, n)
	id := "cev_" + rand.Text()[:24]
	err := core.Store.RecordConsent(ctx, subject, store.ConsentEvent{ID: id, Purpose: "transactional", Action: store.ActionGrant,
		Method: "web_form", PolicyVersion: "2026-01", Actor: "chaos", At: time.Now()}, store.SuppressionLift, "",
		store.Unit{Audit: []audit.Event{{Type: audit.EventConsentGranted, Subject: pseudonym, Actor: audit.Actor{Caller: "chaos"},
			Details: map[string]string{"purpose": "transactional", "method": "web_form", "consent_event": id}}},
			Items: []types.TransactWriteItem{core.Store.LiftErasure(subject)}})
	if err != nil {
		t.Fatalf("setup: record consent: %v", err)
	}
}

// do runs op once and records the ids of a success.
func (x *run) do(ctx context.Context, op opKind) (answer, bool) {
	var a answer
	switch op {
	case opConsent:
		a = x.c.call(ctx, "POST", "/v1/consents", "", map[string]string{"phone": x.G, "purpose": "transactional",
			"action": "grant", "method": "web_form", "policy_version": "2026-01"})
		if a.Status == 201 {
			x.consentIDs = append(x.consentIDs, fmt.Sprint(a.Body["id"]))
		}
		return a, a.Status == 201
	case opSend:
		a = x.c.call(ctx, "POST", "/v1/messages", x.idem, x.sendBody())
		if a.Status == 202 {
			x.messageIDs = append(x.messageIDs, fmt.Sprint(a.Body["id"]))
			x.wamids = append(x.wamids, fmt.Sprint(a.Body["provider_message_id"]))
		}
		return a, a.Status == 202
	case opWebhook:
		a = x.c.webhook(ctx, x.payload, x.signature)
		return a, a.Status == 200 && count(a, "received")+count(a, "duplicates") == 1
	case opErasure:
		a = x.c.call(ctx, "POST", "/v1/erasure-requests", "", map[string]string{"phone": x.E, "reason": "user_request"})
		if a.Status == 202 && !slices.Contains(x.erasureIDs, fmt.Sprint(a.Body["id"])) {
			x.erasureIDs = append(x.erasureIDs, fmt.Sprint(a.Body["id"]))
		}
		return a, a.Status == 202
	case opQuery:
		a = x.c.call(ctx, "POST", "/v1/consents/query", "", map[string]string{"phone": x.S})
		return a, a.Status == 200
	}
	panic("unknown op " + op)
}

func count(a answer, k string) int {
	f, _ := a.Body[k].(float64)
	return int(f)
}

// runOps runs ops once each, in order, and records the answers.
func (x *run) runOps(ctx context.Context, ops []opKind) {
	for _, op := range ops {
		a, good := x.do(ctx, op)
		x.during[op], x.doneDuring[op], x.done[op] = a, good, good
	}
}

// recover retries every failed op until it succeeds or the limit passes,
// as a careful client would: the same Idempotency-Key for the send (a new
// one only after a replayed 502, which the API documents as "the message
// may have been accepted"), the same webhook bytes (Meta's redelivery). It
// returns the time from since until every op had succeeded, and whether
// they all did within recoveryLimit.
func (x *run) recover(ctx context.Context, ops []opKind, since time.Time) (time.Duration, bool) {
	last := map[opKind]answer{}
	for {
		pending := false
		for _, op := range ops {
			if x.done[op] {
				continue
			}
			if op == opSend && last[op].Status == 502 {
				x.newKey()
			}
			a, good := x.do(ctx, op)
			last[op], x.done[op] = a, good
			x.traceAnswer(op, a)
			pending = pending || !good
		}
		if !pending {
			return time.Since(since), true
		}
		if time.Since(since) > recoveryLimit || ctx.Err() != nil {
			return time.Since(since), false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// traceAnswer appends a to op's recovery trace, folding repeats into
// "answer ×n".
func (x *run) traceAnswer(op opKind, a answer) {
	t := x.trace[op]
	s := a.String()
	if n := len(t); n > 0 {
		prev, times, _ := strings.Cut(t[n-1], " ×")
		if prev == s {
			k := 1
			fmt.Sscan(times, &k)
			t[n-1] = fmt.Sprintf("%s ×%d", s, k+1)
			return
		}
	}
	x.trace[op] = append(t, s)
}

// duplicates replays the send with its key and redelivers the webhook,
// then counts messages the provider got beyond the one the client asked
// for. It returns the duplicate count and any answer that broke the
// idempotency contract.
func (x *run) duplicates(ctx context.Context, ops []opKind) (int, []string) {
	var broken []string
	dups := 0
	if slices.Contains(ops, opSend) {
		if a := x.c.call(ctx, "POST", "/v1/messages", x.idem, x.sendBody()); a.Status != 202 || !a.Replayed {
			broken = append(broken, "send replay answered "+a.String())
		}
		n, err := x.c.sends(ctx, x.S)
		if err != nil {
			broken = append(broken, err.Error())
		}
		dups += max(0, n-1)
	}
	if slices.Contains(ops, opWebhook) {
		a := x.c.webhook(ctx, x.payload, x.signature)
		if a.Status != 200 || count(a, "duplicates") != 1 {
			broken = append(broken, "webhook redelivery answered "+a.String()+" "+compact(a.Body))
		}
	}
	return dups, broken
}

func (x *run) sendBody() map[string]any {
	return map[string]any{"to": x.S, "purpose": "transactional",
		"template": map[string]any{"name": "order_update", "language": "en_US", "components": []any{map[string]any{
			"type": "body", "parameters": []any{map[string]string{"type": "text", "text": x.sendText}}}}}}
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// needles are the personal values this run used, for the plaintext scan.
func (x *run) needles() []Needle {
	var out []Needle
	for i, n := range []string{x.G, x.S, x.W, x.E} {
		out = append(out, NewNeedle(fmt.Sprintf("phone %c", "GSWE"[i]), n, strings.TrimPrefix(n, "+")))
	}
	out = append(out, NewNeedle("template text", x.sendText), NewNeedle("inbound text", x.inText), NewNeedle("profile name", x.inName))
	for _, w := range x.wamids {
		if w != "" {
			out = append(out, NewNeedle("wamid", w))
		}
	}
	return out
}

// numbers hands out fictitious numbers of the form +1 NXX 555 01xx, each
// once per test run.
type numbers struct{ i int }

func (g *numbers) next(t *testing.T) string {
	for ; g.i < 20*100; g.i++ {
		n := fmt.Sprintf("+1%d55501%02d", 201+g.i/100, g.i%100)
		if n == canaryNumber {
			continue
		}
		if _, err := phone.Parse(n); err == nil {
			g.i++
			return n
		}
	}
	t.Fatal("out of fictitious numbers")
	return ""
}

// canaryNumber is written in clear on purpose, to prove the scan sees
// what the emulators store.
const canaryNumber = "+12195550199"
