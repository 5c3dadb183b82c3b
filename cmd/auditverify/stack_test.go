package main

import (
	"context"
	"crypto/rand"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/waguard/waguard/devstack/stacktest"
	"github.com/waguard/waguard/shared/audit"
)

// TestStackScan writes and digests two days of events on the local stack,
// on a random day of the 22nd century, then runs the command as an
// auditor would: Scan plus the public key from KMS.
func TestStackScan(t *testing.T) {
	st := stacktest.Require(t)
	cfg := st.AWS(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, kc := dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	n, _ := rand.Int(rand.Reader, big.NewInt(70000))
	now := time.Date(2100, 1, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, int(n.Int64()))
	days := []string{now.Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02")}
	clock := func() time.Time { now = now.Add(time.Minute); return now }
	var chains []string
	for range 2 {
		w, err := audit.NewWriter(db, audit.WriterConfig{Table: st.AuditTable, Function: "waguard-stacktest", Now: clock})
		if err != nil {
			t.Fatalf("NewWriter() err = %v", err)
		}
		for range 6 {
			ev, err := w.Append(ctx, audit.Event{Type: audit.EventAuthFailed, Actor: audit.Actor{Caller: "client:test"}})
			if err != nil {
				t.Fatalf("Append() err = %v", err)
			}
			chains = append(chains, ev.Chain)
			now = now.Add(3 * time.Hour)
		}
	}
	t.Cleanup(func() { cleanup(t, db, st.AuditTable, days) })
	dg, _ := audit.NewDigester(db, kc, audit.DigesterConfig{Table: st.AuditTable, KeyID: st.AuditSigningKeyID, LookBack: 2, Now: clock})
	for _, d := range days {
		day, _ := time.Parse("2006-01-02", d)
		now = day.Add(24*time.Hour + 15*time.Minute) // the scheduled run
		if made, err := dg.Create(ctx, d); err != nil || made[0].Late {
			t.Fatalf("Create(%s) = %v, err %v, want an on-time digest", d, made, err)
		}
	}
	code, out := runCmd(t, loadClients, "-table", st.AuditTable, "-kms-key", st.AuditSigningKeyID, "-from", days[0], "-to", days[1], "-sealed-through", days[1])
	if !strings.Contains(out, "checked 12 events in 2 chains and 2 digests") {
		t.Fatalf("auditverify = %d, %q, want 12 events in 2 chains and 2 digests", code, out)
	}
	// The dev stack is shared: only breaks about this run's data count. A
	// test running alongside may have digests of an earlier day, which
	// this run's new digest chain does not name.
	restart := regexp.MustCompile(`digest_chain_broken: day ` + days[0] + `: digest chain restarts after digest (\S+)`)
	for _, line := range strings.Split(out, "\n") {
		if m := restart.FindStringSubmatch(line); m != nil && m[1] < days[0] {
			continue
		}
		if strings.Contains(line, days[0]) || strings.Contains(line, days[1]) || strings.Contains(line, chains[0]) || strings.Contains(line, chains[len(chains)-1]) {
			if strings.Contains(strings.ToLower(line), "break") {
				t.Errorf("auditverify reported %q", line)
			}
		}
	}
	if code != exitOK {
		t.Logf("auditverify exit %d from other data on the shared stack:\n%s", code, out)
	}
}

func cleanup(t *testing.T, db *dynamodb.Client, table string, days []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, d := range days {
		out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String(audit.ByDayIndex),
			KeyConditionExpression:    aws.String("#d = :d"),
			ExpressionAttributeNames:  map[string]string{"#d": "day"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: d}}})
		if err != nil {
			t.Errorf("Query(%s) err = %v", d, err)
			return
		}
		for _, it := range out.Items {
			if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}}); err != nil {
				t.Errorf("DeleteItem() err = %v", err)
			}
		}
	}
}
