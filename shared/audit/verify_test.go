package audit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestVerifyDetectsTampering(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		tamper func(t *testing.T, its items) items
		want   Reason // of the first break; ReasonUnknown: no break
		also   Reason // another reason that must be reported
	}{
		{name: "intact", tamper: func(_ *testing.T, its items) items { return its }},
		{name: "delete middle event", want: ReasonDeleted, also: ReasonHeadMismatch, tamper: func(t *testing.T, its items) items {
			return without(its, evIndex(t, its, f.a, 2))
		}},
		{name: "delete a day's last event", want: ReasonHeadMismatch, also: ReasonDeleted, tamper: func(t *testing.T, its items) items {
			return without(its, evIndex(t, its, f.a, 4))
		}},
		{name: "delete whole chain", want: ReasonHeadMismatch, tamper: func(t *testing.T, its items) items {
			return slices.DeleteFunc(its, func(it map[string]types.AttributeValue) bool {
				return it[attrPK].(*types.AttributeValueMemberS).Value == chainPrefix+f.c.chain
			})
		}},
		{name: "delete the tail after the last digest (undetected)", tamper: func(t *testing.T, its items) items {
			return without(its, evIndex(t, its, f.a, lastSeq(f.a)))
		}},
		{name: "alter an event", want: ReasonAltered, tamper: func(t *testing.T, its items) items {
			i := evIndex(t, its, f.a, 2)
			e := event(t, its[i])
			e.Details["purpose"] = "marketing"
			its[i] = eventItem(&e.Event)
			return its
		}},
		{name: "alter and rehash an event", want: ReasonInserted, tamper: func(t *testing.T, its items) items {
			i := evIndex(t, its, f.a, 2)
			e := event(t, its[i])
			e.Type = EventMessageSent
			e.Hash = e.ComputeHash()
			its[i] = eventItem(&e.Event)
			return its
		}},
		{name: "alter, rehash and relink the chain", want: ReasonHeadMismatch, tamper: func(t *testing.T, its items) items {
			i := evIndex(t, its, f.a, 2)
			e := event(t, its[i])
			e.Subject = "someone-else"
			its[i] = eventItem(&e.Event)
			relink(t, its, f.a, 2, lastSeq(f.a))
			return its
		}},
		{name: "insert an event", want: ReasonInserted, tamper: func(t *testing.T, its items) items {
			return insertAt(t, its, f.a, 3, false)
		}},
		{name: "insert and relink", want: ReasonHeadMismatch, tamper: func(t *testing.T, its items) items {
			return insertAt(t, its, f.a, 3, true)
		}},
		{name: "append after the last digest (undetected)", tamper: func(t *testing.T, its items) items {
			e := event(t, its[evIndex(t, its, f.a, lastSeq(f.a))])
			e.Seq, e.PrevHash, e.ID = e.Seq+1, e.Hash, "ev_forged"
			e.Hash = e.ComputeHash()
			return append(its, eventItem(&e.Event))
		}},
		{name: "swap two events", want: ReasonReordered, tamper: func(t *testing.T, its items) items {
			i, j := evIndex(t, its, f.a, 2), evIndex(t, its, f.a, 3)
			its[i], its[j] = its[j], its[i]
			its[i][attrSK], its[j][attrSK] = its[j][attrSK], its[i][attrSK]
			return its
		}},
		{name: "swap, renumber and relink", want: ReasonReordered, tamper: func(t *testing.T, its items) items {
			i, j := evIndex(t, its, f.a, 2), evIndex(t, its, f.a, 3)
			ei, ej := event(t, its[i]), event(t, its[j])
			ei.Seq, ej.Seq = 3, 2
			its[i], its[j] = eventItem(&ej.Event), eventItem(&ei.Event)
			relink(t, its, f.a, 2, lastSeq(f.a))
			return its
		}},
		{name: "forge a digest", want: ReasonBadDigest, tamper: func(t *testing.T, its items) items {
			return forgeDigest(t, its, d1)
		}},
		{name: "alter a digest", want: ReasonBadDigest, tamper: func(t *testing.T, its items) items {
			i := find(t, its, digestPrefix+d1, digestSK)
			its[i][attrCreatedAt] = strAV("2026-03-02T00:00:00Z")
			return its
		}},
		{name: "delete a digest part", want: ReasonBadDigest, tamper: func(t *testing.T, its items) items {
			return without(its, find(t, its, digestPrefix+d2, partKey(1)))
		}},
		{name: "delete a digest", want: ReasonDigestMissing, tamper: func(t *testing.T, its items) items {
			its = without(its, find(t, its, digestPrefix+d1, digestSK))
			return without(its, find(t, its, digestPrefix+d1, partKey(1)))
		}},
		{name: "add a chain after the digest", want: ReasonNotCovered, tamper: func(t *testing.T, its items) items {
			e := event(t, its[evIndex(t, its, f.c, 1)])
			e.Chain = "waguard-test-send-forged"
			e.Hash = e.ComputeHash()
			return append(its, eventItem(&e.Event))
		}},
		{name: "extra attribute", want: ReasonMalformed, tamper: func(t *testing.T, its items) items {
			its[evIndex(t, its, f.b, 1)]["note"] = strAV("x")
			return its
		}},
		{name: "foreign item", want: ReasonMalformed, tamper: func(t *testing.T, its items) items {
			return append(its, map[string]types.AttributeValue{attrPK: strAV("other#1"), attrSK: strAV("x")})
		}},
		{name: "duplicate item", want: ReasonMalformed, tamper: func(t *testing.T, its items) items {
			return append(its, its[0])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			its := tt.tamper(t, f.db.snapshot())
			rep, err := Verify(its, &f.signer.key.PublicKey, sealed)
			if err != nil {
				t.Fatalf("Verify() err = %v, want nil", err)
			}
			got, _ := rep.First()
			if got.Reason != tt.want {
				t.Fatalf("Verify() first break = %v, want reason %q (all: %v)", got, tt.want, rep.Breaks)
			}
			if tt.also != ReasonUnknown && !slices.ContainsFunc(rep.Breaks, func(b Break) bool { return b.Reason == tt.also }) {
				t.Errorf("Verify() breaks = %v, want one with reason %q", rep.Breaks, tt.also)
			}
			if tt.want == ReasonUnknown && !slices.Equal(rep.Unsealed, []string{d3}) {
				t.Errorf("Verify() unsealed = %v, want [%s]", rep.Unsealed, d3)
			}
		})
	}
}

// insertAt shifts w's events from seq on by one and puts a forged event
// at seq, rehashing the shifted events and, if relinked, relinking them.
func insertAt(t *testing.T, its items, w *Writer, seq uint64, relinked bool) items {
	t.Helper()
	last := lastSeq(w)
	for s := last; s >= seq; s-- {
		i := evIndex(t, its, w, s)
		e := event(t, its[i])
		e.Seq++
		e.Hash = e.ComputeHash()
		its[i] = eventItem(&e.Event)
	}
	prev := event(t, its[evIndex(t, its, w, seq-1)])
	forged := prev.Event
	forged.Seq, forged.PrevHash, forged.ID = seq, prev.Hash, "ev_forged"
	forged.Hash = forged.ComputeHash()
	its = append(its, eventItem(&forged))
	if relinked {
		relink(t, its, w, seq+1, last+1)
	}
	return its
}

// forgeDigest changes a digest's first head and re-signs it with a key
// that is not the signing key.
func forgeDigest(t *testing.T, its items, day string) items {
	t.Helper()
	ri, pi := find(t, its, digestPrefix+day, digestSK), find(t, its, digestPrefix+day, partKey(1))
	d, _, err := parseDigestRoot(its[ri])
	if err != nil {
		t.Fatalf("parseDigestRoot() err = %v, want nil", err)
	}
	_, _, d.Heads, err = parseDigestPart(its[pi])
	if err != nil {
		t.Fatalf("parseDigestPart() err = %v, want nil", err)
	}
	d.Heads[0].Count--
	d.Hash = d.ComputeHash()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d.Signature, _ = ecdsa.SignASN1(rand.Reader, k, d.Hash[:])
	forged := digestItems(d)
	its[ri], its[pi] = forged[0], forged[1]
	return its
}

func TestVerifyWindow(t *testing.T) {
	f := newFixture(t)
	dropDigest := func(day string) func(items) items {
		return func(its items) items {
			its = without(its, find(t, its, digestPrefix+day, digestSK))
			return without(its, find(t, its, digestPrefix+day, partKey(1)))
		}
	}
	tests := []struct {
		name       string
		opt        VerifyOptions
		tamper     func(items) items
		want       Reason
		wantEvents int
	}{
		{name: "all", opt: sealed, wantEvents: 12 + 9 + 4},
		{name: "from day two is anchored by day one's digest", opt: VerifyOptions{From: d2, SealedThrough: d2}, wantEvents: 9 + 4},
		{name: "day one only", opt: VerifyOptions{From: d1, To: d1, SealedThrough: d2}, wantEvents: 12},
		{name: "from day two without day one's digest", opt: VerifyOptions{From: d2, SealedThrough: d2}, tamper: dropDigest(d1), want: ReasonDeleted, wantEvents: 13},
		{name: "from day two with day one's digest forged", opt: VerifyOptions{From: d2, SealedThrough: d2}, tamper: func(its items) items { return forgeDigest(t, its, d1) }, want: ReasonDigestChain, wantEvents: 13},
		{name: "from day one without day one's digest", opt: VerifyOptions{From: d1, SealedThrough: d2}, tamper: dropDigest(d1), want: ReasonDigestMissing, wantEvents: 25},
		{name: "to day one without day two's digest", opt: VerifyOptions{To: d1, SealedThrough: d2}, tamper: dropDigest(d2), wantEvents: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			its := f.db.snapshot()
			if tt.tamper != nil {
				its = tt.tamper(its)
			}
			rep, err := Verify(its, &f.signer.key.PublicKey, tt.opt)
			if err != nil {
				t.Fatalf("Verify() err = %v, want nil", err)
			}
			if got, _ := rep.First(); got.Reason != tt.want || rep.Events != tt.wantEvents {
				t.Errorf("Verify(%+v) = first %v, %d events, want %q, %d events (all: %v)", tt.opt, got, rep.Events, tt.want, tt.wantEvents, rep.Breaks)
			}
		})
	}
	if _, err := Verify(nil, &f.signer.key.PublicKey, VerifyOptions{From: "2026-3-1", SealedThrough: d2}); err == nil {
		t.Errorf("Verify(bad from) err = nil, want error")
	}
	if _, err := Verify(nil, &f.signer.key.PublicKey, VerifyOptions{}); err == nil {
		t.Errorf("Verify(no sealed-through day) err = nil, want error")
	}
	if _, err := Verify(nil, nil, sealed); err == nil {
		t.Errorf("Verify(no key) err = nil, want error")
	}
}

func TestVerifyDigestChain(t *testing.T) {
	f := newFixture(t)
	// A third digest makes day two's digest a middle link.
	f.clock.set(dayThree.AddDate(0, 0, 1).Add(15 * time.Minute))
	f.digest(t, d3)
	its := f.db.snapshot()
	opt := VerifyOptions{SealedThrough: d3}
	if rep, _ := Verify(its, &f.signer.key.PublicKey, opt); !rep.OK() || len(rep.Unsealed) != 0 {
		t.Fatalf("Verify() = %+v, want OK and nothing unsealed", rep)
	}
	its = without(its, find(t, its, digestPrefix+d2, digestSK))
	its = without(its, find(t, its, digestPrefix+d2, partKey(1)))
	rep, _ := Verify(its, &f.signer.key.PublicKey, opt)
	if !slices.ContainsFunc(rep.Breaks, func(b Break) bool { return b.Reason == ReasonDigestChain && b.Day == d3 }) {
		t.Errorf("Verify() breaks = %v, want digest_chain_broken on %s", rep.Breaks, d3)
	}
}
