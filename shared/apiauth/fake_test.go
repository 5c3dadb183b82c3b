package apiauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/waguard/waguard/shared/secrets"
)

// testPrefix names client secrets in tests, as CLIENT_SECRET_PREFIX would.
const testPrefix = "waguard/test/clients/"

// fakeVersion is one secret version, as stored in testdata/clients.
type fakeVersion struct {
	ID     string          `json:"id"`
	Stages []string        `json:"stages"`
	Age    string          `json:"age"`
	Secret json.RawMessage `json:"secret"`
	Raw    string          `json:"raw"`
}

// fakeSM is a hand-written Secrets Manager serving the clients in
// testdata/clients. It honours ctx, fails every call with down when set,
// and counts calls.
type fakeSM struct {
	mu      sync.Mutex
	now     time.Time
	secrets map[string][]fakeVersion
	down    error
	calls   int
}

// newFakeSM loads every testdata/clients/<client-id>.json as the secret
// testPrefix+<client-id>.
func newFakeSM(t testing.TB) *fakeSM {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "clients", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("Glob(testdata/clients) = %v, %v; want files, nil", files, err)
	}
	f := &fakeSM{now: time.Now(), secrets: map[string][]fakeVersion{}}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("ReadFile(%s) err = %v, want nil", file, err)
		}
		var doc struct{ Versions []fakeVersion }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("Unmarshal(%s) err = %v, want nil", file, err)
		}
		f.secrets[testPrefix+strings.TrimSuffix(filepath.Base(file), ".json")] = doc.Versions
	}
	return f
}

func (f *fakeSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	versions, err := f.lookup(ctx, aws.ToString(in.SecretId), "GetSecretValue")
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if slices.Contains(v.Stages, aws.ToString(in.VersionStage)) {
			s := v.Raw
			if v.Secret != nil {
				s = string(v.Secret)
			}
			return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(s), VersionId: aws.String(v.ID), VersionStages: v.Stages}, nil
		}
	}
	return nil, notFound("GetSecretValue")
}

func (f *fakeSM) ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error) {
	versions, err := f.lookup(ctx, aws.ToString(in.SecretId), "ListSecretVersionIds")
	if err != nil {
		return nil, err
	}
	out := &secretsmanager.ListSecretVersionIdsOutput{}
	for _, v := range versions {
		age, err := time.ParseDuration(v.Age)
		if err != nil {
			return nil, fmt.Errorf("fake: bad age %q", v.Age)
		}
		out.Versions = append(out.Versions, types.SecretVersionsListEntry{
			VersionId: aws.String(v.ID), VersionStages: v.Stages, CreatedDate: aws.Time(f.now.Add(-age)),
		})
	}
	return out, nil
}

// lookup honours ctx and down, counts the call and returns the versions
// of secret id.
func (f *fakeSM) lookup(ctx context.Context, id, op string) ([]fakeVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("operation error Secrets Manager: %s: %w", op, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down != nil {
		return nil, fmt.Errorf("operation error Secrets Manager: %s: %w", op, f.down)
	}
	versions, ok := f.secrets[id]
	if !ok {
		return nil, notFound(op)
	}
	return versions, nil
}

func (f *fakeSM) setDown(err error) { f.mu.Lock(); f.down = err; f.mu.Unlock() }

func (f *fakeSM) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// notFound wraps ResourceNotFoundException as the SDK does.
func notFound(op string) error {
	return fmt.Errorf("operation error Secrets Manager: %s: %w", op,
		&types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")})
}

// errThrottled stands in for any Secrets Manager failure but not-found.
var errThrottled = errors.New("ThrottlingException: Rate exceeded")

// newTestAuthenticator returns an authenticator over a fresh store
// reading sm, with the default overlap.
func newTestAuthenticator(t testing.TB, sm *fakeSM) *Authenticator {
	t.Helper()
	a, err := New(secrets.NewStore(sm, time.Minute), Config{SecretPrefix: testPrefix})
	if err != nil {
		t.Fatalf("New err = %v, want nil", err)
	}
	return a
}

// testKey returns the synthetic key part of a testdata client secret.
func testKey(name string) string { return "TestKey" + name + strings.Repeat("0", 48-7-len(name)) }

// bearer returns the Authorization header presenting clientID's key.
func bearer(clientID, keyName string) string { return "Bearer wg_" + clientID + "_" + testKey(keyName) }
