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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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
	f.clock.set(dayThree.AddDate(0, 0, 3).Add(15 * time.Minute))
	// Day three and four were missed; creating day five digests them
	// first, marked late.
	made, err := f.digester.Create(context.Background(), "2026-03-05")
	if err != nil {
		t.Fatalf("Create() err = %v, want nil", err)
	}
	got := map[string]bool{}
	for _, d := range made {
		got[d.Day] = d.Late
	}
	want := map[string]bool{d3: true, "2026-03-04": true, "2026-03-05": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Create() digests and their late flags (-want +got):\n%s", diff)
	}
	rep := verifyFake(t, f.db, f.signer, VerifyOptions{SealedThrough: "2026-03-05"})
	if diff := cmp.Diff([]string{"late_digest 2026-03-03", "late_digest 2026-03-04"}, breakDays(rep)); diff != "" || len(rep.Unsealed) != 0 {
		t.Errorf("Verify() breaks (-want +got):\n%s\nunsealed %v, want none", diff, rep.Unsealed)
	}
}

// breakDays lists a report's breaks as "reason day".
func breakDays(rep *Report) []string {
	var out []string
	for _, b := range rep.Breaks {
		out = append(out, string(b.Reason)+" "+b.Day)
	}
	return out
}

func TestDigestFirstEver(t *testing.T) {
	db, s, clock := newFakeTable(), newFakeSigner(t), newClock(dayTwo)
	d := newTestDigester(t, db, s, clock)
	made, err := d.Create(context.Background(), d1)
	if err != nil || len(made) != 1 {
		t.Fatalf("Create() = %d digests, err %v, want 1, nil", len(made), err)
	}
	dg := made[0]
	if dg.PrevDay != "" || !dg.PrevHash.IsZero() || len(dg.Heads) != 0 || dg.Late {
		t.Errorf("first digest = %+v, want genesis with no heads, on time", dg)
	}
	if err := dg.Verify(&s.key.PublicKey); err != nil {
		t.Errorf("Verify() err = %v, want nil", err)
	}
}

// TestDigestNoPreviousStartsAtTheTrail: with no digest in the look-back
// window, the digester starts at the window's first day with items, not
// at yesterday, so a trail whose digests were all deleted (or never made)
// is digested from its start, late.
func TestDigestNoPreviousStartsAtTheTrail(t *testing.T) {
	db, s, clock := newFakeTable(), newFakeSigner(t), newClock(dayOne.Add(9*time.Hour))
	mustAppend(t, newTestWriter(t, db, clock), EventAuthFailed)
	clock.set(dayOne.AddDate(0, 0, 3).Add(15 * time.Minute))
	made, err := newTestDigester(t, db, s, clock).Create(context.Background(), d3)
	if err != nil {
		t.Fatalf("Create() err = %v, want nil", err)
	}
	var got []string
	for _, d := range made {
		got = append(got, fmt.Sprintf("%s late=%v heads=%d", d.Day, d.Late, len(d.Heads)))
	}
	want := []string{d1 + " late=true heads=1", d2 + " late=true heads=0", d3 + " late=false heads=0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Create() digests (-want +got):\n%s", diff)
	}
	if made[0].PrevDay != "" || made[1].PrevDay != d1 || made[2].PrevDay != d2 {
		t.Errorf("digest chain = %s, %s, %s, want genesis, %s, %s", made[0].PrevDay, made[1].PrevDay, made[2].PrevDay, d1, d2)
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
	made, err := newTestDigester(t, db, s, clock).Create(context.Background(), d1)
	if err != nil || len(made) != 1 {
		t.Fatalf("Create() = %d digests, err %v, want 1, nil", len(made), err)
	}
	dg := made[0]
	if len(dg.Heads) != n || len(digestItems(dg)) != 3 {
		t.Errorf("digest has %d heads in %d items, want %d in 3", len(dg.Heads), len(digestItems(dg)), n)
	}
	if rep := verifyFake(t, db, s, VerifyOptions{SealedThrough: d1}); !rep.OK() || rep.Chains != n {
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

// vectorDigest is fixed; its hashes pin both digest encodings.
func vectorDigest() Digest {
	return Digest{
		Day: "2026-03-01", PrevDay: "2026-02-28", PrevHash: Hash{9, 8, 7},
		CreatedAt: time.Date(2026, 3, 2, 0, 15, 0, 500000000, time.UTC),
		ExpiresAt: time.Date(2032, 3, 2, 0, 0, 0, 0, time.UTC),
		Heads: []Head{
			{Chain: "waguard-prod-erase-abcdefghijklmnop", Seq: 7, Hash: Hash{1, 2, 3}, Count: 3},
			{Chain: "waguard-prod-send-qrstuvwxyzabcdef", Seq: 12, Hash: Hash{4, 5, 6}, Count: 12},
		},
	}
}

func TestDigestHashVector(t *testing.T) {
	// Computed independently of this package (a short Python script
	// following the encoding in the ComputeHash doc).
	tests := []struct {
		name     string
		v1, late bool
		want     string
	}{
		{"format 1", true, false, "7184950e265c0be4ee7dbda266add75efc87523e4b0fb79de01faeb5411e1196"},
		{"format 2 on time", false, false, "072a3e3e24243902cb6689df03ed212e73ff06e1a0da9b4de73be3e204b1c229"},
		{"format 2 late", false, true, "16d16899a69df7cbf20008f800c5d9dcbb7a396fcdcb2b984a96b5334414e137"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := vectorDigest()
			d.v1, d.Late = tt.v1, tt.late
			if got := d.ComputeHash().String(); got != tt.want {
				t.Errorf("ComputeHash() = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestDigestItemFormats checks both root formats parse back to what was
// signed, and that moving a digest between them, or dropping or adding
// the late flag, never yields a digest that verifies.
func TestDigestItemFormats(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed := func(v1, late bool) *Digest {
		d := vectorDigest()
		d.v1, d.Late = v1, late
		d.Hash = d.ComputeHash()
		d.Signature, _ = ecdsa.SignASN1(rand.Reader, key, d.Hash[:])
		return &d
	}
	roundTrip := func(root map[string]types.AttributeValue, heads []Head) (*Digest, error) {
		d, _, err := parseDigestRoot(root)
		if err != nil {
			return nil, err
		}
		d.Heads = heads
		return d, d.Verify(&key.PublicKey)
	}
	for _, tt := range []struct{ v1, late bool }{{true, false}, {false, false}, {false, true}} {
		d := signed(tt.v1, tt.late)
		got, err := roundTrip(digestItems(d)[0], d.Heads)
		if err != nil || got.Late != tt.late || got.v1 != tt.v1 {
			t.Errorf("parse(digestItems(v1 %v, late %v)) = %+v, %v, want the same digest, verified", tt.v1, tt.late, got, err)
		}
	}
	late := signed(false, true)
	tests := []struct {
		name string
		edit func(root map[string]types.AttributeValue)
	}{
		{"late flag cleared", func(r map[string]types.AttributeValue) { r[attrLate] = &types.AttributeValueMemberBOOL{Value: false} }},
		{"late flag dropped", func(r map[string]types.AttributeValue) { delete(r, attrLate) }},
		{"relabelled format 1", func(r map[string]types.AttributeValue) {
			delete(r, attrLate)
			r[attrVersion] = &types.AttributeValueMemberN{Value: formatV1}
		}},
		{"format 1 with a late flag", func(r map[string]types.AttributeValue) {
			r[attrVersion] = &types.AttributeValueMemberN{Value: formatV1}
		}},
		{"late flag not a boolean", func(r map[string]types.AttributeValue) { r[attrLate] = strAV("false") }},
		{"format 3", func(r map[string]types.AttributeValue) { r[attrVersion] = &types.AttributeValueMemberN{Value: "3"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := digestItems(late)[0]
			tt.edit(root)
			if got, err := roundTrip(root, late.Heads); err == nil {
				t.Errorf("parse and Verify() = %+v, nil, want an error", got)
			}
		})
	}
}

// hungTable answers no call until the caller gives up.
type hungTable struct{ *fakeTable }

func (h hungTable) GetItem(ctx context.Context, _ *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestDigestCallTimeout(t *testing.T) {
	clock := newClock(dayTwo)
	d, err := NewDigester(hungTable{newFakeTable()}, newFakeSigner(t), DigesterConfig{Table: testTable, KeyID: testKeyID,
		Now: clock.now, CallTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := d.Create(context.Background(), d1); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Create() with DynamoDB hung = %v after %v, want DeadlineExceeded within the call timeout", err, time.Since(start))
	}
}
