package main

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/store"
)

// The export document (docs/api.md, docs/gdpr.md section 3) and its rules
// as pure functions: what a page holds, how a stored item is shown, and
// where the next page starts. exportdoc_test.go tests them without the
// stack.

// ExportFormat names and versions the export document (GDPR Art. 15, 20).
const ExportFormat = "waguard.export/v1"

// exportPage is the most messages one response holds; their size on the
// wire is bounded by [httpapi.PageBudget] (the rest of the document, the
// ledger and suppressions, fits in the margin below Lambda's 6 MB). A
// larger subject is paged with next_cursor.
const (
	exportPage = 500
	exportRead = 100 // messages read from the table at a time
)

type exportMessage struct {
	ID                string         `json:"id"`
	Direction         string         `json:"direction"`
	Type              string         `json:"type,omitempty"`
	Purpose           string         `json:"purpose"`
	Status            string         `json:"status,omitempty"`
	ErrorCode         int            `json:"error_code,omitempty"`
	Statuses          []exportStatus `json:"statuses,omitempty"`
	Time              time.Time      `json:"time"`
	Phone             string         `json:"phone,omitempty"`
	UserID            string         `json:"user_id,omitempty"`
	Username          string         `json:"username,omitempty"`
	ProviderMessageID string         `json:"provider_message_id"`
	ProfileName       string         `json:"profile_name,omitempty"`
	Body              string         `json:"body,omitempty"`
}

// exportStatus is one provider status of an outbound message.
type exportStatus struct {
	Status    string    `json:"status"`
	Time      time.Time `json:"time"`
	ErrorCode int       `json:"error_code,omitempty"`
}

type exportConsent struct {
	Time          time.Time `json:"time"`
	Purpose       string    `json:"purpose"`
	Action        string    `json:"action"`
	Method        string    `json:"method"`
	PolicyVersion string    `json:"policy_version"`
	// NoticeSHA256 names the notice shown (GET /v1/notices/{id}).
	NoticeSHA256 string `json:"notice_sha256,omitempty"`
	Actor        string `json:"actor"`
	// ExpiresAt is a pending grant's deadline; Confirmed marks a grant
	// that confirms a pending one (double opt-in). The export shows no
	// ledger ids, so it does not name which.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Confirmed bool       `json:"confirmed,omitempty"`
}

// exportIdentifier is one identifier of the person: kind phone, user_id,
// parent_user_id or username.
type exportIdentifier struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type exportErasure struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	RequestedAt time.Time `json:"requested_at"`
	DueBy       time.Time `json:"due_by"`
}

type exportDoc struct {
	Format      string          `json:"format"`
	GeneratedAt time.Time       `json:"generated_at"`
	Messages    []exportMessage `json:"messages"`
	Consents    []exportConsent `json:"consents"`
	Suppression struct {
		Purposes []string `json:"purposes"`
		Erased   bool     `json:"erased"`
	} `json:"suppression"`
	ErasureRequests []exportErasure `json:"erasure_requests"`
	// Identifiers lists every identifier held for the person (first page
	// only).
	Identifiers []exportIdentifier `json:"identifiers,omitempty"`
	NextCursor  string             `json:"next_cursor,omitempty"`
}

// newExportDoc is an empty export generated at now: every list present
// and empty, so that a person never seen gets the same document as one
// with nothing stored.
func newExportDoc(now time.Time) exportDoc {
	doc := exportDoc{Format: ExportFormat, GeneratedAt: now.UTC(), Messages: []exportMessage{}, Consents: []exportConsent{},
		ErasureRequests: []exportErasure{}}
	doc.Suppression.Purposes = []string{}
	return doc
}

// pageFull reports whether a page holding n messages that take used bytes
// on the wire is full before one more of size bytes: at exportPage
// messages, or when the message would take the page past
// [httpapi.PageBudget]. A page always holds at least one message.
func pageFull(n, used, size int) bool {
	return n == exportPage || (n > 0 && used+size > httpapi.PageBudget)
}

// toExportMessage is stored message m as exported, with its status
// history hist (oldest first).
func toExportMessage(m store.Message, hist []store.StatusEntry) exportMessage {
	em := exportMessage{ID: m.ID, Direction: m.Direction, Type: m.Type,
		Purpose: m.Class, Status: m.Status, ErrorCode: m.ErrorCode, Time: m.At, Phone: m.Content.Phone,
		UserID: m.Content.UserID, Username: m.Content.Username,
		ProviderMessageID: m.Content.ProviderID, ProfileName: m.Content.ProfileName, Body: string(m.Content.Body)}
	for _, s := range hist {
		em.Statuses = append(em.Statuses, exportStatus{Status: s.Status, Time: s.At, ErrorCode: s.ErrorCode})
	}
	return em
}

// exportConsents is the consent ledger as exported, oldest first; never
// nil.
func exportConsents(ledger []store.ConsentEvent) []exportConsent {
	out := make([]exportConsent, 0, len(ledger))
	for _, ev := range ledger {
		c := exportConsent{Time: ev.At, Purpose: ev.Purpose, Action: ev.Action, Method: ev.Method,
			PolicyVersion: ev.PolicyVersion, NoticeSHA256: ev.NoticeSHA256, Actor: ev.Actor, Confirmed: ev.Confirms != ""}
		if !ev.ConfirmBy.IsZero() {
			at := ev.ConfirmBy
			c.ExpiresAt = &at
		}
		out = append(out, c)
	}
	return out
}

// suppressedPurposes lists the purposes of a suppression map, sorted;
// never nil.
func suppressedPurposes(suppressed map[string]string) []string {
	out := make([]string, 0, len(suppressed))
	for purpose := range suppressed {
		out = append(out, purpose)
	}
	sort.Strings(out)
	return out
}

// exportErasureOf is erasure request r as exported.
func exportErasureOf(r store.ErasureRequest) exportErasure {
	return exportErasure{ID: r.ID, Status: r.Status, RequestedAt: r.RequestedAt, DueBy: r.DueBy}
}

// exportIdentifiersOf lists the identifiers attached to a subject, then
// its usernames; never nil.
func exportIdentifiersOf(ids []store.Identifier, usernames []string) []exportIdentifier {
	out := make([]exportIdentifier, 0, len(ids)+len(usernames))
	for _, id := range ids {
		out = append(out, exportIdentifier{Kind: string(id.Kind), Value: id.Value})
	}
	for _, u := range usernames {
		out = append(out, exportIdentifier{Kind: "username", Value: u})
	}
	return out
}

// exportEvent is the data_export audit event of one page of n messages
// for the subject with pseudonym, by client.
func exportEvent(pseudonym, client, requestID string, n int) audit.Event {
	return audit.Event{Type: audit.EventDataExport, Subject: pseudonym, Actor: audit.Actor{Caller: client},
		RequestID: requestID, Details: map[string]string{"format": ExportFormat, "page_messages": strconv.Itoa(n)}}
}

// cursor is where an export page goes on: a partition of the subject
// (0 its own, then its members in order) and the last message key read
// there. On the wire it is "msg#…" for the subject's own partition (as
// before subjects had members) and "<partition>|msg#…" for the others.
type cursor struct {
	part int
	sk   string
}

func parseCursor(s string) (cursor, error) {
	if s == "" || strings.HasPrefix(s, "msg#") {
		return cursor{sk: s}, nil
	}
	p, sk, ok := strings.Cut(s, "|")
	n, err := strconv.Atoi(p)
	if !ok || err != nil || n < 1 || n > 99 || !strings.HasPrefix(sk, "msg#") {
		return cursor{}, errors.New("malformed cursor")
	}
	return cursor{part: n, sk: sk}, nil
}

func (c cursor) String() string {
	if c.part == 0 {
		return c.sk
	}
	return strconv.Itoa(c.part) + "|" + c.sk
}
