package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults applied by [New] to empty [Options] fields. The numbers are
// synthetic (Ofcom's drama range).
const (
	DefaultPhoneNumberID      = "100000000000001"
	DefaultDisplayPhoneNumber = "447700900001"
	DefaultBusinessAccountID  = "100000000000002"
	defaultClientTimeout      = 10 * time.Second
)

// Options configures a [Sandbox]. Every field is optional.
type Options struct {
	// AccessTokens is the initial set of accepted bearer tokens; replace
	// it later with [Sandbox.SetTokens].
	AccessTokens []string
	// TokenSource, when set, is called on every request and the tokens it
	// returns are accepted too, so a stack can serve tokens straight from
	// a secrets store. It must be safe for concurrent use.
	TokenSource func() []string
	// AppSecret keys the webhook signatures; see [Sandbox.SetAppSecret].
	AppSecret string
	// WebhookURL receives the signed deliveries.
	WebhookURL string
	// PhoneNumberID is the business phone number id the messages endpoint
	// serves; sends to any other id fail as they do on Graph.
	PhoneNumberID string
	// DisplayPhoneNumber is the business number shown in webhook metadata.
	DisplayPhoneNumber string
	// BusinessAccountID is the WhatsApp Business Account id (entry[].id).
	BusinessAccountID string
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// Client delivers webhooks; defaults to a client with a 10 s timeout.
	Client *http.Client
	// RapidAPIHost, when set, makes the sandbox play a RapidAPI-style
	// proxy of the Cloud API instead of Graph itself: a send authenticates
	// with X-RapidAPI-Key (an accepted token) and X-RapidAPI-Host (this
	// value), and a request without them, such as one with an
	// Authorization bearer, is refused the way the proxy refuses it
	// (401 or 403 with {"message":...}, not Graph's error). Everything
	// else is Graph's.
	RapidAPIHost string
	// EndpointSecrets are the whsec_ secrets the receiving endpoint
	// (POST /_sandbox/endpoint) verifies deliveries with; replace them
	// later with [Sandbox.SetEndpointSecrets].
	EndpointSecrets []string
	// EndpointSecretSource, when set, is called on every delivery and the
	// secrets it returns verify too, so a stack can serve them straight
	// from a secrets store (and follow a rotation). It must be safe for
	// concurrent use.
	EndpointSecretSource func() []string
}

// Sandbox is a loopback stand-in for the WhatsApp Cloud API. It is an
// [http.Handler] and is safe for concurrent use.
type Sandbox struct {
	opts  Options
	mux   *http.ServeMux
	store store

	mu        sync.RWMutex
	tokens    []string
	appSecret string
	accepted  map[string]bool // fingerprints of tokens accepted so far

	recv endpointReceiver // the receiving endpoint
}

var _ http.Handler = (*Sandbox)(nil)

// New returns a sandbox configured by opts.
func New(opts Options) *Sandbox {
	if opts.PhoneNumberID == "" {
		opts.PhoneNumberID = DefaultPhoneNumberID
	}
	if opts.DisplayPhoneNumber == "" {
		opts.DisplayPhoneNumber = DefaultDisplayPhoneNumber
	}
	if opts.BusinessAccountID == "" {
		opts.BusinessAccountID = DefaultBusinessAccountID
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: defaultClientTimeout}
	}
	s := &Sandbox{opts: opts, accepted: map[string]bool{}}
	s.SetTokens(opts.AccessTokens)
	s.SetAppSecret(opts.AppSecret)
	s.SetEndpointSecrets(opts.EndpointSecrets...)
	s.mux = s.routes()
	return s
}

// routes registers the Graph route and the sandbox-only routes.
func (s *Sandbox) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /{version}/{phoneNumberID}/messages", s.handleSend)
	m.HandleFunc("GET /_sandbox/health", s.handleHealth)
	m.HandleFunc("GET /_sandbox/messages", s.handleListMessages)
	m.HandleFunc("DELETE /_sandbox/messages", s.handleClearMessages)
	m.HandleFunc("GET /_sandbox/faults", s.handleListFaults)
	m.HandleFunc("POST /_sandbox/faults", s.handleAddFault)
	m.HandleFunc("DELETE /_sandbox/faults", s.handleClearFaults)
	m.HandleFunc("PUT /_sandbox/credentials", s.handleCredentials)
	m.HandleFunc("POST /_sandbox/deliver", s.handleDeliver)
	m.HandleFunc("POST "+EndpointPath, s.handleEndpoint)
	m.HandleFunc("GET /_sandbox/deliveries", s.handleListDeliveries)
	m.HandleFunc("DELETE /_sandbox/deliveries", s.handleClearDeliveries)
	m.HandleFunc("GET "+EndpointPath+"/faults", s.handleListEndpointFaults)
	m.HandleFunc("POST "+EndpointPath+"/faults", s.handleAddEndpointFault)
	m.HandleFunc("DELETE "+EndpointPath+"/faults", s.handleClearEndpointFaults)
	return m
}

// ServeHTTP routes r to the messages endpoint or a sandbox route.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// SetTokens replaces the accepted bearer tokens. A token that was
// accepted before and is no longer in the set is answered as expired
// (code 190, subcode 463), as Meta does for a revoked token.
func (s *Sandbox) SetTokens(tokens []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = slices.DeleteFunc(slices.Clone(tokens), func(t string) bool { return t == "" })
}

// SetAppSecret replaces the secret that signs webhook deliveries.
func (s *Sandbox) SetAppSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appSecret = secret
}

// Messages returns the accepted calls, oldest first.
func (s *Sandbox) Messages() []Record { return s.store.list() }

// ResetMessages forgets the accepted calls.
func (s *Sandbox) ResetMessages() { s.store.clear() }

// InjectFault queues f behind any faults already queued. It returns
// [ErrBadFault] for values out of range.
func (s *Sandbox) InjectFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.store.pushFault(f)
	return nil
}

// Faults returns the queued faults with their remaining counts.
func (s *Sandbox) Faults() []Fault { return s.store.listFaults() }

// ClearFaults drops every queued fault.
func (s *Sandbox) ClearFaults() { s.store.clearFaults() }

// Business returns the business identity used in webhook metadata.
func (s *Sandbox) Business() Business {
	return Business{
		AccountID:          s.opts.BusinessAccountID,
		PhoneNumberID:      s.opts.PhoneNumberID,
		DisplayPhoneNumber: s.opts.DisplayPhoneNumber,
	}
}

// Fingerprint identifies a token without revealing it: the first 8 hex
// characters of its SHA-256.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

// authenticate checks the credentials of r, the Graph way or, with
// [Options.RapidAPIHost], the RapidAPI way, and returns the token's
// fingerprint. When it refuses r it writes the answer and returns false.
func (s *Sandbox) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if s.opts.RapidAPIHost == "" {
		fp, apiErr := s.authorize(r)
		if apiErr != nil {
			w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token" "`+apiErr.Message+`"`)
			writeAPIError(w, apiErr)
			return "", false
		}
		return fp, true
	}
	key := r.Header.Get("X-RapidAPI-Key")
	switch {
	case key == "" || !s.tokenAccepted(key):
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid API key."})
		return "", false
	case r.Header.Get("X-RapidAPI-Host") != s.opts.RapidAPIHost:
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "You are not subscribed to this API."})
		return "", false
	}
	return Fingerprint(key), true
}

// authorize checks the bearer token of r and returns its fingerprint.
func (s *Sandbox) authorize(r *http.Request) (string, *APIError) {
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return "", tokenError("An access token is required to request this resource.", 0)
	}
	fp := Fingerprint(token)
	if s.tokenAccepted(token) {
		s.mu.Lock()
		s.accepted[fp] = true
		s.mu.Unlock()
		return fp, nil
	}
	s.mu.RLock()
	retired := s.accepted[fp]
	s.mu.RUnlock()
	if retired {
		return "", tokenError("Error validating access token: Session has expired.", SubcodeSessionExpired)
	}
	return "", tokenError("Invalid OAuth access token - Cannot parse access token", 0)
}

// tokenAccepted compares token with every accepted token in constant time.
func (s *Sandbox) tokenAccepted(token string) bool {
	s.mu.RLock()
	valid := slices.Clone(s.tokens)
	s.mu.RUnlock()
	if s.opts.TokenSource != nil {
		valid = append(valid, s.opts.TokenSource()...)
	}
	match := 0
	for _, v := range valid {
		if v != "" {
			match |= subtle.ConstantTimeCompare([]byte(v), []byte(token))
		}
	}
	return match == 1
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// secret returns the current app secret.
func (s *Sandbox) secret() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.appSecret
}
