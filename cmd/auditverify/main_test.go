package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/waguard/waguard/shared/audit"
)

var update = flag.Bool("update", false, "regenerate testdata/export-v2.json and testdata/public-v2.pem (export.json, format 1, is frozen)")

const (
	table = "waguard-test-audit"
	keyID = "alias/waguard-test-audit-signing"
)

// memTable is a minimal audit table: it stores puts, answers GetItem and
// the by-day Query in one page, and scans in pages of ten.
type memTable struct {
	items []map[string]types.AttributeValue
}

func str(it map[string]types.AttributeValue, a string) string {
	s, _ := it[a].(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

func (m *memTable) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.items = append(m.items, in.Item)
	return &dynamodb.PutItemOutput{}, ctx.Err()
}

func (m *memTable) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	for _, it := range m.items {
		if str(it, "pk") == str(in.Key, "pk") && str(it, "sk") == str(in.Key, "sk") {
			return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"hash": it["hash"]}}, ctx.Err()
		}
	}
	return &dynamodb.GetItemOutput{}, ctx.Err()
}

func (m *memTable) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out := &dynamodb.QueryOutput{}
	for _, it := range m.items {
		if str(it, "day") == str(in.ExpressionAttributeValues, ":d") {
			out.Items = append(out.Items, it)
		}
	}
	return out, ctx.Err()
}

func (m *memTable) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, ti := range in.TransactItems {
		m.items = append(m.items, ti.Put.Item)
	}
	return &dynamodb.TransactWriteItemsOutput{}, ctx.Err()
}

func (m *memTable) Scan(ctx context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	start := 0
	if in.ExclusiveStartKey != nil {
		start = len(str(in.ExclusiveStartKey, "pos"))
	}
	end := min(len(m.items), start+10)
	out := &dynamodb.ScanOutput{Items: m.items[start:end]}
	if end < len(m.items) {
		out.LastEvaluatedKey = map[string]types.AttributeValue{"pos": &types.AttributeValueMemberS{Value: strings.Repeat("x", end)}}
	}
	return out, ctx.Err()
}

// keyStore signs and serves the public key like KMS.
type keyStore struct{ key *ecdsa.PrivateKey }

func (k keyStore) Sign(ctx context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, in.Message)
	return &kms.SignOutput{Signature: sig}, err
}

func (k keyStore) GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.key.PublicKey)
	return &kms.GetPublicKeyOutput{PublicKey: der, KeySpec: kmstypes.KeySpecEccNistP256, KeyUsage: kmstypes.KeyUsageTypeSignVerify}, err
}

// history writes two days of events from two writers and digests them.
func history(t *testing.T) (*memTable, keyStore) {
	t.Helper()
	db := &memTable{}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ks := keyStore{key: key}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Minute); return now }
	ctx := context.Background()
	for _, fn := range []string{"waguard-test-send", "waguard-test-webhook"} {
		w, err := audit.NewWriter(db, audit.WriterConfig{Table: table, Function: fn, Now: clock})
		if err != nil {
			t.Fatalf("NewWriter() err = %v", err)
		}
		for range 8 {
			ev := audit.Event{Type: audit.EventMessageReceived, Actor: audit.Actor{Caller: "meta"}, RequestID: "req-1",
				Subject: "pZ3kQ-synthetic", Details: map[string]string{"class": "support", "kind": "text"}}
			if _, err := w.Append(ctx, ev); err != nil {
				t.Fatalf("Append() err = %v", err)
			}
			now = now.Add(3 * time.Hour)
		}
	}
	d, _ := audit.NewDigester(db, ks, audit.DigesterConfig{Table: table, KeyID: keyID, LookBack: 2, Now: clock})
	for _, day := range []string{"2026-03-01", "2026-03-02"} {
		end, _ := time.Parse(time.DateOnly, day)
		now = end.Add(24*time.Hour + 15*time.Minute) // the scheduled run
		if made, err := d.Create(ctx, day); err != nil || made[0].Late {
			t.Fatalf("Create(%s) = %v, err %v, want an on-time digest", day, made, err)
		}
	}
	return db, ks
}

func writeFile(t *testing.T, path string, write func(*os.File) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("Create(%s) err = %v", path, err)
	}
	if err := write(f); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	f.Close()
}

func pemFile(t *testing.T, path string, key *ecdsa.PublicKey) {
	t.Helper()
	der, _ := x509.MarshalPKIXPublicKey(key)
	writeFile(t, path, func(f *os.File) error { return pem.Encode(f, &pem.Block{Type: "PUBLIC KEY", Bytes: der}) })
}

func noClients(context.Context) (scanner, keyFetcher, error) {
	panic("no AWS clients in this test")
}

func runCmd(t *testing.T, c clients, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, c)
	return code, out.String() + errOut.String()
}

// TestGoldenExport verifies committed exports, which pin the item and
// digest formats: they must always verify. export.json holds format 1
// digests (signed without the late flag) and is never regenerated;
// export-v2.json holds format 2 digests.
func TestGoldenExport(t *testing.T) {
	if *update {
		db, ks := history(t)
		writeFile(t, "testdata/export-v2.json", func(f *os.File) error { return audit.WriteExport(f, db.items) })
		pemFile(t, "testdata/public-v2.pem", &ks.key.PublicKey)
	}
	for _, g := range []struct{ export, key string }{{"export.json", "public.pem"}, {"export-v2.json", "public-v2.pem"}} {
		code, out := runCmd(t, noClients, "-file", "testdata/"+g.export, "-public-key", "testdata/"+g.key, "-sealed-through", "2026-03-02")
		if code != exitOK || !strings.Contains(out, "checked 16 events in 2 chains and 2 digests") {
			t.Errorf("auditverify %s = %d, %q, want 0 and 16 events in 2 chains, 2 digests", g.export, code, out)
		}
	}
}

func TestRun(t *testing.T) {
	db, ks := history(t)
	dir := t.TempDir()
	good, other := filepath.Join(dir, "good.pem"), filepath.Join(dir, "other.pem")
	pemFile(t, good, &ks.key.PublicKey)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemFile(t, other, &otherKey.PublicKey)
	tampered := filepath.Join(dir, "tampered.json")
	writeFile(t, tampered, func(f *os.File) error { return audit.WriteExport(f, append(db.items[:3:3], db.items[4:]...)) })
	noNewest := filepath.Join(dir, "no-newest-digest.json")
	writeFile(t, noNewest, func(f *os.File) error {
		return audit.WriteExport(f, slices.DeleteFunc(slices.Clone(db.items), func(it map[string]types.AttributeValue) bool {
			return str(it, "pk") == "digest#2026-03-02"
		}))
	})
	withAWS := func(context.Context) (scanner, keyFetcher, error) { return db, ks, nil }
	dumped := filepath.Join(dir, "dump.json")
	sealed := []string{"-sealed-through", "2026-03-02"}
	tests := []struct {
		name string
		c    clients
		args []string
		code int
		want string
	}{
		{"scan and kms key", withAWS, []string{"-table", table, "-kms-key", keyID, "-dump", dumped, "-sealed-through", "2026-03-02"}, exitOK, "OK"},
		{"dumped export", noClients, append([]string{"-file", dumped, "-public-key", good}, sealed...), exitOK, "unsealed 2026-03-03"},
		{"window", noClients, append([]string{"-file", dumped, "-public-key", good, "-from", "2026-03-02", "-to", "2026-03-02"}, sealed...), exitOK, "checked 8 events"},
		{"deleted event", noClients, append([]string{"-file", tampered, "-public-key", good}, sealed...), exitBreak, "FIRST BREAK deleted_event"},
		{"deleted newest digest", noClients, append([]string{"-file", noNewest, "-public-key", good}, sealed...), exitBreak, "FIRST BREAK digest_missing: day 2026-03-02"},
		{"deleted newest digest, not yet due", noClients, []string{"-file", noNewest, "-public-key", good, "-sealed-through", "2026-03-01"}, exitOK, "unsealed 2026-03-02"},
		{"default: every day since is due", noClients, []string{"-file", dumped, "-public-key", good}, exitBreak,
			"digest_missing: day 2026-03-03: no digest for the "},
		{"wrong key", noClients, append([]string{"-file", dumped, "-public-key", other}, sealed...), exitBreak, "bad_digest"},
		{"no source", noClients, []string{"-public-key", good}, exitError, "need one of"},
		{"two keys", noClients, []string{"-file", dumped, "-public-key", good, "-kms-key", keyID}, exitError, "need one of"},
		{"bad day", noClients, []string{"-file", dumped, "-public-key", good, "-from", "March"}, exitError, "YYYY-MM-DD"},
		{"bad sealed-through", noClients, []string{"-file", dumped, "-public-key", good, "-sealed-through", "yesterday"}, exitError, "YYYY-MM-DD"},
		{"missing file", noClients, []string{"-file", filepath.Join(dir, "none"), "-public-key", good}, exitError, "read export"},
		{"not a key", noClients, []string{"-file", dumped, "-public-key", dumped}, exitError, "parse public key"},
		{"dump exists", withAWS, []string{"-table", table, "-kms-key", keyID, "-dump", dumped}, exitError, "dump"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runCmd(t, tt.c, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Errorf("auditverify %v = %d, %q, want %d and %q", tt.args, code, out, tt.code, tt.want)
			}
		})
	}
}
