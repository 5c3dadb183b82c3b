package secretsmanager_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	smemu "github.com/waguard/waguard/devstack/secretsmanager"
)

// realEnv, set to 1, runs the conformance suite against real AWS.
const realEnv = "WAGUARD_SM_CONFORMANCE_REAL"

// Region and account of the emulator in the tests.
const (
	testRegion  = "eu-west-1"
	testAccount = "111122223333"
	lambdaARN   = "arn:aws:lambda:eu-west-1:111122223333:function:waguard-rotate"
)

// harness is one run of the suite against the emulator or real AWS.
type harness struct {
	client   *sm.Client
	real     bool
	prefix   string      // every secret name starts with it
	clock    *fakeClock  // nil against real AWS
	lambda   *fakeLambda // nil against real AWS
	failures *failureLog // nil against real AWS
}

// harnessOption changes how newHarness builds the emulator.
type harnessOption func(*smemu.Options)

// withoutInvoker leaves the emulator without a rotation Invoker.
func withoutInvoker(o *smemu.Options) { o.Invoker = nil }

// newHarness returns a harness for t: an emulator on loopback, or real AWS
// when WAGUARD_SM_CONFORMANCE_REAL=1.
func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	if os.Getenv(realEnv) == "1" {
		return newRealHarness(t)
	}
	return newEmulatorHarness(t, opts...)
}

// newRealHarness uses the default AWS configuration (credentials, region)
// and a unique waguard-conformance/ name prefix.
func newRealHarness(t *testing.T) *harness {
	t.Helper()
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
		if os.Getenv(k) != "" {
			t.Fatalf("%s=1 but %s is set; unset it to run against real AWS", realEnv, k)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("LoadDefaultConfig() err = %v, want nil", err)
	}
	return &harness{client: sm.NewFromConfig(cfg), real: true, prefix: "waguard-conformance/" + randomHex(t, 6) + "/"}
}

// newEmulatorHarness starts an emulator with a fake clock and a fake
// rotation Lambda, and points an SDK client at it through the same
// environment variables that the dev stack sets.
func newEmulatorHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{
		prefix:   "waguard-conformance/" + randomHex(t, 6) + "/",
		clock:    &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		lambda:   &fakeLambda{},
		failures: &failureLog{},
	}
	o := smemu.Options{
		Region: testRegion, AccountID: testAccount, Now: h.clock.Now,
		Invoker: h.lambda, OnRotationFailure: h.failures.record,
	}
	for _, opt := range opts {
		opt(&o)
	}
	ts := httptest.NewServer(smemu.New(o))
	t.Cleanup(ts.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDWAGUARDTEST", "AWS_SECRET_ACCESS_KEY": "dummy-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": testRegion, "AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL_SECRETS_MANAGER": ts.URL,
	} {
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithHTTPClient(loopbackOnlyClient()))
	if err != nil {
		t.Fatalf("LoadDefaultConfig() err = %v, want nil", err)
	}
	h.client = sm.NewFromConfig(cfg)
	h.lambda.client = h.client
	return h
}

// skipIfReal skips an emulator-only test when running against AWS.
func (h *harness) skipIfReal(t *testing.T) {
	t.Helper()
	if h.real {
		t.Skip("emulator-only test: needs the fake clock or rotation Invoker")
	}
}

// name returns a fresh secret name and deletes that secret, without
// recovery, when t ends.
func (h *harness) name(t *testing.T) string {
	t.Helper()
	name := h.prefix + randomHex(t, 4)
	t.Cleanup(func() { forceDelete(h, name) })
	return name
}

// forceDelete deletes a secret without recovery, ignoring errors. It runs in
// t.Cleanup, after the test's context is done.
func forceDelete(h *harness, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = h.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
}

// now is the time that the service sees.
func (h *harness) now() time.Time {
	if h.clock != nil {
		return h.clock.Now()
	}
	return time.Now()
}

// create creates a secret with a string value and returns its ARN and
// version ID.
func (h *harness) create(t *testing.T, name, token, value string) (arn, versionID string) {
	t.Helper()
	out, err := h.client.CreateSecret(t.Context(), &sm.CreateSecretInput{
		Name: aws.String(name), ClientRequestToken: aws.String(token), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("CreateSecret(%s) err = %v, want nil", name, err)
	}
	return aws.ToString(out.ARN), aws.ToString(out.VersionId)
}

// put stores value as version token with the given labels.
func (h *harness) put(t *testing.T, id, token, value string, stages ...string) {
	t.Helper()
	_, err := h.client.PutSecretValue(t.Context(), &sm.PutSecretValueInput{
		SecretId: aws.String(id), ClientRequestToken: aws.String(token), SecretString: aws.String(value), VersionStages: stages,
	})
	if err != nil {
		t.Fatalf("PutSecretValue(%s, %s) err = %v, want nil", id, token, err)
	}
}

// stages returns the VersionIdsToStages of a secret.
func (h *harness) stages(t *testing.T, id string) map[string][]string {
	t.Helper()
	return h.describe(t, id).VersionIdsToStages
}

// describe calls DescribeSecret.
func (h *harness) describe(t *testing.T, id string) *sm.DescribeSecretOutput {
	t.Helper()
	out, err := h.client.DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeSecret(%s) err = %v, want nil", id, err)
	}
	return out
}

// eventually retries check until it passes, for up to 30 seconds against
// real AWS (whose ListSecrets and deletions are eventually consistent) and
// once against the emulator.
func (h *harness) eventually(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if !h.real || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
	}
}

// isCode reports whether err is the AWS error code. For the errors that the
// Secrets Manager model declares it also checks the SDK's typed error.
func isCode(err error, code string) bool {
	var typed bool
	switch code {
	case "ResourceNotFoundException":
		var e *types.ResourceNotFoundException
		typed = errors.As(err, &e)
	case "InvalidParameterException":
		var e *types.InvalidParameterException
		typed = errors.As(err, &e)
	case "InvalidRequestException":
		var e *types.InvalidRequestException
		typed = errors.As(err, &e)
	case "ResourceExistsException":
		var e *types.ResourceExistsException
		typed = errors.As(err, &e)
	case "InvalidNextTokenException":
		var e *types.InvalidNextTokenException
		typed = errors.As(err, &e)
	default:
		typed = true
	}
	var ae smithy.APIError
	return typed && errors.As(err, &ae) && ae.ErrorCode() == code
}

// checkErr fails t unless err matches wantCode ("" meaning no error).
func checkErr(t *testing.T, call string, err error, wantCode string) {
	t.Helper()
	switch {
	case wantCode == "" && err != nil:
		t.Fatalf("%s err = %v, want nil", call, err)
	case wantCode != "" && !isCode(err, wantCode):
		t.Fatalf("%s err = %v, want %s", call, err, wantCode)
	}
}

// token returns a fresh ClientRequestToken of n characters.
func token(t *testing.T, n int) string {
	t.Helper()
	return randomHex(t, (n+1)/2)[:n]
}

// randomHex returns 2n random hex digits.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("rand.Read() err = %v, want nil", err)
	}
	return hex.EncodeToString(b)
}

// fakeClock is a settable clock for the emulator.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the current fake time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// failureLog records the rotation failures that the emulator reports.
type failureLog struct {
	mu    sync.Mutex
	steps []string
}

// record is an OnRotationFailure hook.
func (l *failureLog) record(arn, step string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, fmt.Sprintf("%s %s", arn, step))
}

// get returns the recorded failures as "ARN step".
func (l *failureLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.steps...)
}

// loopbackOnlyClient is an HTTP client that refuses to dial anything but
// loopback, so that an emulator test can never reach AWS. It is an SDK
// BuildableClient so that settings such as AWS_CA_BUNDLE still apply.
func loopbackOnlyClient() *awshttp.BuildableClient {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("split %q: %w", addr, err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return nil, fmt.Errorf("dial %s: only loopback is allowed in tests", addr)
			}
			return dialer.DialContext(ctx, network, addr)
		}
	})
}
