package redact

import (
	"context"
	"log/slog"
)

// APIRequestIDKey is the attribute key of the API Gateway request id, as
// the functions' summary lines have always carried it.
const APIRequestIDKey = "request_id"

type apiRequestIDKey struct{}

// WithAPIRequestID returns ctx carrying the API Gateway request id of the
// request being served: the loggers of this package add it as
// request_id to every line logged with that ctx (or one derived from it),
// next to the Lambda requestId, unless the line sets request_id itself.
// An empty id leaves ctx as it is.
func WithAPIRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, apiRequestIDKey{}, id)
}

// APIRequestID returns the API Gateway request id ctx carries, if any.
func APIRequestID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(apiRequestIDKey{}).(string)
	return id, ok
}

// apiRequestIDHandler adds request_id from the context before the
// redacting handler sees the record, so the id is scanned like any other
// value (a well-formed id keeps its value: docs of this package,
// Identifiers).
type apiRequestIDHandler struct{ slog.Handler }

// Handle adds request_id when ctx carries one and r has none.
func (h apiRequestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := APIRequestID(ctx); ok && !hasAttr(r, APIRequestIDKey) {
		r = r.Clone()
		r.AddAttrs(slog.String(APIRequestIDKey, id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs returns an apiRequestIDHandler over the wrapped handler's.
func (h apiRequestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return apiRequestIDHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup returns an apiRequestIDHandler over the wrapped handler's.
func (h apiRequestIDHandler) WithGroup(name string) slog.Handler {
	return apiRequestIDHandler{h.Handler.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
