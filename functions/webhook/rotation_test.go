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

	"github.com/waguard/waguard/shared/secrets"
	"github.com/waguard/waguard/shared/signature"
)

// TestWebhookSecretRotationUnderLoad rotates a signed-webhook secret
// through RotateSecret (the stack's rotate bootstrap under the RIE) while
// a sender keeps signing with the old secret: no delivery fails during or
// after; the new secret is accepted at once; past the overlap the old one
// is refused.
func TestWebhookSecretRotationUnderLoad(t *testing.T) {
	h, _, st := newStackHandler(t)
	ctx := context.Background()
	stage := strings.TrimSuffix(strings.TrimPrefix(st.DataTable, "waguard-"), "-data")
	sm := secretsmanager.NewFromConfig(st.AWS(t))
	oldSecret := "old-" + randomHex(t)
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("waguard/test/webhook-" + randomHex(t)),
		SecretString: aws.String(`{"kind":"webhook-secret","secret":"` + oldSecret + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	h.Config.SignedSecretID = *created.ARN
	deliver := func(secret []byte, ip string) int {
		body := normalized(t, testNumber(t), "prov-"+randomHex(t), time.Now())
		resp, _ := h.Handle(ctx, signedReq(body, signature.SignSeed(secret, time.Now(), body), ip))
		return resp.StatusCode
	}
	var failures, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if deliver([]byte(oldSecret), "203.0.113."+string(rune('a'+i))) != 200 {
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
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d of %d deliveries signed with the old secret failed during the rotation, want 0", failures.Load(), sent.Load())
	}
	cur, err := secrets.NewStore(sm, 0).Get(ctx, *created.ARN, secrets.StageCurrent)
	if err != nil || string(cur.Get("secret").Reveal()) == oldSecret {
		t.Fatalf("the secret was not rotated (err %v)", err)
	}
	newKey, err := signature.Key(string(cur.Get("secret").Reveal()))
	if err != nil {
		t.Fatal(err)
	}
	if s := deliver(newKey, "203.0.113.90"); s != 200 {
		t.Errorf("delivery with the new secret = %d, want 200", s)
	}
	// Past the overlap (24 h by default) the one-minute cache has long
	// been renewed: model both.
	h.Config.SecretOverlap = time.Nanosecond
	time.Sleep(5 * time.Second) // Refresh allows one re-read per secret every 5 s
	h.Secrets.Refresh(*created.ARN)
	if s := deliver([]byte(oldSecret), "203.0.113.91"); s != 401 {
		t.Errorf("delivery with the old secret after the overlap = %d, want 401", s)
	}
}
