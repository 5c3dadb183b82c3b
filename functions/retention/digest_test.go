package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/shared/audit"
)

// TestAuditDigestReportsLateDays runs the digest action after days it
// missed: it digests them, marks them late, says so in its result and
// reports AuditDigestsLate, which the audit digest alarm watches. A run
// that fails reports AuditDigestFailures. It runs the digester newHandler
// builds, as the function's role. Events are dated on a random day of the
// 24th century, which no other test uses.
func TestAuditDigestReportsLateDays(t *testing.T) {
	h, st, db := newEnv(t)
	ctx := context.Background()
	n, _ := rand.Int(rand.Reader, big.NewInt(70000))
	start := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n.Int64()))
	var days []string
	for i := range 4 {
		days = append(days, start.AddDate(0, 0, i).Format(time.DateOnly))
	}
	t.Cleanup(func() { deleteAuditDays(t, db, st.AuditTable, days) })
	w, err := audit.NewWriter(db, audit.WriterConfig{Table: st.AuditTable, Function: "waguard-test-retention",
		Now: func() time.Time { return start.Add(9 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(ctx, audit.Event{Type: audit.EventAuthFailed, Actor: audit.Actor{Caller: "client:test"}}); err != nil {
		t.Fatal(err)
	}
	now := start
	h.Now = func() time.Time { return now } // the digester's clock too
	run := func(t *testing.T, day int) (DigestResult, string, error) {
		t.Helper()
		var emf bytes.Buffer
		h.MetricsOut, now = &emf, start.AddDate(0, 0, day).Add(15*time.Minute)
		out, err := h.Handle(ctx, Event{Action: ActionAuditDigest})
		res, _ := out.(DigestResult)
		return res, emf.String(), err
	}

	// Three days after the first event: days one and two were missed.
	res, emf, err := run(t, 3)
	want := DigestResult{Day: days[2], Status: "created", Digested: days[:3], Late: days[:2]}
	if diff := cmp.Diff(want, res); diff != "" || err != nil {
		t.Errorf("audit_digest after missed days = err %v, result (-want +got):\n%s", err, diff)
	}
	if !strings.Contains(emf, `"AuditDigestsLate":2`) || !strings.Contains(emf, `"AuditDigestFailures":0`) {
		t.Errorf("EMF = %s, want AuditDigestsLate 2 and AuditDigestFailures 0", emf)
	}
	// Run again the same night: nothing to do, nothing late.
	if res, emf, err := run(t, 3); err != nil || res.Status != "exists" || res.Late == nil || !strings.Contains(emf, `"AuditDigestsLate":0`) {
		t.Errorf("audit_digest again = %+v, %v, EMF %s, want exists, late [] and AuditDigestsLate 0", res, err, emf)
	}
	// The next night the signing key is unusable: the run fails.
	cfg, err := configFromEnv(os.Getenv) // newEnv set the function's environment
	if err != nil {
		t.Fatal(err)
	}
	dc := cfg.Digester
	dc.Now = h.Now
	if h.Digester, err = audit.NewDigester(db, failingSigner{}, dc); err != nil {
		t.Fatal(err)
	}
	if _, emf, err := run(t, 4); err == nil || !strings.Contains(emf, `"AuditDigestFailures":1`) {
		t.Errorf("audit_digest with KMS failing = err %v, EMF %s, want an error and AuditDigestFailures 1", err, emf)
	}
}

// TestDigesterConfig: digests keep the events' retention, with its one
// default (2190 days), and a malformed value refuses the cold start.
func TestDigesterConfig(t *testing.T) {
	tests := []struct {
		days    string
		want    time.Duration
		wantErr bool
	}{
		{"", 2190 * 24 * time.Hour, false},
		{"400", 400 * 24 * time.Hour, false},
		{"0", 0, true},
		{"six years", 0, true},
	}
	for _, tt := range tests {
		env := map[string]string{"AUDIT_RETENTION_DAYS": tt.days, "AUDIT_SIGNING_KEY_ID": "alias/waguard-dev-audit-signing"}
		for k, v := range coreEnv {
			env[k] = v
		}
		cfg, err := configFromEnv(func(k string) string { return env[k] })
		c := cfg.Digester
		if (err != nil) != tt.wantErr || (err == nil && c.Retention != tt.want) {
			t.Errorf("digesterConfig(AUDIT_RETENTION_DAYS=%q) = %v, %v, want %v (error %v)", tt.days, c.Retention, err, tt.want, tt.wantErr)
		}
	}
}

type failingSigner struct{}

func (failingSigner) Sign(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error) {
	return nil, errors.New("kms unavailable")
}

// deleteAuditDays removes a test's audit items, as the table's admin.
func deleteAuditDays(t *testing.T, db *dynamodb.Client, table string, days []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, d := range days {
		p := dynamodb.NewQueryPaginator(db, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String(audit.ByDayIndex),
			KeyConditionExpression:    aws.String("#d = :d"),
			ExpressionAttributeNames:  map[string]string{"#d": "day"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: d}}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Errorf("Query(%s) err = %v", d, err)
				return
			}
			for _, it := range page.Items {
				if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
					Key: map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]}}); err != nil {
					t.Errorf("DeleteItem() err = %v", err)
				}
			}
		}
	}
}
