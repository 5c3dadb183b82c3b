package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/devstack/stacktest"
	wgevents "github.com/waguard/waguard/shared/events"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/store"
	"github.com/waguard/waguard/shared/subject"
)

// The end-to-end tests (e2e_test.go) drive the local stack from outside,
// as Meta and a business would: webhooks signed by the WhatsApp sandbox,
// API calls through the gateway, the deployed functions under the Lambda
// emulator, the audit stream trigger, the events function, moto's bus and
// the sandbox's receiving endpoint (the endpoint "sandbox", with content).
// Other packages' tests share the stack, so everything is told apart by
// the test's own people (fictional numbers of their own area codes) and
// event ids. They live in this package so that they never run alongside
// its in-process tests, whose retry runs read the same due-minute index.

// e2eEnv is one end-to-end test's view of the stack.
type e2eEnv struct {
	// r holds the ops key and the events function's keys (the contact id
	// key, the subject finder), to compute what the events must say.
	r   *readEnv
	st  stacktest.Stack
	tap *stacktest.BusTap
	// states reads delivery states with the stack's own credentials.
	states *store.Store
	// people are the test's people, looked for on the bus and in the
	// stack log when it ends.
	people []*person
}

func newE2E(t *testing.T) *e2eEnv {
	t.Helper()
	r := newReadEnv(t)
	st := r.st
	if st.SandboxEndpointSecretID == "" || st.Log == "" {
		t.Fatal("the stack registered no sandbox endpoint or has no stack log: restart it with the current waguard-dev")
	}
	e := &e2eEnv{r: r, st: st, tap: st.BusTap(t),
		states: store.New(dynamodb.NewFromConfig(st.AWS(t)), nil, store.Config{Table: st.DataTable})}
	t.Cleanup(func() { e.checkNoPersonalData(t) })
	return e
}

// checkNoPersonalData fails the test if anything identifying one of its
// people (number with or without "+", BSUID, username, profile name, a
// text) appears on the bus (every event since the test began) or in the
// stack log (every function's log lines). It names the kind found, never
// the value.
func (e *e2eEnv) checkNoPersonalData(t *testing.T) {
	t.Helper()
	var bus strings.Builder
	for _, ev := range e.tap.Events(t, time.Second) {
		b, _ := json.Marshal(ev)
		bus.Write(b)
	}
	places := map[string]string{"the bus": bus.String(), "the stack log": e.stackLog(t)}
	for _, p := range e.people {
		kinds := map[string][]string{"phone number": {p.phone, p.digits}, "user id": {p.userID}, "username": {p.username},
			"profile name": {p.name}, "message text": p.texts}
		for where, text := range places {
			for kind, values := range kinds {
				for _, v := range values {
					if v != "" && strings.Contains(text, v) {
						t.Errorf("a %s of a test person appears in %s", kind, where)
					}
				}
			}
		}
	}
}

// person is a fictional WhatsApp user of one test.
type person struct {
	who                      subject.Who
	phone, digits, userID    string
	username, name, contact  string
	texts                    []string
	subjectKey, pseudonymKey string
}

// newPerson returns a person with a fictional +1 4xx 555 01xx number
// nothing is stored about (area codes no other package uses), a BSUID, a
// username and a profile name.
func (e *e2eEnv) newPerson(t *testing.T) *person {
	t.Helper()
	for range 1000 {
		i, _ := rand.Int(rand.Reader, big.NewInt(10000))
		n, err := phone.Parse(fmt.Sprintf("+1%d55501%02d", 400+i.Int64()/100, i.Int64()%100))
		if err != nil {
			continue
		}
		if s, err := e.r.h.Subjects.Find(context.Background(), subject.Who{Phone: n}); err != nil || s.Known {
			continue
		}
		u := newUserID(t)
		tag := hex.EncodeToString(randBytes(4))
		p := &person{who: subject.Who{Phone: n, User: u}, phone: n.E164(), digits: strings.TrimPrefix(n.E164(), "+"), userID: u.Reveal(),
			username: "e2e." + tag, name: "Erin " + strings.ToUpper(tag)}
		e.people = append(e.people, p)
		return p
	}
	t.Fatal("no fictional number left")
	return nil
}

// text has the sandbox deliver an inbound text from p to the webhook
// (signed as Meta signs) and returns its wamid. The first one makes p
// known, and p.contact their contact id.
func (e *e2eEnv) text(t *testing.T, p *person, text string) string {
	t.Helper()
	p.texts = append(p.texts, text)
	wamid := e.deliver(t, map[string]any{"kind": "text", "from": p.digits, "user_id": p.userID, "username": p.username, "name": p.name,
		"text": text})
	if p.contact == "" {
		s, err := e.r.h.Subjects.Find(context.Background(), p.who)
		if err != nil || !s.Known {
			t.Fatalf("Find(person) = %v, %v; want them known after their message", s.Known, err)
		}
		p.subjectKey, p.pseudonymKey, p.contact = s.Key, s.Pseudonym, wgevents.ContactID(e.r.h.ContactKey, s.Key)
	}
	return wamid
}

// deliver posts a sandbox delivery request; the webhook must answer 200.
func (e *e2eEnv) deliver(t *testing.T, req map[string]any) string {
	t.Helper()
	var out struct {
		Status int    `json:"status"`
		WAMID  string `json:"wamid"`
	}
	if status := e.post(t, e.st.SandboxURL+"/_sandbox/deliver", req, &out); status != 200 || out.Status != 200 {
		t.Fatalf("deliver(%v) = %d, webhook %d; want 200", req["kind"], status, out.Status)
	}
	return out.WAMID
}

// post sends body as JSON and decodes the answer into out.
func (e *e2eEnv) post(t *testing.T, url string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s err = %v", url, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// api calls the gateway with the ops key and returns the status, the
// body and the API Gateway request id (what the audit events record).
func (e *e2eEnv) api(t *testing.T, method, path string, body any) (int, map[string]any, string) {
	t.Helper()
	return e.r.gatewayCall(t, method, path, body)
}

// retryRun invokes the events function's retry run through the gateway,
// as the per-minute schedule does (make invoke).
func (e *e2eEnv) retryRun(t *testing.T) RetryResult {
	t.Helper()
	var res RetryResult
	if status := e.post(t, e.st.GatewayURL+"/_local/invoke/events", map[string]string{"action": "retry_deliveries"}, &res); status != 200 {
		t.Fatalf("invoke retry_deliveries = %d, want 200", status)
	}
	return res
}

// fault queues a fault of the sandbox endpoint; the test's cleanup
// clears every queued fault (only these tests queue endpoint faults).
func (e *e2eEnv) fault(t *testing.T, f sandbox.EndpointFault) {
	t.Helper()
	if status := e.post(t, e.st.SandboxURL+"/_sandbox/endpoint/faults", f, nil); status/100 != 2 {
		t.Fatalf("queue endpoint fault = %d, want 2xx", status)
	}
	t.Cleanup(func() { e.clearFaults(t) })
}

func (e *e2eEnv) clearFaults(t *testing.T) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, e.st.SandboxURL+"/_sandbox/endpoint/faults", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("clear endpoint faults err = %v", err)
	}
	resp.Body.Close()
}

// arrival is one delivery the sandbox endpoint recorded, with its data
// decoded.
type arrival struct {
	sandbox.EndpointDelivery
	data map[string]any
}

// deliveries lists what the sandbox endpoint recorded that match accepts.
func (e *e2eEnv) deliveries(t *testing.T, match func(arrival) bool) []arrival {
	t.Helper()
	resp, err := http.Get(e.st.SandboxURL + "/_sandbox/deliveries")
	if err != nil {
		t.Fatalf("GET /_sandbox/deliveries err = %v", err)
	}
	defer resp.Body.Close()
	var all []sandbox.EndpointDelivery
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		t.Fatalf("decode /_sandbox/deliveries: %v", err)
	}
	var out []arrival
	for _, d := range all {
		r := arrival{EndpointDelivery: d}
		_ = json.Unmarshal(d.Data, &r.data)
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// awaitDelivery waits up to timeout for a delivery that match accepts
// and returns the first.
func (e *e2eEnv) awaitDelivery(t *testing.T, timeout time.Duration, what string, match func(arrival) bool) arrival {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		if got := e.deliveries(t, match); len(got) > 0 {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox endpoint got no %s within %s", what, timeout)
		}
	}
}

// of matches deliveries about p's contact id of type typ (any with "").
func of(p *person, typ wgevents.Type) func(arrival) bool {
	return func(r arrival) bool {
		return r.data["contact_id"] == p.contact && (typ == "" || r.Type == string(typ))
	}
}

// withID matches the deliveries of one event.
func withID(id string) func(arrival) bool {
	return func(r arrival) bool { return r.ID == id }
}

// busEvent waits for the bus event with id and returns it with its
// detail decoded.
func (e *e2eEnv) busEvent(t *testing.T, id string) (stacktest.BusEvent, map[string]any) {
	t.Helper()
	ev := e.tap.Wait(t, 15*time.Second, func(b stacktest.BusEvent) bool {
		var d struct {
			ID string `json:"id"`
		}
		return json.Unmarshal(b.Detail, &d) == nil && d.ID == id
	})
	var detail map[string]any
	if err := json.Unmarshal(ev.Detail, &detail); err != nil {
		t.Fatalf("bus event detail is not JSON: %v", err)
	}
	return ev, detail
}

// state reads the retry state of event id for destination.
func (e *e2eEnv) state(t *testing.T, id, destination string) (store.Delivery, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.states.GetDelivery(ctx, "ev_"+strings.TrimPrefix(id, "evt_"), destination)
}

// awaitState waits (up to 10 s) until the retry state of event id for
// destination exists and has recorded an attempt: the sandbox sees an
// attempt before the events function has written its outcome, so a read
// right after the arrival can find nothing yet.
func (e *e2eEnv) awaitState(t *testing.T, id, destination string) (store.Delivery, error) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		d, err := e.state(t, id, destination)
		if (err == nil && d.Attempts > 0) || time.Now().After(deadline) {
			return d, err
		}
	}
}

// retryWhenDue waits until the delivery of event id to the sandbox is
// due and invokes retry runs (bounded) until its state leaves pending or
// the sandbox recorded another attempt.
func (e *e2eEnv) retryWhenDue(t *testing.T, id string) store.Delivery {
	t.Helper()
	d, err := e.awaitState(t, id, "sandbox")
	if err != nil || d.State != store.DeliveryPending {
		t.Fatalf("delivery of %s = %+v, %v; want pending", id, d, err)
	}
	if wait := time.Until(d.NextAt); wait > 10*time.Second {
		t.Fatalf("delivery of %s due in %s, want about 5 s", id, wait)
	} else {
		time.Sleep(wait + 100*time.Millisecond)
	}
	attempts := len(e.deliveries(t, withID(id)))
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		e.retryRun(t)
		cur, err := e.state(t, id, "sandbox")
		if err == nil && (cur.State != store.DeliveryPending || cur.Attempts > d.Attempts) || len(e.deliveries(t, withID(id))) > attempts {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry of %s's delivery within 15 s of its due time: state %+v, %v", id, cur, err)
		}
	}
}

// stackLog returns the stack log's text.
func (e *e2eEnv) stackLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.st.Log)
	if err != nil {
		t.Fatalf("read the stack log: %v", err)
	}
	return string(b)
}
