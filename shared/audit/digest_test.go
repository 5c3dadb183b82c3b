package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/google/go-cmp/cmp"
)

func newTestDigester(t testing.TB, db digestTable, s signer, clock *testClock) *Digester {
	t.Helper()
	d, err := NewDigester(db, s, DigesterConfig{Table: testTable, KeyID: testKeyID, Now: clock.now})
	if err != nil {
		t.Fatalf("NewDigester() err = %v, want nil", err)
	}
	return d
}

func TestDigestHeadsAndChain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	one, err := f.digester.get(ctx, d1)
	if err != nil || one == nil {
		t.Fatalf("get(%s) = %v, %v, want a digest", d1, one, err)
	}
	its := f.db.snapshot()
	root, _, err := parseDigestRoot(its[find(t, its, digestPrefix+d2, digestSK)])
	if err != nil {
		t.Fatalf("parseDigestRoot() err = %v, want nil", err)
	}
	if root.PrevDay != d1 || root.PrevHash != one.Hash {
		t.Errorf("digest %s prev = %s %s, want %s %s", d2, root.PrevDay, root.PrevHash, d1, one.Hash)
	}
	_, _, heads, err := parseDigestPart(its[find(t, its, digestPrefix+d2, partKey(1))])
	if err != nil {
		t.Fatalf("parseDigestPart() err = %v, want nil", err)
	}
	want := []Head{
		{Chain: f.a.chain, Seq: 7, Count: 3}, {Chain: f.b.chain, Seq: 7, Count: 3}, {Chain: f.d.chain, Seq: 3, Count: 3},
	}
	for i := range want {
		want[i].Hash = event(t, its[find(t, its, chainPrefix+want[i].Chain, seqKey(want[i].Seq))]).Hash
	}
	sortHeads(want)
	if diff := cmp.Diff(want, heads); diff != "" {
		t.Errorf("digest %s heads mismatch (-want +got):\n%s", d2, diff)
	}
}

func TestDigestCreateRejects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		day    string
		exists bool
	}{
		{day: "2026-3-1"},
		{day: d3}, // the clock is on day three: not over yet
		{day: "2026-03-04"},
		{day: d1, exists: true},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			_, err := f.digester.Create(ctx, tt.day)
			if err == nil || errors.Is(err, ErrDigestExists) != tt.exists {
				t.Errorf("Create(%s) err = %v, want error (exists %v)", tt.day, err, tt.exists)
			}
		})
	}
	if _, err := NewDigester(f.db, f.signer, DigesterConfig{Table: testTable}); err == nil {
		t.Errorf("NewDigester(no key) err = nil, want error")
	}
}

func TestDigestCatchUp(t *testing.T) {
	f := newFixture(t)
	f.clock.set(dayThree.AddDate(0, 0, 3))
	// Day three and four are missing; creating day five digests them first.
	if _, err := f.digester.Create(context.Background(), "2026-03-05"); err != nil {
		t.Fatalf("Create() err = %v, want nil", err)
	}
	for _, day := range []string{d3, "2026-03-04", "2026-03-05"} {
		if d, err := f.digester.get(context.Background(), day); err != nil || d == nil {
			t.Errorf("get(%s) = %v, %v, want a digest", day, d, err)
		}
	}
	if rep := verifyFake(t, f.db, f.signer, VerifyOptions{}); !rep.OK() || len(rep.Unsealed) != 0 {
		t.Errorf("Verify() = %+v, want OK with nothing unsealed", rep)
	}
}

func TestDigestFirstEver(t *testing.T) {
	db, s, clock := newFakeTable(), newFakeSigner(t), newClock(dayTwo)
	d := newTestDigester(t, db, s, clock)
	dg, err := d.Create(context.Background(), d1)
	if err != nil {
		t.Fatalf("Create() err = %v, want nil", err)
	}
	if dg.PrevDay != "" || !dg.PrevHash.IsZero() || len(dg.Heads) != 0 {
		t.Errorf("first digest = %+v, want genesis with no heads", dg)
	}
	if err := dg.Verify(&s.key.PublicKey); err != nil {
		t.Errorf("Verify() err = %v, want nil", err)
	}
}

func TestDigestManyChains(t *testing.T) {
	db, s, clock := newFakeTable(), newFakeSigner(t), newClock(dayOne)
	db.pageSize = 500
	const n = headsPerPart + 5
	for range n {
		mustAppend(t, newTestWriter(t, db, clock), EventAuthFailed)
	}
	clock.set(dayTwo)
	dg, err := newTestDigester(t, db, s, clock).Create(context.Background(), d1)
	if err != nil {
		t.Fatalf("Create() err = %v, want nil", err)
	}
	if len(dg.Heads) != n || len(digestItems(dg)) != 3 {
		t.Errorf("digest has %d heads in %d items, want %d in 3", len(dg.Heads), len(digestItems(dg)), n)
	}
	if rep := verifyFake(t, db, s, VerifyOptions{}); !rep.OK() || rep.Chains != n {
		t.Errorf("Verify() = %d chains, breaks %v, want %d chains, none", rep.Chains, rep.Breaks, n)
	}
}

type failingSigner struct{}

func (failingSigner) Sign(context.Context, *kms.SignInput, ...func(*kms.Options)) (*kms.SignOutput, error) {
	return nil, &kmstypes.KMSInvalidStateException{Message: aws.String("disabled")}
}

func TestDigestSignFailureStoresNothing(t *testing.T) {
	db, clock := newFakeTable(), newClock(dayTwo)
	_, err := newTestDigester(t, db, failingSigner{}, clock).Create(context.Background(), d1)
	if err == nil || len(db.snapshot()) != 0 {
		t.Errorf("Create() err = %v with %d items, want error and none", err, len(db.snapshot()))
	}
}

func TestParsePublicKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	der := func(k any) []byte {
		b, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatalf("MarshalPKIXPublicKey() err = %v", err)
		}
		return b
	}
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	tests := []struct {
		name    string
		in      []byte
		wantErr bool
	}{
		{"der", der(&p256.PublicKey), false},
		{"pem", pemOf("PUBLIC KEY", der(&p256.PublicKey)), false},
		{"wrong pem type", pemOf("EC PRIVATE KEY", der(&p256.PublicKey)), true},
		{"p384", der(&p384.PublicKey), true},
		{"rsa", der(&rsaKey.PublicKey), true},
		{"garbage", []byte("not a key"), true},
		{"empty", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePublicKey(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePublicKey() err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !k.Equal(&p256.PublicKey) {
				t.Errorf("ParsePublicKey() = another key")
			}
		})
	}
}

func TestDigestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	its := f.db.snapshot()
	d, _, _ := parseDigestRoot(its[find(t, its, digestPrefix+d1, digestSK)])
	_, _, d.Heads, _ = parseDigestPart(its[find(t, its, digestPrefix+d1, partKey(1))])
	if err := d.Verify(&f.signer.key.PublicKey); err != nil {
		t.Fatalf("Verify() err = %v, want nil", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		edit func(*Digest)
		pub  *ecdsa.PublicKey
	}{
		{"other key", func(*Digest) {}, &other.PublicKey},
		{"no key", func(*Digest) {}, nil},
		{"head changed", func(d *Digest) { d.Heads[0].Seq++ }, &f.signer.key.PublicKey},
		{"truncated signature", func(d *Digest) { d.Signature = d.Signature[:10] }, &f.signer.key.PublicKey},
		{"day changed", func(d *Digest) { d.Day = d2 }, &f.signer.key.PublicKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *d
			c.Heads = append([]Head(nil), d.Heads...)
			tt.edit(&c)
			if err := c.Verify(tt.pub); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify() err = %v, want ErrBadSignature", err)
			}
		})
	}
}

func ExampleDigest_Verify() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := &Digest{Day: "2026-03-01", CreatedAt: time.Date(2026, 3, 2, 0, 15, 0, 0, time.UTC)}
	d.Hash = d.ComputeHash()
	d.Signature, _ = ecdsa.SignASN1(rand.Reader, key, d.Hash[:]) // what KMS Sign (DIGEST) returns
	fmt.Println(d.Verify(&key.PublicKey))
	d.Day = "2026-03-02"
	fmt.Println(d.Verify(&key.PublicKey))
	// Output:
	// <nil>
	// audit digest: bad signature
}
