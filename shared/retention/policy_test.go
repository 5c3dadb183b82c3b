package retention

import (
	"strings"
	"testing"
	"time"
)

func TestPolicyFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		class   Class
		want    int
		wantErr bool
	}{
		{"default transactional", nil, ClassTransactional, 90, false},
		{"default otp", nil, ClassOTP, 1, false},
		{"override marketing", map[string]string{"RETENTION_DAYS_MARKETING": "14"}, ClassMarketing, 14, false},
		{"override keeps others", map[string]string{"RETENTION_DAYS_MARKETING": "14"}, ClassSupport, 180, false},
		{"zero refused", map[string]string{"RETENTION_DAYS_OTP": "0"}, ClassOTP, 0, true},
		{"garbage refused", map[string]string{"RETENTION_DAYS_STATUS": "30d"}, ClassStatus, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PolicyFromEnv(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("PolicyFromEnv() err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got, _ := p.Days(tc.class); got != tc.want {
				t.Errorf("Days(%s) = %d, want %d", tc.class, got, tc.want)
			}
		})
	}
}

func TestExpiryAndBucket(t *testing.T) {
	p := DefaultPolicy()
	at := time.Date(2026, 11, 24, 23, 30, 0, 0, time.UTC)
	exp, err := p.Expiry(ClassOTP, at)
	if err != nil || !exp.Equal(at.Add(24*time.Hour)) {
		t.Fatalf("Expiry(otp) = %v, %v; want one day later", exp, err)
	}
	if _, err := p.Expiry(ClassUnknown, at); err != ErrUnknownClass {
		t.Errorf("Expiry(unknown) err = %v, want ErrUnknownClass", err)
	}
	b := Bucket("sub#abc", exp)
	if !strings.HasPrefix(b, "2026-11-25#") || len(b) != len("2026-11-25#00") {
		t.Errorf("Bucket() = %q, want 2026-11-25#NN", b)
	}
	if Bucket("sub#abc", exp) != b {
		t.Errorf("Bucket() is not deterministic")
	}
	shards := map[string]bool{}
	for i := 0; i < 200; i++ {
		shards[Bucket("sub#"+strings.Repeat("x", i), exp)] = true
	}
	if len(shards) != Shards {
		t.Errorf("200 partitions spread over %d shards, want %d", len(shards), Shards)
	}
}

func TestClassValid(t *testing.T) {
	for _, c := range Classes {
		if !c.Valid() {
			t.Errorf("%s.Valid() = false", c)
		}
	}
	if ClassUnknown.Valid() || Class("promo").Valid() {
		t.Errorf("unknown classes must be invalid")
	}
}

func TestShortened(t *testing.T) {
	p, err := PolicyFromEnv(func(k string) string {
		return map[string]string{"RETENTION_DAYS_MARKETING": "7", "RETENTION_DAYS_SUPPORT": "365"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		applied map[Class]int
		want    []Change
	}{
		{"first run records, changes nothing", nil, nil},
		{"shortened", map[Class]int{ClassMarketing: 30, ClassSupport: 180}, []Change{{ClassMarketing, 30, 7}}},
		{"lengthened is no change", map[Class]int{ClassSupport: 180}, nil},
		{"same is no change", map[Class]int{ClassMarketing: 7}, nil},
		{"unknown class ignored", map[Class]int{"sms": 99}, nil},
		{"several in class order", map[Class]int{ClassOTP: 2, ClassTransactional: 91},
			[]Change{{ClassTransactional, 91, 90}, {ClassOTP, 2, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Shortened(tc.applied, p)
			if len(got) != len(tc.want) {
				t.Fatalf("Shortened(%v) = %v, want %v", tc.applied, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("Shortened(%v)[%d] = %v, want %v", tc.applied, i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestReexpire(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name             string
		written, expires time.Time
		days             int
		want             Reexpiry
		wantExp          time.Time
	}{
		{"new period passed", now.Add(-10 * day), now.Add(20 * day), 7, ReexpiryDelete, time.Time{}},
		{"new period ends exactly now", now.Add(-7 * day), now.Add(23 * day), 7, ReexpiryDelete, time.Time{}},
		{"new period ahead", now.Add(-2 * day), now.Add(28 * day), 7, ReexpiryMove, now.Add(5 * day)},
		{"already earlier", now.Add(-2 * day), now.Add(3 * day), 7, ReexpiryKeep, time.Time{}},
		{"already equal", now.Add(-2 * day), now.Add(5 * day), 7, ReexpiryKeep, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, exp := Reexpire(tc.written, tc.expires, tc.days, now)
			if got != tc.want || !exp.Equal(tc.wantExp) {
				t.Errorf("Reexpire() = %v, %v, want %v, %v", got, exp, tc.want, tc.wantExp)
			}
		})
	}
}

func TestWritten(t *testing.T) {
	p := DefaultPolicy()
	written := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range Classes {
		exp, err := p.Expiry(c, written)
		if err != nil {
			t.Fatalf("Expiry(%s) err = %v", c, err)
		}
		if got, err := p.Written(c, exp); err != nil || !got.Equal(written) {
			t.Errorf("Written(%s, Expiry(%s, t)) = %v, %v; want t = %v", c, c, got, err, written)
		}
	}
	if _, err := p.Written("bogus", written); err == nil {
		t.Errorf("Written(unknown class) err = nil, want an error")
	}
}
