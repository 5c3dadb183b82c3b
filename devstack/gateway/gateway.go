// Package gateway is a local stand-in for Amazon API Gateway HTTP APIs: it
// serves the routes read from template.yaml, turns each HTTP request into
// an API Gateway HTTP API event (payload format 2.0) and writes back the
// function's response, as `sam local start-api` does.
//
// # Faithful
//
// Routes match by method and path template ({id}, {proxy+}); unmatched
// requests get API Gateway's 404 {"message":"Not Found"}; headers are
// lower-cased and repeated values joined with commas; bodies that are not
// text are base64-encoded with isBase64Encoded set; the request context
// carries the source IP (the TCP peer, never X-Forwarded-For), a request id
// shaped like API Gateway's (15 letters and digits and '=', such as
// "JKJaXmPLvHcESHA=") that the response returns in its apigw-requestid
// header, and the route key; function errors become 500 {"message":"Internal
// Server Error"}; integration timeouts become 503 after 30 s; requests over
// 10 MB get 413.
//
// # Not emulated
//
// Throttling, authorizers, CORS, custom domains and access logs.
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// MaxRequestBytes is API Gateway's largest HTTP API request payload.
const MaxRequestBytes = 10 << 20

// IntegrationTimeout is API Gateway HTTP API's integration time limit.
const IntegrationTimeout = 30 * time.Second

// Route sends one method and path template to a function.
type Route struct {
	Method, Path, Function string
}

// invoker runs a function once; *lambdapool.Pool satisfies it.
type invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) ([]byte, error)
}

// Gateway is an http.Handler serving the template's routes.
type Gateway struct {
	routes []Route
	inv    invoker
	local  bool
	// Log, when set, records why an integration failed (the client only
	// sees API Gateway's generic 500 or 503): the route, the function and
	// the pool's error, never the request.
	Log *slog.Logger
}

// New returns a gateway for routes. With localRoutes it also serves
// POST /_local/invoke/{function}, which passes the raw body to a function
// as its event (how schedules are run on demand), and GET /_local/health.
func New(routes []Route, inv invoker, localRoutes bool) *Gateway {
	return &Gateway{routes: routes, inv: inv, local: localRoutes}
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.local && strings.HasPrefix(r.URL.Path, "/_local/") {
		g.serveLocal(w, r)
		return
	}
	route, params, ok := g.match(r.Method, r.URL.EscapedPath())
	if !ok {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > MaxRequestBytes {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	event := buildEvent(r, route, params, body)
	w.Header().Set("Apigw-Requestid", event.RequestContext.RequestID)
	payload, err := json.Marshal(event)
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), IntegrationTimeout)
	defer cancel()
	out, err := g.inv.Invoke(ctx, route.Function, payload)
	if err != nil && g.Log != nil {
		g.Log.Error("integration failed", "route", route.Method+" "+route.Path, "function", route.Function, "err", err)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		writeMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
	case err != nil:
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	default:
		writeResponse(w, out)
	}
}

// instanceCounter is the optional pool capability the health route reports.
type instanceCounter interface {
	Instances(function string) int
}

func (g *Gateway) serveLocal(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/_local/health" {
		health := map[string]any{"status": "ok"}
		if ic, ok := g.inv.(instanceCounter); ok {
			counts := map[string]int{}
			for _, rt := range g.routes {
				counts[rt.Function] = ic.Instances(rt.Function)
			}
			health["instances"] = counts
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(health)
		return
	}
	fn, ok := strings.CutPrefix(r.URL.Path, "/_local/invoke/")
	if r.Method != http.MethodPost || !ok || fn == "" {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	if !strings.HasSuffix(fn, "Function") { // "retention" names RetentionFunction
		fn = strings.ToUpper(fn[:1]) + fn[1:] + "Function"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes))
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	out, err := g.inv.Invoke(r.Context(), fn, body)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "invoke failed"})
		return
	}
	_, _ = w.Write(out)
}

// buildEvent makes the payload format 2.0 event API Gateway would send.
func buildEvent(r *http.Request, route Route, params map[string]string, body []byte) events.APIGatewayV2HTTPRequest {
	now := time.Now().UTC()
	routeKey := route.Method + " " + route.Path
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	var cookies []string
	if c, ok := headers["cookie"]; ok {
		cookies = strings.Split(c, "; ")
		delete(headers, "cookie")
	}
	var query map[string]string
	if qs := r.URL.Query(); len(qs) > 0 {
		query = map[string]string{}
		for k, v := range qs {
			query[k] = strings.Join(v, ",")
		}
	}
	sourceIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "111122223333",
			Stage:        "$default",
			RequestID:    requestID(),
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: strings.Split(r.Host, ".")[0],
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(headers["content-type"], body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// isText reports whether API Gateway would pass the body as text.
func isText(contentType string, body []byte) bool {
	ct := strings.ToLower(contentType)
	textual := strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
		strings.Contains(ct, "xml") || strings.Contains(ct, "x-www-form-urlencoded") || ct == ""
	return textual && utf8.Valid(body)
}

// writeResponse interprets a payload format 2.0 response: with a
// statusCode it is a full response; without one, the whole document is a
// 200 JSON body.
func writeResponse(w http.ResponseWriter, out []byte) {
	var resp events.APIGatewayV2HTTPResponse
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
		return
	}
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode < 100 || resp.StatusCode > 599 {
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		dec, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		body = dec
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// requestID returns a request id shaped like an HTTP API's: 15 random
// letters and digits and '='.
func requestID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [16]byte
	_, _ = rand.Read(b[:15])
	for i := range 15 {
		b[i] = alphabet[int(b[i])%len(alphabet)] // slightly uneven; only distinctness matters
	}
	b[15] = '='
	return string(b[:])
}
