package apiauth

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/waguard/waguard/shared/secrets"
)

// Scope is a permission granted to an API client. The zero value is
// [ScopeUnknown] and grants nothing.
type Scope uint8

// Scopes, named in client secrets by their [Scope.String] form.
const (
	ScopeUnknown        Scope = iota // invalid; never granted
	ScopeMessagesSend                // messages:send
	ScopeConsentsWrite               // consents:write
	ScopeConsentsRead                // consents:read
	ScopeSubjectsErase               // subjects:erase
	ScopeSubjectsExport              // subjects:export
	ScopeMessagesRead                // messages:read
	ScopeEventsManage                // events:manage
)

var scopeNames = [...]string{
	ScopeUnknown:        "unknown",
	ScopeMessagesSend:   "messages:send",
	ScopeConsentsWrite:  "consents:write",
	ScopeConsentsRead:   "consents:read",
	ScopeSubjectsErase:  "subjects:erase",
	ScopeSubjectsExport: "subjects:export",
	ScopeMessagesRead:   "messages:read",
	ScopeEventsManage:   "events:manage",
}

// String returns the scope's name as written in client secrets, or
// "unknown".
func (s Scope) String() string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return scopeNames[ScopeUnknown]
}

// parseScope returns the scope named name, or ScopeUnknown.
func parseScope(name string) Scope {
	for s := ScopeMessagesSend; int(s) < len(scopeNames); s++ {
		if scopeNames[s] == name {
			return s
		}
	}
	return ScopeUnknown
}

// Stages a key matched in, as reported by [Principal.KeyVersion].
const (
	KeyVersionCurrent  = "current"  // AWSCURRENT
	KeyVersionPending  = "pending"  // AWSPENDING, during a rotation
	KeyVersionPrevious = "previous" // AWSPREVIOUS, within the overlap
)

// Principal is an authenticated API client. It holds nothing secret, and
// prints and logs only its client ID and scopes.
type Principal struct {
	// ClientID is the client's ID, from its key and its secret's name.
	ClientID string
	// Scopes are the known scopes the client's secret grants, without
	// duplicates, in the secret's order.
	Scopes []Scope
	// KeyVersion is the stage the key matched in: [KeyVersionCurrent],
	// [KeyVersionPending] or [KeyVersionPrevious]. It is not secret; log it
	// to see when clients have moved to a rotated key.
	KeyVersion string
}

// Can reports whether p was granted scope. It is false for [ScopeUnknown]
// and for the zero Principal.
func (p Principal) Can(scope Scope) bool {
	return scope != ScopeUnknown && slices.Contains(p.Scopes, scope)
}

// String returns the client ID and scopes.
func (p Principal) String() string {
	names := make([]string, len(p.Scopes))
	for i, s := range p.Scopes {
		names[i] = s.String()
	}
	return "apiauth.Principal{client " + p.ClientID + ", scopes [" + strings.Join(names, " ") + "]}"
}

// Format writes [Principal.String] for every verb.
func (p Principal) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue implements slog.LogValuer with the client ID and scopes.
func (p Principal) LogValue() slog.Value {
	names := make([]string, len(p.Scopes))
	for i, s := range p.Scopes {
		names[i] = s.String()
	}
	return slog.GroupValue(slog.String("client_id", p.ClientID), slog.Any("scopes", names))
}

// clientScopes checks that f is the api-client secret of clientID and
// returns the known scopes it grants; unknown scope names are ignored.
func clientScopes(f secrets.Fields, clientID string) ([]Scope, error) {
	var kind, id string
	var names []string
	if f.Decode("kind", &kind) != nil || kind != "api-client" {
		return nil, errors.New("secret kind is not api-client")
	}
	if f.Decode("client_id", &id) != nil || id != clientID {
		return nil, errors.New("secret client_id does not match its name")
	}
	if f.Decode("scopes", &names) != nil {
		return nil, errors.New("secret scopes are not a list of strings")
	}
	scopes := []Scope{}
	for _, n := range names {
		if s := parseScope(n); s != ScopeUnknown && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes, nil
}
