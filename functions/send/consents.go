package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/httpapi"
	"github.com/waguard/waguard/shared/ids"
	"github.com/waguard/waguard/shared/notice"
	"github.com/waguard/waguard/shared/store"
)

var errSubjectErased = &httpapi.Problem{Status: 409, Code: "subject_erased", Message: "the number was erased; record a grant to consent afresh"}

// consentRequest is the body of POST /v1/consents.
type consentRequest struct {
	// Phone or UserID (a business-scoped user id): exactly one.
	Phone         string `json:"phone,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	Purpose       string `json:"purpose"`
	Action        string `json:"action"`
	Method        string `json:"method"`
	PolicyVersion string `json:"policy_version,omitempty"`
	// Notice is the exact text shown to the person (shared/notice).
	Notice   string `json:"notice,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// Confirm "whatsapp" asks the person to confirm a grant on WhatsApp
	// first (double opt-in): the grant is recorded as pending.
	Confirm string `json:"confirm,omitempty"`
}

// validConsent is the rule for a consent body (docs/api.md): a known
// purpose and action, a method, an optional policy version and notice
// that are well formed, evidence within 4 KB. A grant must record what the
// person agreed to, a notice or a policy version or both, or it could not
// be demonstrated (Art. 7(1)); a revoke needs neither, as withdrawing must
// be as easy as giving consent (Art. 7(3)). Only a grant may ask for a
// confirmation ("confirm": "whatsapp"): a withdrawal takes effect at once.
func validConsent(r consentRequest) bool {
	if !purposes[r.Purpose] || !token(r.Method, 64) || len(r.Evidence) > 4096 ||
		(r.PolicyVersion != "" && !token(r.PolicyVersion, 64)) || (r.Notice != "" && !notice.ValidText(r.Notice)) ||
		(r.Confirm != "" && (r.Confirm != confirmWhatsApp || r.Action != store.ActionGrant)) {
		return false
	}
	switch r.Action {
	case store.ActionGrant:
		return r.PolicyVersion != "" || r.Notice != ""
	case store.ActionRevoke:
		return true
	}
	return false
}

// postConsent appends a grant or revoke to the subject's ledger. A grant
// lifts the purpose's suppression; a grant after an erasure is the fresh
// consent record that lifts the erasure suppression too. A revoke leaves
// suppression alone, so a later send answers consent_required.
func (h *Handler) postConsent(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	var r consentRequest
	if err := httpapi.Decode(body, &r); err != nil || !validConsent(r) {
		return httpapi.Response{}, errInvalidRequest
	}
	who, err := parseWho(r.Phone, r.UserID)
	if err != nil {
		return httpapi.Response{}, err
	}
	if r.Confirm != "" {
		return h.requestConsent(ctx, req, p, r, who)
	}
	sub, err := h.Subjects.Find(ctx, who)
	if err != nil {
		return httpapi.Response{}, err
	}
	subject, pseudonym := sub.Key, sub.Pseudonym
	id := ids.New("cev_")
	ev := store.ConsentEvent{ID: id, Purpose: r.Purpose, Action: r.Action, Method: r.Method, PolicyVersion: r.PolicyVersion,
		Actor: p.ClientID, At: h.now()}
	if r.Notice != "" {
		ev.Notice, ev.NoticeSHA256 = r.Notice, notice.ID(r.Notice)
	}
	if r.Evidence != "" {
		ev.Evidence = []byte(r.Evidence)
	}
	change := store.SuppressionKeep
	if r.Action == store.ActionGrant {
		change = store.SuppressionLift
	}
	u := store.Unit{
		Audit:  []audit.Event{store.ConsentAudit(ev, pseudonym, audit.Actor{Caller: p.ClientID}, req.RequestContext.RequestID)},
		Events: []store.EventRecord{store.ConsentRecord(subject, ev, ev.At)},
	}
	if r.Action == store.ActionGrant {
		u.Items = append(u.Items, h.Store.LiftErasure(subject))
	}
	err = h.Store.RecordConsent(ctx, subject, ev, change, "", u)
	if errors.Is(err, store.ErrErased) {
		// Nothing is kept about an erased number but its suppression, so a
		// revoke has nothing to revoke and must not recreate a partition.
		return httpapi.Response{}, errSubjectErased
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusCreated, map[string]string{"id": id}), nil
}

// queryConsents answers the current state per purpose and the ledger.
func (h *Handler) queryConsents(ctx context.Context, req events.APIGatewayV2HTTPRequest, p apiauth.Principal, body []byte) (httpapi.Response, error) {
	var r struct {
		Phone  string `json:"phone,omitempty"`
		UserID string `json:"user_id,omitempty"`
	}
	if err := httpapi.Decode(body, &r); err != nil {
		return httpapi.Response{}, errInvalidRequest
	}
	who, err := parseWho(r.Phone, r.UserID)
	if err != nil {
		return httpapi.Response{}, err
	}
	sub, err := h.Subjects.Find(ctx, who)
	if err != nil {
		return httpapi.Response{}, err
	}
	prof, err := h.Store.Profile(ctx, sub.Key)
	if err != nil {
		return httpapi.Response{}, err
	}
	type state struct {
		State      string `json:"state"`
		Suppressed bool   `json:"suppressed"`
	}
	type entry struct {
		ID            string    `json:"id"`
		Time          time.Time `json:"time"`
		Purpose       string    `json:"purpose"`
		Action        string    `json:"action"`
		Method        string    `json:"method"`
		PolicyVersion string    `json:"policy_version"`
		NoticeSHA256  string    `json:"notice_sha256,omitempty"`
		Actor         string    `json:"actor"`
		// ExpiresAt is a pending grant's deadline; Confirms the pending
		// grant a grant confirms.
		ExpiresAt *time.Time `json:"expires_at,omitempty"`
		Confirms  string     `json:"confirms,omitempty"`
	}
	out := struct {
		Purposes map[string]state `json:"purposes"`
		Ledger   []entry          `json:"ledger"`
		Erased   bool             `json:"erased"`
	}{Purposes: map[string]state{}, Ledger: []entry{}, Erased: prof.Erased}
	for purpose := range purposes {
		_, supp := prof.Suppressed[purpose]
		out.Purposes[purpose] = state{State: prof.State(purpose), Suppressed: supp || prof.Erased}
	}
	for _, ev := range prof.Ledger {
		e := entry{ID: ev.ID, Time: ev.At, Purpose: ev.Purpose, Action: ev.Action, Method: ev.Method,
			PolicyVersion: ev.PolicyVersion, NoticeSHA256: ev.NoticeSHA256, Actor: ev.Actor, Confirms: ev.Confirms}
		if !ev.ConfirmBy.IsZero() {
			e.ExpiresAt = &ev.ConfirmBy
		}
		out.Ledger = append(out.Ledger, e)
	}
	// The ledger is the person's data: who read it is audited before it
	// is answered, or it is not answered.
	if _, err := h.Audit.Append(ctx, audit.DataAccess(p.ClientID, sub.Pseudonym, req.RequestContext.RequestID, req.RouteKey,
		len(out.Ledger), nil)); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

// token reports whether s is 1..max printable ASCII without spaces.
func token(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
