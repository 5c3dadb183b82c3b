package audit

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// deleteItems removes items from the fake table directly, as an insider
// with DeleteItem on the audit table would.
func (f *fakeTable) deleteItems(match func(pk, sk string) bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k := range f.items {
		pk, sk, _ := strings.Cut(k, "\x00")
		if match(pk, sk) {
			delete(f.items, k)
			n++
		}
	}
	return n
}

// TestDeletedDigestsAreDetected is issue 13's insider: they delete the
// newest digest (or every digest) and a chain's tail on that day, which
// no hash chain can notice. Verified once that day's grace is over, the
// day has no digest; once the next scheduled run has digested what is
// left, its digest is late. Either way the verifier fails.
func TestDeletedDigestsAreDetected(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(f *fixture)
		redigest bool // the next scheduled run happens before verification
		want     []string
	}{
		{name: "newest digest and the day's tail, before the next run", tamper: deleteNewestAndTail,
			want: []string{"digest_missing " + d2}},
		{name: "newest digest and the day's tail, after the next run", tamper: deleteNewestAndTail, redigest: true,
			want: []string{"late_digest " + d2}},
		{name: "every digest, before the next run", tamper: deleteEveryDigest,
			want: []string{"digest_missing " + d1}},
		{name: "every digest, after the next run", tamper: deleteEveryDigest, redigest: true,
			want: []string{"late_digest " + d1, "late_digest " + d2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.tamper(f)
			f.clock.set(dayThree.Add(DigestGrace + time.Minute)) // day two is due
			if tt.redigest {
				f.clock.set(dayThree.AddDate(0, 0, 1).Add(15 * time.Minute))
				f.digest(t, d3)
			}
			rep := verifyFake(t, f.db, f.signer, VerifyOptions{SealedThrough: SealedThrough(f.clock.now())})
			if diff := cmp.Diff(tt.want, breakDays(rep)); diff != "" {
				t.Errorf("Verify() breaks (-want +got):\n%s\n(all: %v)", diff, rep.Breaks)
			}
		})
	}
}

// TestMissingDigestRuns checks every due day without a digest is reported,
// with or without events, in runs, from the trail's first day only.
func TestMissingDigestRuns(t *testing.T) {
	f := newFixture(t)
	// Days four to seven pass with no events and no digest; day eight
	// has one again (made by hand, so the run does not fill the gap).
	f.clock.set(dayOne.AddDate(0, 0, 8).Add(15 * time.Minute))
	d8 := "2026-03-08"
	dg, err := f.digester.build(context.Background(), d8, nil)
	if err != nil {
		t.Fatalf("build(%s) err = %v, want nil", d8, err)
	}
	tests := []struct {
		name string
		opt  VerifyOptions
		want []string
	}{
		{"through day eight", VerifyOptions{SealedThrough: "2026-03-09"},
			[]string{"digest_missing " + d3, "digest_missing 2026-03-09"}},
		{"through day two: a later digest still shows day three's events uncovered", sealed, []string{"not_covered " + d3}},
		{"window after the trail began", VerifyOptions{From: "2026-03-05", SealedThrough: "2026-03-08"},
			[]string{"digest_missing 2026-03-05"}},
		{"to before sealed-through", VerifyOptions{To: d2, SealedThrough: "2026-03-09"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := verifyFake(t, f.db, f.signer, tt.opt)
			got := breakDays(rep)
			got = slices.DeleteFunc(got, func(s string) bool { return s == "digest_chain_broken "+d8 })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Verify(%+v) breaks (-want +got):\n%s\n(all: %v)", tt.opt, diff, rep.Breaks)
			}
		})
	}
	rep := verifyFake(t, f.db, f.signer, VerifyOptions{SealedThrough: "2026-03-09"})
	if b, _ := rep.First(); !strings.Contains(b.Detail, "the 5 days 2026-03-03 to 2026-03-07") || rep.Since != d1 || dg.Late {
		t.Errorf("Verify() first break %q, since %s; late %v, want the run of 5 days, since %s, on time", b.Detail, rep.Since, dg.Late, d1)
	}
}

func TestSealedThrough(t *testing.T) {
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 3, 4, 0, 15, 0, 0, time.UTC), "2026-03-02"},
		{time.Date(2026, 3, 4, 5, 59, 59, 0, time.UTC), "2026-03-02"},
		{time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC), "2026-03-03"},
		{time.Date(2026, 3, 4, 23, 59, 0, 0, time.UTC), "2026-03-03"},
		{time.Date(2026, 3, 4, 3, 0, 0, 0, time.FixedZone("UTC+5", 5*3600)), "2026-03-02"}, // 22:00 UTC on the 3rd
	}
	for _, tt := range tests {
		if got := SealedThrough(tt.now); got != tt.want {
			t.Errorf("SealedThrough(%v) = %s, want %s", tt.now, got, tt.want)
		}
	}
}

func TestDigestDay(t *testing.T) {
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 3, 4, 0, 15, 0, 0, time.UTC), "2026-03-03"},
		{time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC), "2026-03-03"},
		{time.Date(2026, 3, 4, 23, 59, 59, 0, time.UTC), "2026-03-03"},
		{time.Date(2026, 3, 1, 0, 15, 0, 0, time.UTC), "2026-02-28"},
		{time.Date(2026, 3, 4, 3, 0, 0, 0, time.FixedZone("UTC+5", 5*3600)), "2026-03-02"}, // 22:00 UTC on the 3rd
	}
	for _, tt := range tests {
		if got := DigestDay(tt.now); got != tt.want {
			t.Errorf("DigestDay(%v) = %s, want %s", tt.now, got, tt.want)
		}
	}
}

func TestDigestLate(t *testing.T) {
	due := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		day  string
		made time.Time
		want bool
	}{
		{d1, time.Date(2026, 3, 2, 0, 15, 0, 0, time.UTC), false},
		{d1, due, false},
		{d1, due.Add(time.Nanosecond), true},
		{d1, time.Date(2026, 3, 4, 0, 15, 0, 0, time.UTC), true},
		{"2026-3-1", due, true},
	}
	for _, tt := range tests {
		if got := DigestLate(tt.day, tt.made); got != tt.want {
			t.Errorf("DigestLate(%s, %v) = %v, want %v", tt.day, tt.made, got, tt.want)
		}
	}
	if got, ok := DigestDue(d1); !ok || !got.Equal(due) {
		t.Errorf("DigestDue(%s) = %v, %v, want %v", d1, got, ok, due)
	}
}

func deleteNewestAndTail(f *fixture) {
	tail := seqKey(lastSeq(f.b)) // b's last event is on day two
	f.db.deleteItems(func(pk, sk string) bool {
		return pk == digestPrefix+d2 || (pk == chainPrefix+f.b.chain && sk == tail)
	})
}

func deleteEveryDigest(f *fixture) {
	f.db.deleteItems(func(pk, _ string) bool { return strings.HasPrefix(pk, digestPrefix) })
}

// TestFromPinsTheTrailStart: deleting the digests of the trail's first
// days, days without events, moves where the trail seems to begin, as
// expiry would; From (the day the stack was created) pins it.
func TestFromPinsTheTrailStart(t *testing.T) {
	db, s, clock := newFakeTable(), newFakeSigner(t), newClock(dayTwo.Add(15*time.Minute))
	d := newTestDigester(t, db, s, clock)
	if _, err := d.Create(context.Background(), d1); err != nil { // the stack's first night: no events yet
		t.Fatalf("Create(%s) err = %v, want nil", d1, err)
	}
	mustAppend(t, newTestWriter(t, db, newClock(dayTwo.Add(9*time.Hour))), EventAuthFailed)
	clock.set(dayThree.Add(15 * time.Minute))
	if _, err := d.Create(context.Background(), d2); err != nil {
		t.Fatalf("Create(%s) err = %v, want nil", d2, err)
	}
	pinned := VerifyOptions{From: d1, SealedThrough: d2}
	tests := []struct {
		name    string
		deleted string // digest prefix deleted, cumulatively
		opt     VerifyOptions
		want    []string
	}{
		{"day one's digest, unpinned: like expiry", digestPrefix + d1, sealed, nil},
		{"day one's digest, pinned", digestPrefix + d1, pinned, []string{"digest_missing " + d1, "digest_chain_broken " + d2}},
		{"both digests, unpinned", digestPrefix, sealed, []string{"digest_missing " + d2}},
		{"both digests, pinned", digestPrefix, pinned, []string{"digest_missing " + d1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db.deleteItems(func(pk, _ string) bool { return strings.HasPrefix(pk, tt.deleted) })
			rep := verifyFake(t, db, s, tt.opt)
			if diff := cmp.Diff(tt.want, breakDays(rep)); diff != "" {
				t.Errorf("Verify(%+v) breaks (-want +got):\n%s\n(all: %v)", tt.opt, diff, rep.Breaks)
			}
		})
	}
}
