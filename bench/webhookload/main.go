// Command webhookload measures the webhook through the local gateway: it
// sends signed Meta text deliveries (each a new message from one of a set
// of fictional numbers) at a given concurrency and prints throughput and
// latency percentiles. It talks only to loopback addresses, sends a
// bounded number of requests and stops by itself.
//
// Usage (with the stack's environment sourced, e.g. from .local/stack.env):
//
//	go run ./bench/webhookload -n 2000 -c 8
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/shared/secrets"
)

func main() {
	n := flag.Int("n", 1000, "requests to send (at most 100000)")
	c := flag.Int("c", 8, "concurrent clients")
	subjects := flag.Int("subjects", 200, "distinct senders")
	flag.Parse()
	if err := run(min(*n, 100000), *c, *subjects); err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		os.Exit(1)
	}
}

func run(n, c, subjects int) error {
	gw := os.Getenv("WAGUARD_GATEWAY_URL")
	if u, err := url.Parse(gw); err != nil || u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("WAGUARD_GATEWAY_URL must be a loopback URL (source .local/stack.env)")
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	f, err := secrets.NewStore(secretsmanager.NewFromConfig(cfg), time.Minute).Get(ctx, os.Getenv("WAGUARD_META_WEBHOOK_SECRET_ID"), secrets.StageCurrent)
	if err != nil {
		return err
	}
	appSecret := string(f.Get("secret").Reveal())
	biz := sandbox.Business{AccountID: sandbox.DefaultBusinessAccountID, PhoneNumberID: sandbox.DefaultPhoneNumberID,
		DisplayPhoneNumber: sandbox.DefaultDisplayPhoneNumber}
	lat := make([]time.Duration, n)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				from := fmt.Sprintf("1%d55501%02d", 201+(i%subjects)/100, i%subjects%100)
				body, err := sandbox.BuildTextEvent(biz, sandbox.TextEvent{From: from, Name: "Load Test",
					Body: fmt.Sprintf("load message %d with some text to make it realistic", i), WAMID: sandbox.NewWAMID(from, false), Time: time.Now()})
				if err != nil {
					failed.Add(1)
					continue
				}
				req, _ := http.NewRequest(http.MethodPost, gw+"/webhooks/meta", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Hub-Signature-256", sandbox.Sign(appSecret, body))
				t0 := time.Now()
				resp, err := client.Do(req)
				lat[i] = time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("webhook: %d requests, %d clients, %d failed, %.0f req/s, p50 %s, p90 %s, p99 %s, max %s\n",
		n, c, failed.Load(), float64(n)/took.Seconds(), pct(0.50).Round(time.Microsecond*100), pct(0.90).Round(time.Microsecond*100),
		pct(0.99).Round(time.Microsecond*100), lat[len(lat)-1].Round(time.Millisecond))
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}
