package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waguard/waguard/devstack/stacktest"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/floodguard"
	"github.com/waguard/waguard/shared/metrics"
	"github.com/waguard/waguard/shared/secrets"
)

// Test-only values; the token matches testdata/verify_*.json.
const (
	testVerifyToken = "test-verify-token-0001"
	testSecretID    = "waguard/test/meta-webhook"
	testSourceIP    = "198.51.100.23"
)

// testNow is 2026-01-01T12:00:15Z, 45 s before the flood window ends.
var testNow = time.Date(2026, 1, 1, 12, 0, 15, 0, time.UTC)

func TestMain(m *testing.M) {
	stacktest.RestrictToLoopback()
	os.Exit(m.Run())
}

// fakeSM serves the Meta webhook secret; err, when set, fails every read.
type fakeSM struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (f *fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if aws.ToString(in.SecretId) != testSecretID || aws.ToString(in.VersionStage) != secrets.StageCurrent {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("not found")}
	}
	doc := `{"verify_token":"` + testVerifyToken + `","app_secret":"test-app-secret-0001"}`
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(doc), VersionId: aws.String("v1")}, nil
}

// fakeTable counts failures per item for the flood guard's GetItem and
// ADD UpdateItem; getErr and updateErr, when set, fail those calls.
type fakeTable struct {
	mu                sync.Mutex
	counts            map[string]int
	getErr, updateErr error
}

func itemKey(k map[string]types.AttributeValue) string {
	pk, _ := k["pk"].(*types.AttributeValueMemberS)
	sk, _ := k["sk"].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return ""
	}
	return pk.Value + "|" + sk.Value
}

func (f *fakeTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.getErr != nil {
		return nil, f.getErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.counts[itemKey(in.Key)]
	if !ok {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"failures": &types.AttributeValueMemberN{Value: strconv.Itoa(n)}}}, nil
}

func (f *fakeTable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	if !strings.HasPrefix(aws.ToString(in.UpdateExpression), "ADD failures :one") {
		return nil, errors.New("fake table: unexpected update")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[itemKey(in.Key)]++
	return &dynamodb.UpdateItemOutput{}, nil
}

func (f *fakeTable) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.counts {
		n += c
	}
	return n
}

type env struct {
	h     *Handler
	sm    *fakeSM
	table *fakeTable
	flood *floodguard.Guard
	logs  *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{sm: &fakeSM{}, table: &fakeTable{counts: map[string]int{}}, logs: &bytes.Buffer{}}
	e.flood = floodguard.New(e.table, floodguard.Config{
		Table: "waguard-test-data", Key: []byte("test-index-key-0001"), Scope: "webhook",
		Now: func() time.Time { return testNow },
	})
	e.h = &Handler{
		Secrets: secrets.NewStore(e.sm, time.Minute), Flood: e.flood,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), Config: Config{MetaSecretID: testSecretID},
		Metrics: mustRecorder(t), MetricsOut: io.Discard,
	}
	t.Cleanup(func() { assertLogsClean(t, e.logs.String()) })
	return e
}

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("ReadFile(%s) err = %v, want nil", name, err)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatalf("json.Unmarshal(%s) err = %v, want nil", name, err)
	}
	return req
}

// errorCode returns the code of an httpapi error body ("" if none).
func errorCode(t *testing.T, body string) string {
	t.Helper()
	var doc struct{ Error struct{ Code string } }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("json.Unmarshal(error body) err = %v, want nil", err)
	}
	return doc.Error.Code
}

// assertLogsClean checks that the captured logs hold one JSON object per
// line, with route and status, and never the verify token.
func assertLogsClean(t *testing.T, logs string) {
	t.Helper()
	if strings.Contains(logs, testVerifyToken) || strings.Contains(logs, "wrong-token") {
		t.Errorf("logs contain a verify token")
	}
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("log line is not JSON: %v", err)
			continue
		}
		if line["route"] == nil || line["status"] == nil {
			t.Errorf("log line keys = %v, want route and status", keys(line))
		}
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestVerifyHandshake(t *testing.T) {
	tests := []struct {
		file       string
		wantStatus int
		wantCode   string // error code; "" for success
		wantBody   string // success body
	}{
		{"verify_ok.json", 200, "", "1158201444"},
		{"verify_wrong_token.json", 403, "verification_failed", ""},
		{"verify_token_prefix.json", 403, "verification_failed", ""},
		{"verify_missing_token.json", 403, "verification_failed", ""},
		{"verify_wrong_mode.json", 403, "verification_failed", ""},
		{"verify_missing_challenge.json", 403, "verification_failed", ""},
		{"verify_no_query.json", 403, "verification_failed", ""},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			e := newEnv(t)
			resp, err := e.h.Handle(context.Background(), loadEvent(t, tt.file))
			if err != nil {
				t.Fatalf("Handle(%s) err = %v, want nil", tt.file, err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("Handle(%s) status = %d, want %d", tt.file, resp.StatusCode, tt.wantStatus)
			}
			if tt.wantCode == "" {
				if resp.Body != tt.wantBody || resp.Headers["Content-Type"] != "text/plain; charset=utf-8" {
					t.Errorf("Handle(%s) = %q (%s), want %q as text/plain", tt.file, resp.Body, resp.Headers["Content-Type"], tt.wantBody)
				}
			} else if code := errorCode(t, resp.Body); code != tt.wantCode {
				t.Errorf("Handle(%s) error code = %q, want %q", tt.file, code, tt.wantCode)
			}
			if got := resp.Headers["Cache-Control"]; got != "no-store" {
				t.Errorf("Handle(%s) Cache-Control = %q, want no-store", tt.file, got)
			}
			if got := e.table.total(); got != 0 {
				t.Errorf("Handle(%s) recorded %d failures, want 0 (handshakes are not signatures)", tt.file, got)
			}
			if n := strings.Count(e.logs.String(), "\n"); n != 1 {
				t.Errorf("Handle(%s) logged %d lines, want 1", tt.file, n)
			}
		})
	}
}

func TestDependencyFailures(t *testing.T) {
	tests := []struct {
		name        string
		smErr       error
		tableErr    error
		wantSMCalls int
	}{
		{"secrets manager unavailable", errors.New("dial tcp: connection refused"), nil, 1},
		{"secret missing", &smtypes.ResourceNotFoundException{Message: aws.String("gone")}, nil, 1},
		{"flood counter unreadable", nil, errors.New("ProvisionedThroughputExceeded"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.sm.err, e.table.getErr = tt.smErr, tt.tableErr
			resp, err := e.h.Handle(context.Background(), loadEvent(t, "verify_ok.json"))
			if err != nil {
				t.Fatalf("Handle err = %v, want nil", err)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || errorCode(t, resp.Body) != "dependency_unavailable" {
				t.Errorf("Handle = %d %s, want 503 dependency_unavailable", resp.StatusCode, resp.Body)
			}
			if e.sm.calls != tt.wantSMCalls {
				t.Errorf("GetSecretValue calls = %d, want %d", e.sm.calls, tt.wantSMCalls)
			}
			if !strings.Contains(e.logs.String(), `"level":"ERROR"`) {
				t.Errorf("logs = %s, want one ERROR line", e.logs.String())
			}
		})
	}
}

func TestFloodBlockedBeforeSecretRead(t *testing.T) {
	e := newEnv(t)
	for range 21 {
		if _, err := e.flood.RecordFailure(context.Background(), testSourceIP); err != nil {
			t.Fatalf("RecordFailure err = %v, want nil", err)
		}
	}
	resp, err := e.h.Handle(context.Background(), loadEvent(t, "verify_ok.json"))
	if err != nil {
		t.Fatalf("Handle err = %v, want nil", err)
	}
	want := map[string]string{"Retry-After": "45", "Content-Type": "application/json"}
	got := map[string]string{"Retry-After": resp.Headers["Retry-After"], "Content-Type": resp.Headers["Content-Type"]}
	if resp.StatusCode != http.StatusTooManyRequests || errorCode(t, resp.Body) != "rate_limited" {
		t.Errorf("Handle = %d %s, want 429 rate_limited", resp.StatusCode, resp.Body)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("429 headers mismatch (-want +got):\n%s", diff)
	}
	if e.sm.calls != 0 {
		t.Errorf("GetSecretValue calls = %d, want 0 for a blocked source", e.sm.calls)
	}
}

// TestHandshakeFailuresDoNotCount checks that failed handshakes (403s)
// do not feed flood control, which counts failed signatures (401s) only.
func TestHandshakeFailuresDoNotCount(t *testing.T) {
	e := newEnv(t)
	wrong := loadEvent(t, "verify_wrong_token.json")
	for i := range 25 {
		if resp, _ := e.h.Handle(context.Background(), wrong); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("wrong token #%d status = %d, want 403", i+1, resp.StatusCode)
		}
	}
	if resp, _ := e.h.Handle(context.Background(), loadEvent(t, "verify_ok.json")); resp.StatusCode != http.StatusOK {
		t.Errorf("right token after 25 failed handshakes status = %d, want 200", resp.StatusCode)
	}
}

func mustRecorder(t *testing.T) *metrics.Recorder {
	r, err := metrics.NewRecorder("webhook")
	if err != nil {
		t.Fatalf("NewRecorder() err = %v", err)
	}
	return r
}

func FuzzVerify(f *testing.F) {
	f.Add("subscribe", testVerifyToken, "1158201444")
	f.Add("subscribe", "", "x")
	f.Add("", testVerifyToken, "")
	f.Add("subscribe", testVerifyToken+"\x00", "<script>")
	f.Fuzz(func(t *testing.T, mode, token, challenge string) {
		e := newEnv(t)
		req := loadEvent(t, "verify_no_query.json")
		req.QueryStringParameters = map[string]string{"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
		resp, err := e.h.Handle(context.Background(), req)
		if err != nil {
			t.Fatalf("Handle err = %v, want nil", err)
		}
		ok := mode == "subscribe" && token == testVerifyToken && challenge != ""
		switch {
		case ok && (resp.StatusCode != 200 || resp.Body != challenge):
			t.Fatalf("Handle(valid handshake) = %d, want 200 echoing the challenge", resp.StatusCode)
		case !ok && resp.StatusCode != http.StatusForbidden:
			t.Fatalf("Handle(invalid handshake) = %d, want 403", resp.StatusCode)
		}
	})
}
