package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// FuzzParseExport checks that parsing and verifying any export never
// panics, and that what parses round-trips to identical bytes.
func FuzzParseExport(f *testing.F) {
	fx := newFixture(f)
	var buf bytes.Buffer
	if err := WriteExport(&buf, fx.db.snapshot()); err != nil {
		f.Fatalf("WriteExport() err = %v", err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"Item":{"pk":{"S":"chain#a"},"sk":{"S":"00000000000000000001"},"seq":{"N":"1"}}}`))
	f.Add([]byte(`{"Item":{"pk":{"S":"digest#2026-03-01"},"sk":{"S":"part#0001"},"heads":{"L":[{"M":{}}]}}}`))
	f.Add([]byte(`{"Items":[{"a":{"M":{"b":{"L":[{"NULL":true}]}}}}]}`))
	pub := &fx.signer.key.PublicKey
	f.Fuzz(func(t *testing.T, data []byte) {
		its, err := ParseExport(bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, err := Verify(its, pub, sealed); err != nil {
			t.Fatalf("Verify() err = %v, want nil", err)
		}
		var one, two bytes.Buffer
		if err := WriteExport(&one, its); err != nil {
			t.Fatalf("WriteExport() err = %v", err)
		}
		again, err := ParseExport(bytes.NewReader(one.Bytes()))
		if err != nil {
			t.Fatalf("ParseExport(WriteExport()) err = %v, want nil", err)
		}
		if err := WriteExport(&two, again); err != nil || !bytes.Equal(one.Bytes(), two.Bytes()) {
			t.Fatalf("export round trip differs:\n%s\n%s", one.Bytes(), two.Bytes())
		}
	})
}

// FuzzParseEvent builds event items from arbitrary attribute values: the
// parser never panics, and an event it accepts stores back identically.
func FuzzParseEvent(f *testing.F) {
	e := vectorEvent()
	e.Hash = e.ComputeHash()
	f.Add("chain#"+e.Chain, seqKey(e.Seq), "7", "2026-03-01", formatTime(e.Time), e.Hash.String(), "k", "v")
	f.Add("chain#x", "00000000000000000001", "1", "2026-03-01", "2026-03-01T00:00:00Z", Hash{}.String(), "", "")
	f.Fuzz(func(t *testing.T, pk, sk, seq, day, tm, hash, dk, dv string) {
		it := eventItem(&e)
		it[attrPK], it[attrSK], it[attrDay], it[attrTime], it[attrHash] = strAV(pk), strAV(sk), strAV(day), strAV(tm), strAV(hash)
		it[attrSeq] = &typesN{Value: seq}
		if dk != "" {
			it[attrDetails] = mapAV(dk, dv)
		}
		got, err := parseEvent(it)
		if err != nil {
			return
		}
		back, err := parseEvent(eventItem(&got.Event))
		if err != nil || back.ComputeHash() != got.ComputeHash() {
			t.Fatalf("parseEvent(eventItem(parsed)) = %v, %v: round trip differs", back, err)
		}
	})
}

// FuzzVerifySignature feeds arbitrary signatures and digests to the
// offline check.
func FuzzVerifySignature(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add("2026-03-01", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, day string, sig []byte) {
		d := &Digest{Day: day, Signature: sig}
		d.Hash = d.ComputeHash()
		if d.Verify(&k.PublicKey) == nil {
			t.Fatalf("Verify() accepted a signature not made by the key")
		}
	})
}

type typesN = types.AttributeValueMemberN

func mapAV(k, v string) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{k: strAV(v)}}
}

// FuzzParseDigestRoot builds digest roots from arbitrary values of the
// fields formats 1 and 2 differ in: the parser never panics, and a root it
// accepts stores back identically and hashes in the format it came in.
func FuzzParseDigestRoot(f *testing.F) {
	d := vectorDigest()
	d.Hash = d.ComputeHash()
	f.Add("2", true, true, "2026-03-01", "2026-03-02T00:15:00.5Z", "1")
	f.Add("1", false, false, "2026-03-01", "2026-03-04T00:15:00Z", "0")
	f.Add("3", true, false, "2026-3-1", "yesterday", "-1")
	f.Fuzz(func(t *testing.T, v string, hasLate, late bool, day, created, parts string) {
		it := digestItems(&d)[0]
		it[attrVersion], it[attrDay], it[attrCreatedAt] = &typesN{Value: v}, strAV(day), strAV(created)
		it[attrPK], it[attrParts] = strAV(digestPrefix+day), &typesN{Value: parts}
		delete(it, attrLate)
		if hasLate {
			it[attrLate] = &types.AttributeValueMemberBOOL{Value: late}
		}
		got, n, err := parseDigestRoot(it)
		if err != nil {
			return
		}
		if got.v1 != (v == formatV1) || got.Late != (hasLate && late) || n > maxParts {
			t.Fatalf("parseDigestRoot() = format 1 %v, late %v, %d parts from v %q, late %v %v", got.v1, got.Late, n, v, hasLate, late)
		}
		back, _, err := parseDigestRoot(digestItems(got)[0])
		if err != nil || back.ComputeHash() != got.ComputeHash() {
			t.Fatalf("parseDigestRoot(digestItems(parsed)) = %+v, %v: round trip differs", back, err)
		}
	})
}
