package retention

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const day = 24 * time.Hour

// shortMarketing is the default policy with marketing shortened to 7 days.
func shortMarketing(t *testing.T) Policy {
	t.Helper()
	p, err := PolicyFromEnv(func(k string) string { return map[string]string{"RETENTION_DAYS_MARKETING": "7"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStartDay(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	lookback := 30 * day
	first := time.Date(2026, 11, 7, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		cursor string
		want   time.Time
	}{
		{"first sweep starts the lookback back", "", first},
		{"cursor within the lookback", "2026-12-05", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)},
		{"cursor today", "2026-12-07", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		{"cursor older than the lookback", "2026-10-01", first},
		{"cursor on the lookback's day", "2026-11-07", first},
		{"malformed cursor counts as none", "7 Dec 2026", first},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StartDay(tc.cursor, now, lookback); !got.Equal(tc.want) {
				t.Errorf("StartDay(%q) = %v, want %v", tc.cursor, got, tc.want)
			}
		})
	}
}

func TestPlanPolicy(t *testing.T) {
	short := shortMarketing(t)
	recorded := map[Class]int{ClassTransactional: 90, ClassMarketing: 30, ClassSupport: 180, ClassOTP: 1, ClassStatus: 30, ClassMetadata: 90}
	lengthened := map[Class]int{ClassTransactional: 90, ClassMarketing: 5, ClassSupport: 180, ClassOTP: 1, ClassStatus: 30, ClassMetadata: 90}
	tests := []struct {
		name    string
		applied map[Class]int
		p       Policy
		want    PolicyStep
		changes []Change
	}{
		{"first run records", nil, DefaultPolicy(), PolicyStepRecord, nil},
		{"recorded policy in force", recorded, DefaultPolicy(), PolicyStepNone, nil},
		{"shortened is applied", recorded, short, PolicyStepApply, []Change{{ClassMarketing, 30, 7}}},
		{"lengthened is recorded only", lengthened, short, PolicyStepRecord, nil},
		{"a class missing from the record is recorded", map[Class]int{ClassMarketing: 7}, short, PolicyStepRecord, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step, changes := PlanPolicy(tc.applied, tc.p)
			if step != tc.want || !cmp.Equal(changes, tc.changes) {
				t.Errorf("PlanPolicy() = %v, %v, want %v, %v", step, changes, tc.want, tc.changes)
			}
		})
	}
}

func TestTarget(t *testing.T) {
	want := "transactional=90;marketing=30;support=180;otp=1;status=30;metadata=90;"
	if got := DefaultPolicy().Target(); got != want {
		t.Errorf("DefaultPolicy().Target() = %q, want %q", got, want)
	}
	if DefaultPolicy().Target() == shortMarketing(t).Target() {
		t.Errorf("two policies share the target %q", DefaultPolicy().Target())
	}
}

func TestPlanWalk(t *testing.T) {
	today := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	marketing := Change{ClassMarketing, 30, 7}
	tests := []struct {
		name    string
		c       Change
		saved   Position
		started time.Time
		want    Walk
	}{
		{"fresh: from today through the old period", marketing, Position{Class: ClassMarketing, Day: "2026-12-07"}, today.Add(3 * time.Hour),
			Walk{From: today, Shard: 0, Resume: true, Last: today.Add(30 * day)}},
		{"fresh at another class", marketing, Position{Class: ClassTransactional, Day: "2026-12-07", Shard: 9}, today.Add(3 * time.Hour),
			Walk{From: today, Last: today.Add(30 * day)}},
		{"resumes the saved bucket", marketing, Position{Class: ClassMarketing, Day: "2026-12-20", Shard: 4}, today.Add(-2 * day),
			Walk{From: today.Add(13 * day), Shard: 4, Resume: true, Last: today.Add(28 * day)}},
		{"a saved day before today starts today", marketing, Position{Class: ClassMarketing, Day: "2026-12-05", Shard: 4}, today.Add(-2 * day),
			Walk{From: today, Last: today.Add(28 * day)}},
		{"a malformed saved day starts today", marketing, Position{Class: ClassMarketing, Day: "soon", Shard: 4}, today.Add(-2 * day),
			Walk{From: today, Last: today.Add(28 * day)}},
		{"done when saved at a later class", Change{ClassTransactional, 91, 90}, Position{Class: ClassMarketing, Day: "2026-12-20", Shard: 4},
			today.Add(-2 * day), Walk{Done: true, From: today, Last: today.Add(89 * day)}},
		{"an unknown saved class is not done", marketing, Position{Class: "sms", Day: "2026-12-20"}, today,
			Walk{From: today, Last: today.Add(30 * day)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlanWalk(tc.c, tc.saved, tc.started, today); !cmp.Equal(got, tc.want) {
				t.Errorf("PlanWalk(%v, %+v) = %+v, want %+v", tc.c, tc.saved, got, tc.want)
			}
		})
	}
}

func TestAssess(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	today := now.Truncate(day)
	marketing := []Change{{ClassMarketing, 30, 7}}
	tests := []struct {
		name string
		p    Policy
		o    Outcome
		want Lag
	}{
		{"finished, nothing found", DefaultPolicy(), Outcome{Now: now, StoppedAt: today, Finished: true},
			Lag{OldestAgeHours: map[Class]float64{}}},
		{"oldest within its policy", DefaultPolicy(), Outcome{Now: now, StoppedAt: today, Finished: true,
			Oldest: map[Class]time.Time{ClassMarketing: now.Add(-(30*24 - 12) * time.Hour)}},
			Lag{OldestAgeHours: map[Class]float64{ClassMarketing: 30*24 - 12}}},
		{"oldest past its policy", DefaultPolicy(), Outcome{Now: now, StoppedAt: today, Finished: true,
			Oldest: map[Class]time.Time{ClassMarketing: now.Add(-(30*24 + 84) * time.Hour), ClassOTP: now.Add(-30 * time.Hour)}},
			Lag{OldestAgeHours: map[Class]float64{ClassMarketing: 30*24 + 84, ClassOTP: 30}, ExcessHours: 84}},
		{"unfinished: overdue counts as excess", DefaultPolicy(), Outcome{Now: now, StoppedAt: today.Add(-2 * day)},
			Lag{OverdueHours: 51, OldestAgeHours: map[Class]float64{}, ExcessHours: 51}},
		{"unfinished, an older item's excess is larger", DefaultPolicy(), Outcome{Now: now, StoppedAt: today,
			Oldest: map[Class]time.Time{ClassOTP: now.Add(-40 * time.Hour)}},
			Lag{OverdueHours: 3, OldestAgeHours: map[Class]float64{ClassOTP: 40}, ExcessHours: 16}},
		{"pending: the days the period went down by", shortMarketing(t), Outcome{Now: now, StoppedAt: today, Finished: true,
			Pending: marketing, PendingSince: now.Add(-time.Hour)},
			Lag{OldestAgeHours: map[Class]float64{}, ExcessHours: 23 * 24}},
		{"pending longer than the reduction", shortMarketing(t), Outcome{Now: now, StoppedAt: today, Finished: true,
			Pending: marketing, PendingSince: now.Add(-30 * day)},
			Lag{OldestAgeHours: map[Class]float64{}, ExcessHours: 30 * 24}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Assess(tc.o); !cmp.Equal(got, tc.want) {
				t.Errorf("Assess() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPendingExcessHours(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		changes []Change
		since   time.Time
		want    float64
	}{
		{"just begun: the reduction", []Change{{ClassOTP, 2, 1}}, now, 24},
		{"the largest reduction", []Change{{ClassTransactional, 91, 90}, {ClassMarketing, 30, 7}}, now, 23 * 24},
		{"pending two days raises the alarm", []Change{{ClassOTP, 2, 1}}, now.Add(-49 * time.Hour), 49},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PendingExcessHours(tc.changes, tc.since, now); got != tc.want {
				t.Errorf("PendingExcessHours(%v) = %v, want %v", tc.changes, got, tc.want)
			}
		})
	}
}
