package secretsmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults for [Options] fields left empty.
const (
	// DefaultRegion is the region of a Server whose Options.Region is empty.
	DefaultRegion = "us-east-1"
	// DefaultAccountID is the account of a Server whose Options.AccountID is
	// empty.
	DefaultAccountID = "000000000000"
)

// maxBodyBytes bounds a request body. AWS allows 64 KiB secret values, which
// base64 and JSON escaping can nearly triple.
const maxBodyBytes = 1 << 20

// Invoker calls a rotation Lambda function on behalf of RotateSecret.
type Invoker interface {
	// Invoke runs the function named by functionARN with payload, a JSON
	// rotation event, and waits for it to finish. It returns a non-nil error
	// if the function could not be invoked or reported an error. It must
	// return when ctx is done.
	Invoke(ctx context.Context, functionARN string, payload []byte) error
}

// InvokerFunc adapts an ordinary function to the [Invoker] interface.
type InvokerFunc func(ctx context.Context, functionARN string, payload []byte) error

// Invoke calls f(ctx, functionARN, payload).
func (f InvokerFunc) Invoke(ctx context.Context, functionARN string, payload []byte) error {
	return f(ctx, functionARN, payload)
}

// Options configures a [Server]. The zero value is usable.
type Options struct {
	// Region goes into secret ARNs. Empty means DefaultRegion.
	Region string
	// AccountID goes into secret ARNs. Empty means DefaultAccountID.
	AccountID string
	// Now is the clock. Nil means time.Now. Tests use it to control dates
	// such as DeletionDate and NextRotationDate.
	Now func() time.Time
	// Invoker calls rotation functions. Nil means RotateSecret fails with
	// AccessDeniedException.
	Invoker Invoker
	// OnRotationFailure, if set, is called when a rotation step fails, with
	// the secret ARN, the step name and the Invoker's error. Use it to log
	// failures that AWS would show only in the function's logs.
	OnRotationFailure func(secretARN, step string, err error)
	// Authorize, if set, is asked before every request whether its caller
	// may take the action ("secretsmanager:" and the operation) on the
	// resource (the secret's ARN; the ARN it would have for CreateSecret or
	// an unknown name; "*" for ListSecrets and GetRandomPassword). False
	// answers AccessDeniedException, as IAM would. Nil allows everything,
	// as the emulator checks no credentials of its own.
	Authorize func(r *http.Request, action, resource string) bool
	// StatePath, if set, is a JSON file the state is loaded from at New and
	// saved to after every successful request, so a development stack keeps
	// its secrets between runs. Empty means memory only.
	StatePath string
}

// Server is the Secrets Manager emulator. It is safe for concurrent use. The
// zero value is not usable; call [New].
type Server struct {
	region    string
	accountID string
	now       func() time.Time
	invoker   Invoker
	onFailure func(secretARN, step string, err error)
	authorize func(r *http.Request, action, resource string) bool

	mu      sync.Mutex
	secrets map[string]*secret // by name, including those scheduled for deletion
	seq     uint64             // orders secrets and versions by creation

	statePath string
	loadErr   error // a state file that could not be read fails every request
}

var _ http.Handler = (*Server)(nil)

// New returns an empty emulator configured by opts.
func New(opts Options) *Server {
	s := &Server{
		region:    opts.Region,
		accountID: opts.AccountID,
		now:       opts.Now,
		invoker:   opts.Invoker,
		onFailure: opts.OnRotationFailure,
		authorize: opts.Authorize,
		secrets:   make(map[string]*secret),
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if s.accountID == "" {
		s.accountID = DefaultAccountID
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.StatePath != "" {
		s.statePath = opts.StatePath
		s.loadErr = s.load(opts.StatePath)
	}
	return s
}

// LoadError reports whether the state file given in Options could not be
// read; such a server refuses every request rather than start empty.
func (s *Server) LoadError() error { return s.loadErr }

// ServeHTTP handles one Secrets Manager API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", newUUID())
	if s.loadErr != nil {
		writeError(w, s.loadErr)
		return
	}
	op, err := operation(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, newError(codeSerialization, "request body could not be read"))
		return
	}
	if s.authorize != nil {
		action, resource := "secretsmanager:"+op, s.resource(op, body)
		if !s.authorize(r, action, resource) {
			writeError(w, newError(codeAccessDenied, "User is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", action, resource, action))
			return
		}
	}
	out, err := s.dispatch(r.Context(), op, body)
	if err != nil {
		writeError(w, err)
		return
	}
	s.persist()
	writeJSON(w, http.StatusOK, out)
}

// resource is the ARN IAM checks for operation op with body.
func (s *Server) resource(op string, body []byte) string {
	var in struct{ SecretId, Name string }
	_ = json.Unmarshal(body, &in)
	id := in.SecretId
	switch {
	case op == "CreateSecret":
		id = in.Name
	case id == "":
		return "*"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec, err := s.find(id); err == nil {
		return sec.arn
	}
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return s.arnPrefix() + id
}

// operation returns the operation name from a JSON 1.1 request.
func operation(r *http.Request) (string, error) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if r.Method != http.MethodPost || !ok || op == "" {
		return "", newError(codeUnknownOperation, "unknown operation %q", target)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-amz-json-1.1" && mt != "application/json") {
		return "", newError(codeUnknownOperation, "unsupported content type for %q", target)
	}
	return op, nil
}

// dispatch decodes body, runs operation op and returns its output.
func (s *Server) dispatch(ctx context.Context, op string, body []byte) (any, error) {
	switch op {
	case "CreateSecret":
		return handle(body, s.createSecret)
	case "DescribeSecret":
		return handle(body, s.describeSecret)
	case "GetSecretValue":
		return handle(body, s.getSecretValue)
	case "PutSecretValue":
		return handle(body, s.putSecretValue)
	case "UpdateSecret":
		return handle(body, s.updateSecret)
	case "UpdateSecretVersionStage":
		return handle(body, s.updateSecretVersionStage)
	case "ListSecretVersionIds":
		return handle(body, s.listSecretVersionIDs)
	case "ListSecrets":
		return handle(body, s.listSecrets)
	case "RotateSecret":
		return handle(body, func(in *rotateSecretInput) (*rotateSecretOutput, error) {
			return s.rotateSecret(ctx, in)
		})
	case "CancelRotateSecret":
		return handle(body, s.cancelRotateSecret)
	case "GetRandomPassword":
		return handle(body, s.getRandomPassword)
	case "DeleteSecret":
		return handle(body, s.deleteSecret)
	case "RestoreSecret":
		return handle(body, s.restoreSecret)
	case "TagResource":
		return handle(body, s.tagResource)
	case "UntagResource":
		return handle(body, s.untagResource)
	}
	return nil, newError(codeUnknownOperation, "unknown operation %q", op)
}

// handle decodes body into a new In and passes it to fn.
func handle[In, Out any](body []byte, fn func(*In) (*Out, error)) (any, error) {
	in := new(In)
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, in); err != nil {
			return nil, newError(codeSerialization, "request body is not valid for this operation")
		}
	}
	out, err := fn(in)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// writeJSON writes v as a JSON 1.1 response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"__type":"InternalServiceError","message":"response could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes err in the AWS JSON 1.1 error format. Errors that are not
// API errors become a generic InternalServiceError.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, code: codeInternal, message: "internal error"}
	}
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	writeJSON(w, ae.status, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{ae.code, ae.message})
}
