package main

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/secrets"
)

// TestAPIKeyRotationUnderLoad rotates a client's API key through Secrets
// Manager's RotateSecret, which runs the stack's rotate function (the
// deployed bootstrap under the RIE), while requests keep using the old
// key: none may fail during or after the rotation, the new key works, and
// once the overlap has passed the old key is refused.
func TestAPIKeyRotationUnderLoad(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stage := strings.TrimSuffix(strings.TrimPrefix(e.st.DataTable, "waguard-"), "-data")
	id := "rot-" + strings.Map(func(r rune) rune { return r%26 + 'a' }, randomHex(4)) // letters only
	sm := secretsmanager.NewFromConfig(e.st.AWS(t))
	oldKey := randomHex(24)
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("waguard/" + stage + "/clients/" + id),
		SecretString: aws.String(`{"kind":"api-client","client_id":"` + id + `","scopes":["consents:read"],"key":"` + oldKey + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	old := string(apiauth.PresentedKey(id, secrets.NewValue([]byte(oldKey))).Reveal())
	query := func(key string) int {
		status, _, _ := e.call(t, "POST /v1/consents/query", key, map[string]string{"phone": "+12015550166"})
		return status
	}
	if s := query(old); s != 200 {
		t.Fatalf("old key before rotation = %d, want 200", s)
	}
	var failures, requests atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				if query(old) != 200 {
					failures.Add(1)
				}
			}
		}()
	}
	arn := "arn:aws:lambda:eu-west-2:111122223333:function:waguard-" + stage + "-rotate"
	if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: created.ARN, RotationLambdaARN: aws.String(arn),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(90)}, RotateImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("RotateSecret() err = %v", err)
	}
	time.Sleep(time.Second) // keep the load on after the rotation too
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d of %d requests with the old key failed during the rotation, want 0", failures.Load(), requests.Load())
	}
	cur, err := secrets.NewStore(sm, 0).Get(ctx, *created.ARN, secrets.StageCurrent)
	if err != nil || cur.Get("key").Equal([]byte(oldKey)) {
		t.Fatalf("after RotateSecret the current key is unchanged (err %v): the rotate function did not run", err)
	}
	newKey := string(apiauth.PresentedKey(id, cur.Get("key")).Reveal())
	if s := query(newKey); s != 200 {
		t.Errorf("new key = %d, want 200", s)
	}
	auth, err := apiauth.New(secrets.NewStore(sm, 0), apiauth.Config{SecretPrefix: "waguard/" + stage + "/clients/", Overlap: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	e.h.Gate.(*apiauth.Gate).Auth = auth // the same gate once the overlap has passed
	if s := query(old); s != 401 {
		t.Errorf("old key after the overlap = %d, want 401", s)
	}
	if s := query(newKey); s != 200 {
		t.Errorf("new key after the overlap = %d, want 200", s)
	}
}
