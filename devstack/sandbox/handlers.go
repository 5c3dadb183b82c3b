package sandbox

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// maxBodyBytes bounds every request body the sandbox reads.
const maxBodyBytes = 1 << 20

// graphVersion matches a Graph API version path segment such as v21.0.
var graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,2}$`)

// sendResponse is the Cloud API answer to an accepted send.
type sendResponse struct {
	MessagingProduct string        `json:"messaging_product"`
	Contacts         []sendContact `json:"contacts"`
	Messages         []sendMessage `json:"messages"`
}

type sendContact struct {
	Input  string `json:"input"`
	WAID   string `json:"wa_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
}

type sendMessage struct {
	ID string `json:"id"`
}

// handleSend serves POST /{version}/{phone-number-id}/messages.
func (s *Sandbox) handleSend(w http.ResponseWriter, r *http.Request) {
	fp, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	version, phoneID := r.PathValue("version"), r.PathValue("phoneNumberID")
	if apiErr := s.checkPath(version, phoneID); apiErr != nil {
		writeAPIError(w, apiErr)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeAPIError(w, paramError("Invalid parameter"))
		return
	}
	req, err := ParseSendRequest(body)
	if err != nil {
		writeAPIError(w, asAPIError(err))
		return
	}
	rec := Record{Time: s.opts.Now(), Version: version, PhoneNumberID: phoneID,
		TokenFingerprint: fp, Request: json.RawMessage(body)}
	f, faulted := s.store.takeFault(req.Addressee())
	if faulted && !delay(r, f) {
		return // the client is gone
	}
	if !faulted || !f.fails() {
		s.accept(w, req, rec)
		return
	}
	if f.Accept {
		s.record(req, rec)
	}
	writeFault(w, f)
}

// checkPath rejects an unknown Graph version or phone number id.
func (s *Sandbox) checkPath(version, phoneID string) *APIError {
	if !graphVersion.MatchString(version) {
		e := paramError("Unknown path components")
		e.Message = "Unknown path components: /" + clip(version)
		e.Code = 2500
		return e
	}
	if phoneID != s.opts.PhoneNumberID {
		return unknownObjectError(clip(phoneID))
	}
	return nil
}

// delay waits the fault's delay. It returns false when the client went
// away meanwhile.
func delay(r *http.Request, f Fault) bool {
	if f.DelayMS <= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// writeFault writes a failing fault's answer: Graph's error, or a
// gateway's empty or HTML answer.
func writeFault(w http.ResponseWriter, f Fault) {
	switch f.Body {
	case BodyNone:
		w.WriteHeader(f.Status)
	case BodyHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.Status)
		t := strconv.Itoa(f.Status) + " " + http.StatusText(f.Status)
		_, _ = io.WriteString(w, "<html>\r\n<head><title>"+t+"</title></head>\r\n<body>\r\n<center><h1>"+t+"</h1></center>\r\n</body>\r\n</html>\r\n")
	default:
		writeAPIError(w, f.apiError())
	}
}

// accept records an accepted call and writes Meta's answer.
func (s *Sandbox) accept(w http.ResponseWriter, req *SendRequest, rec Record) {
	rec = s.record(req, rec)
	if rec.Kind == kindRead {
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}
	writeJSON(w, http.StatusOK, sendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []sendContact{{Input: req.Addressee(), WAID: rec.WAID, UserID: rec.UserID}},
		Messages:         []sendMessage{{ID: rec.WAMID}},
	})
}

// record keeps an accepted call, issuing a send its wamid.
func (s *Sandbox) record(req *SendRequest, rec Record) Record {
	if req.IsMarkRead() {
		rec.Kind = kindRead
		return s.store.add(rec)
	}
	rec.Kind = kindMessage
	rec.WAID, rec.UserID, rec.CallbackData = req.WAID(), req.UserID(), req.CallbackData
	rec.WAMID = NewWAMID(cmp.Or(rec.WAID, rec.UserID), true)
	return s.store.add(rec)
}

// handleHealth serves GET /_sandbox/health.
func (s *Sandbox) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// handleListMessages serves GET /_sandbox/messages.
func (s *Sandbox) handleListMessages(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Messages())
}

// handleClearMessages serves DELETE /_sandbox/messages.
func (s *Sandbox) handleClearMessages(w http.ResponseWriter, _ *http.Request) {
	s.ResetMessages()
	w.WriteHeader(http.StatusNoContent)
}

// handleListFaults serves GET /_sandbox/faults.
func (s *Sandbox) handleListFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Faults())
}

// handleAddFault serves POST /_sandbox/faults.
func (s *Sandbox) handleAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := decodeAdmin(w, r, &f); err != nil {
		writeAdminError(w, http.StatusBadRequest, "fault: "+err.Error())
		return
	}
	if err := s.InjectFault(f); err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, s.Faults())
}

// handleClearFaults serves DELETE /_sandbox/faults.
func (s *Sandbox) handleClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

// credentials is the body of PUT /_sandbox/credentials; an omitted
// field leaves the current value unchanged.
type credentials struct {
	AccessTokens    *[]string `json:"access_tokens"`
	AppSecret       *string   `json:"app_secret"`
	EndpointSecrets *[]string `json:"endpoint_secrets"`
}

// handleCredentials serves PUT /_sandbox/credentials, which lets a stack
// push rotated secrets into a running sandbox.
func (s *Sandbox) handleCredentials(w http.ResponseWriter, r *http.Request) {
	var c credentials
	if err := decodeAdmin(w, r, &c); err != nil {
		writeAdminError(w, http.StatusBadRequest, "credentials: "+err.Error())
		return
	}
	if c.AccessTokens != nil {
		s.SetTokens(*c.AccessTokens)
	}
	if c.AppSecret != nil {
		s.SetAppSecret(*c.AppSecret)
	}
	if c.EndpointSecrets != nil {
		s.SetEndpointSecrets(*c.EndpointSecrets...)
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeAdmin decodes a sandbox-route body strictly into v. The error
// text is encoding/json's, which names fields and types but not values.
func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return errors.New("malformed json")
		}
		return err
	}
	return nil
}

// asAPIError returns err as an *APIError, or a generic 500 one.
func asAPIError(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return NewAPIError(http.StatusInternalServerError, CodeSomethingWrong, "")
}

// writeAPIError writes e in Graph's {"error": {...}} envelope.
func writeAPIError(w http.ResponseWriter, e *APIError) {
	w.Header().Set("X-FB-Trace-ID", e.FBTraceID)
	writeJSON(w, e.HTTPStatus, errorBody{Error: e})
}

// writeAdminError writes a sandbox-route error.
func writeAdminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// writeJSON writes v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // The client may be gone; nothing to do.
}
