package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/secrets"
)

// TestProviderRotationUnderLoad rotates provider credentials the way an
// operator does while sends keep flowing: the new Meta token is staged
// under the NEXT label, RotateSecret runs the stack's rotate function (the
// deployed bootstrap under the RIE), and once the rotation has finished
// the old token is revoked at the provider. No send may fail at any
// point, and sends after the revocation go out with the new token.
//
// The test rotates a provider secret of its own (the send handler under
// test reads it through PROVIDER_SECRET_ID), so packages running in
// parallel keep the stack's credentials; the sandbox accepts the stack's
// tokens throughout.
func TestProviderRotationUnderLoad(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := strings.TrimSuffix(strings.TrimPrefix(e.st.DataTable, "waguard-"), "-data")
	sm := secretsmanager.NewFromConfig(e.st.AWS(t))
	stack, err := secrets.NewStore(sm, 0).Get(ctx, e.st.ProviderSecretID, secrets.StageCurrent)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string // the stack's own tokens, accepted all along
	for _, f := range []string{"primary", "fallback"} {
		if v := stack.Get(f); !v.Empty() {
			keep = append(keep, string(v.Reveal()))
		}
	}
	oldTok, newTok := "EAAGold"+randomHex(16), "EAAGnew"+randomHex(16)
	accept := func(extra ...string) {
		b, _ := json.Marshal(map[string][]string{"access_tokens": append(append([]string{}, keep...), extra...)})
		req, _ := http.NewRequest(http.MethodPut, e.st.SandboxURL+"/_sandbox/credentials", bytes.NewReader(b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("set sandbox tokens: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	accept(oldTok, newTok)
	t.Cleanup(func() { accept() })

	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("waguard/test/provider-rot-" + randomHex(4)),
		SecretString: aws.String(`{"kind":"provider-credentials","primary":"` + oldTok + `","fallback":""}`)})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PROVIDER_SECRET_ID", aws.ToString(created.ARN))
	if e.h, err = newHandler(); err != nil {
		t.Fatal(err)
	}
	e.h.Log, e.h.MetricsOut = slog.New(slog.NewJSONHandler(io.Discard, nil)), io.Discard

	recipients := make([]string, 24)
	for i := range recipients {
		recipients[i] = number(t)
		e.grant(t, recipients[i], "transactional")
	}
	var failures, sent atomic.Int64
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(40 * time.Millisecond): // well under the global and per-recipient limits
				}
				to := recipients[int(next.Add(1))%len(recipients)]
				if status, _, _ := e.call(t, "POST /v1/messages", e.key, template(to, "transactional")); status != http.StatusAccepted {
					failures.Add(1)
				} else {
					sent.Add(1)
				}
			}
		}()
	}
	halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer halt()

	time.Sleep(300 * time.Millisecond)
	b, _ := json.Marshal(map[string]string{"kind": "provider-credentials", "primary": newTok})
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: created.ARN, SecretString: aws.String(string(b)),
		VersionStages: []string{"NEXT"}}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:lambda:eu-west-2:111122223333:function:waguard-" + stage + "-rotate"
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: created.ARN, RotationLambdaARN: aws.String(arn),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(90)}, RotateImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("RotateSecret() err = %v", err)
	}
	cur, err := secrets.NewStore(sm, 0).Get(ctx, aws.ToString(created.ARN), secrets.StageCurrent)
	if err != nil || !cur.Get("primary").Equal([]byte(newTok)) || !cur.Get("fallback").Equal([]byte(oldTok)) {
		t.Fatalf("after RotateSecret the new token is not primary with the old one as fallback (err %v): the rotate function did not run", err)
	}
	time.Sleep(300 * time.Millisecond)
	before := fingerprintSends(t, e.st.SandboxURL, newTok)
	accept(newTok) // the operator revokes the old token at Meta
	time.Sleep(600 * time.Millisecond)
	halt()
	if failures.Load() != 0 {
		t.Errorf("%d of %d sends failed during the rotation and revocation, want 0", failures.Load(), failures.Load()+sent.Load())
	}
	if after := fingerprintSends(t, e.st.SandboxURL, newTok); after <= before {
		t.Errorf("no send used the new token after the old one was revoked (%d before, %d after)", before, after)
	}
	t.Logf("%d sends, none failed", sent.Load())
}

// fingerprintSends counts the sandbox's accepted sends made with token.
func fingerprintSends(t *testing.T, sandboxURL, token string) int {
	t.Helper()
	resp, err := http.Get(sandboxURL + "/_sandbox/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []struct {
		Kind string `json:"kind"`
		FP   string `json:"token_fingerprint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Kind == "message" && r.FP == sandbox.Fingerprint(token) {
			n++
		}
	}
	return n
}
