package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/logging"

	"github.com/waguard/waguard/bench/awscount"
	"github.com/waguard/waguard/bench/loadgen"
	"github.com/waguard/waguard/devstack/sandbox"
	"github.com/waguard/waguard/internal/loopback"
	"github.com/waguard/waguard/shared/apiauth"
	"github.com/waguard/waguard/shared/phone"
	"github.com/waguard/waguard/shared/secrets"
)

// clients is what the workloads talk to the stack with; everything is
// loopback-only.
type clients struct {
	gateway   string
	sandbox   string // the sandbox: its endpoint receives the events
	http      *http.Client
	appSecret string // Meta app secret: signs webhook deliveries
	apiKey    string // ops client's presented key: authorises sends
	dynamoDB  *dynamodb.Client
	// tags numbers the webhook messages of the whole run; answers keeps
	// when each tagged message of the current run was answered 200.
	tags    atomic.Int64
	answers *answers
}

func loopbackClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: loopback.Only(&http.Transport{
		MaxIdleConns: 2 * conns, MaxIdleConnsPerHost: 2 * conns, IdleConnTimeout: 30 * time.Second})}
}

// newClients reads the secrets the workloads need straight from the
// emulators (not through the counting proxies) and builds a DynamoDB
// client that goes through the DynamoDB proxy when there is one.
func newClients(ctx context.Context, s *stack, maxConc int) (*clients, error) {
	for k, v := range s.env {
		if strings.HasPrefix(k, "AWS_") {
			os.Setenv(k, v)
		}
	}
	hc := loopbackClient(maxConc)
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	// Per client rather than in the config, which would try to add the
	// AWS_CA_BUNDLE roots to it.
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.HTTPClient = hc })
	store := secrets.NewStore(sm, time.Minute)
	meta, err := store.Get(ctx, s.env["WAGUARD_META_WEBHOOK_SECRET_ID"], secrets.StageCurrent)
	if err != nil {
		return nil, fmt.Errorf("read webhook secret: %w", err)
	}
	stage := strings.TrimSuffix(strings.TrimPrefix(s.env["WAGUARD_DATA_TABLE"], "waguard-"), "-data")
	ops, err := store.Get(ctx, "waguard/"+stage+"/clients/ops", secrets.StageCurrent)
	if err != nil {
		return nil, fmt.Errorf("read ops client secret: %w", err)
	}
	key := apiauth.PresentedKey("ops", ops.Get("key"))
	if key.Empty() {
		return nil, errors.New("ops client secret has no valid key")
	}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.HTTPClient = hc
		// The SDK warns of a checksum mismatch on bodies it does not read
		// (DynamoDB Local's table operations): noise here, as in waguard-dev.
		o.Logger = logging.Nop{}
		if s.dynamoDBProxyURL != "" {
			o.BaseEndpoint = aws.String(s.dynamoDBProxyURL)
		}
	})
	return &clients{gateway: s.env["WAGUARD_GATEWAY_URL"], sandbox: s.env["WAGUARD_SANDBOX_URL"], http: hc,
		appSecret: string(meta.Get("secret").Reveal()), apiKey: string(key.Reveal()), dynamoDB: ddb, answers: &answers{}}, nil
}

// schema describes the stack's tables and their global secondary
// indexes, so the DynamoDB proxy can charge index writes.
func (c *clients) schema(ctx context.Context, env map[string]string) (awscount.Schema, error) {
	out := awscount.Schema{}
	for k, name := range env {
		if !strings.HasPrefix(k, "WAGUARD_") || !strings.HasSuffix(k, "_TABLE") {
			continue
		}
		d, err := c.dynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", name, err)
		}
		keys := func(ks []ddbtypes.KeySchemaElement) []string {
			var names []string
			for _, k := range ks {
				names = append(names, aws.ToString(k.AttributeName))
			}
			return names
		}
		t := awscount.Table{Keys: keys(d.Table.KeySchema)}
		for _, g := range d.Table.GlobalSecondaryIndexes {
			ix := awscount.Index{Name: aws.ToString(g.IndexName), Keys: keys(g.KeySchema)}
			if g.Projection != nil {
				ix.Projection, ix.NonKey = string(g.Projection.ProjectionType), g.Projection.NonKeyAttributes
			}
			t.Indexes = append(t.Indexes, ix)
		}
		out[name] = t
	}
	return out, nil
}

// numbers returns n distinct fictitious numbers +1 NXX 555 01xx (100 per
// area code, area codes from firstNXX up, skipping ones libphonenumber
// rejects) as wa_id digits.
func numbers(n, firstNXX int) ([]string, error) {
	var out []string
	for nxx := firstNXX; len(out) < n && nxx < 1000; nxx++ {
		for i := 0; i < 100 && len(out) < n; i++ {
			e164 := fmt.Sprintf("+1%d55501%02d", nxx, i)
			if _, err := phone.Parse(e164); err != nil {
				break // the area code is not in use: next one
			}
			out = append(out, e164[1:])
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("only %d fictitious numbers from area code %d", len(out), firstNXX)
	}
	return out, nil
}

// webhook returns a request that delivers one new inbound text message
// (a fresh wamid each time) from one of senders, signed as Meta does.
// Its text carries a tag unique in the run (t and seven digits), which
// the sandbox endpoint receives in the event's content, so the time from
// the 200 to the event's arrival can be measured (c.answers).
func (c *clients) webhook(senders []string) func(ctx context.Context, i int) error {
	biz := sandbox.Business{AccountID: sandbox.DefaultBusinessAccountID, PhoneNumberID: sandbox.DefaultPhoneNumberID,
		DisplayPhoneNumber: sandbox.DefaultDisplayPhoneNumber}
	return func(ctx context.Context, i int) error {
		from := senders[i%len(senders)]
		tag := fmt.Sprintf("t%07d", c.tags.Add(1))
		body, err := sandbox.BuildTextEvent(biz, sandbox.TextEvent{From: from, Name: "Bench User",
			Body:  fmt.Sprintf("Hello, this is load message %s; where is my order?", tag),
			WAMID: sandbox.NewWAMID(from, false), Time: time.Now()})
		if err != nil {
			return err
		}
		if err := c.post(ctx, "/webhooks/meta", body, http.StatusOK, "X-Hub-Signature-256", sandbox.Sign(c.appSecret, body)); err != nil {
			return err
		}
		c.answers.answered(tag, time.Now())
		return nil
	}
}

// consent returns a request that grants transactional consent to one of
// recipients.
func (c *clients) consent(recipients []string) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]string{"phone": "+" + recipients[i%len(recipients)], "purpose": "transactional",
			"action": "grant", "method": "web_form", "policy_version": "2026-01"})
		return c.post(ctx, "/v1/consents", body, http.StatusCreated, "Authorization", "Bearer "+c.apiKey)
	}
}

// send returns a request that sends a transactional template message to
// one of recipients.
func (c *clients) send(recipients []string) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]any{"to": "+" + recipients[i%len(recipients)], "purpose": "transactional",
			"template": map[string]string{"name": "order_update", "language": "en_US"}})
		return c.post(ctx, "/v1/messages", body, http.StatusAccepted, "Authorization", "Bearer "+c.apiKey)
	}
}

func (c *clients) post(ctx context.Context, path string, body []byte, want int, header, value string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.gateway+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, value)
	resp, err := c.http.Do(req)
	if err != nil {
		if uerr, ok := errors.AsType[*url.Error](err); ok && uerr.Timeout() {
			return errors.New("timeout")
		}
		return errors.New("connection error")
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return loadgen.StatusError{Code: resp.StatusCode}
	}
	return nil
}

// ceilingTable creates an on-demand table with the data table's key
// names and one global secondary index on attribute g (projection ALL)
// for the raw runs; drop removes it. PutItem items carry no g, so the
// write-bound ceiling writes no index entries.
func (c *clients) ceilingTable(ctx context.Context) (name string, drop func(), err error) {
	name = fmt.Sprintf("waguard-bench-ceiling-%d", time.Now().UnixNano())
	attr := func(n string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(n), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	key := func(n string, t ddbtypes.KeyType) ddbtypes.KeySchemaElement {
		return ddbtypes.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
	}
	_, err = c.dynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: &name, BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{attr("pk"), attr("sk"), attr("g")},
		KeySchema:            []ddbtypes.KeySchemaElement{key("pk", ddbtypes.KeyTypeHash), key("sk", ddbtypes.KeyTypeRange)},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{IndexName: aws.String("by-g"),
			KeySchema:  []ddbtypes.KeySchemaElement{key("g", ddbtypes.KeyTypeHash), key("sk", ddbtypes.KeyTypeRange)},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}}}})
	if err != nil {
		return "", nil, fmt.Errorf("create ceiling table: %w", err)
	}
	return name, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = c.dynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &name})
	}, nil
}

// shape is what one webhook message asks of DynamoDB, as counted:
// consistent GetItems, then one TransactWriteItems with Puts of whole
// items (Indexed of which also write an index entry) and ConditionChecks.
type shape struct {
	Gets      int `json:"get_items"`
	Puts      int `json:"transact_puts"`
	Indexed   int `json:"indexed_puts"`
	Checks    int `json:"transact_condition_checks"`
	ItemBytes int `json:"item_bytes"`
}

// replay returns a request that makes one message's DynamoDB calls of
// the given shape against table, with fresh keys, without the webhook.
func (c *clients) replay(table string, sh shape, level int) func(ctx context.Context, i int) error {
	const overhead = 2 + 2 + 7 + 24
	pad := make([]byte, max(sh.ItemBytes-overhead, 1))
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	cond := aws.String("attribute_not_exists(pk)")
	return func(ctx context.Context, i int) error {
		id := fmt.Sprintf("c%02d#%08d", level, i)
		for g := range sh.Gets {
			if _, err := c.dynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, ConsistentRead: aws.Bool(true),
				Key: map[string]ddbtypes.AttributeValue{"pk": s(fmt.Sprintf("get#%d", g)), "sk": s(id)}}); err != nil {
				return errors.New("GetItem failed")
			}
		}
		var items []ddbtypes.TransactWriteItem
		for k := range sh.Checks {
			items = append(items, ddbtypes.TransactWriteItem{ConditionCheck: &ddbtypes.ConditionCheck{TableName: &table,
				ConditionExpression: cond, Key: map[string]ddbtypes.AttributeValue{"pk": s(fmt.Sprintf("check#%d", k)), "sk": s(id)}}})
		}
		for k := range sh.Puts {
			item := map[string]ddbtypes.AttributeValue{"pk": s(fmt.Sprintf("item#%d", k)), "sk": s(id),
				"payload": &ddbtypes.AttributeValueMemberB{Value: pad}}
			if k < sh.Indexed {
				item["g"] = s(fmt.Sprintf("g#%d", i%100))
			}
			items = append(items, ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: &table, ConditionExpression: cond, Item: item}})
		}
		if len(items) == 0 {
			return nil
		}
		if _, err := c.dynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
			return errors.New("TransactWriteItems failed")
		}
		return nil
	}
}

// putItem returns a request that writes one new item of about itemBytes
// (DynamoDB's item size) to table.
func (c *clients) putItem(table string, itemBytes, level int) func(ctx context.Context, i int) error {
	const overhead = 2 + 2 + 7 + 24 // names pk, sk, payload; key values below
	pad := make([]byte, max(itemBytes-overhead, 1))
	return func(ctx context.Context, i int) error {
		_, err := c.dynamoDB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]ddbtypes.AttributeValue{
			"pk":      &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("bench#%04d", i%1000)},
			"sk":      &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("c%02d#%08d", level, i)},
			"payload": &ddbtypes.AttributeValueMemberB{Value: pad}}})
		if err != nil {
			return errors.New("PutItem failed")
		}
		return nil
	}
}
