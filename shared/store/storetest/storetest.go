package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/waguard/waguard/devstack/provision"
	"github.com/waguard/waguard/internal/samtemplate"
	"github.com/waguard/waguard/shared/audit"
	"github.com/waguard/waguard/shared/envelope"
)

// Stage is the stage the tables are named for: waguard-test-data, …
const Stage = "test"

// Env is template.yaml's tables in memory, empty, and a KMS key.
type Env struct {
	DB  *DB
	KMS *KMS
	// Data, Keys and Audit name the data, keys and audit tables.
	Data, Keys, Audit string
}

// New returns a fresh Env; it fails t when template.yaml cannot be read.
func New(t testing.TB) *Env {
	t.Helper()
	tables, names, err := templateTables()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	db, err := NewDB(context.Background(), tables...)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return &Env{DB: db, KMS: NewKMS(), Data: names["DataTable"], Keys: names["KeysTable"], Audit: names["AuditTable"]}
}

// Envelope returns an envelope over e's keys table and KMS key.
func (e *Env) Envelope(t testing.TB) *envelope.Envelope {
	t.Helper()
	env, err := envelope.New(e.KMS, e.DB, envelope.Config{KeyID: KeyID, KeysTable: e.Keys})
	if err != nil {
		t.Fatalf("storetest: envelope.New() err = %v", err)
	}
	return env
}

// AuditWriter returns an audit writer over e's audit table with clock now.
func (e *Env) AuditWriter(t testing.TB, now func() time.Time) *audit.Writer {
	t.Helper()
	w, err := audit.NewWriter(e.DB, audit.WriterConfig{Table: e.Audit, Function: "storetest", Now: now})
	if err != nil {
		t.Fatalf("storetest: audit.NewWriter() err = %v", err)
	}
	return w
}

var (
	loadOnce   sync.Once
	loaded     []*dynamodb.CreateTableInput
	loadedName map[string]string
	loadErr    error
)

// templateTables reads the tables of template.yaml once: their
// CreateTable requests and names by logical id.
func templateTables() ([]*dynamodb.CreateTableInput, map[string]string, error) {
	loadOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			loadErr = err
			return
		}
		tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"), samtemplate.Resolver{Params: map[string]string{"Stage": Stage}})
		if err != nil {
			loadErr = err
			return
		}
		loadedName = map[string]string{}
		for id, tb := range tpl.CFN.GetAllDynamoDBTableResources() {
			loaded = append(loaded, provision.TableInput(tb))
			loadedName[id] = aws.ToString(tb.TableName)
		}
	})
	return loaded, loadedName, loadErr
}

// moduleRoot is the directory of go.mod above the working directory (a
// test runs in its package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find template.yaml: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find template.yaml: no go.mod above the working directory")
		}
		dir = parent
	}
}
