package ratelimit

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAllow measures the limiter's CPU per decision against the
// in-memory fake table (the fake's own map work included; DynamoDB
// round trips excluded).
func BenchmarkAllow(b *testing.B) {
	ctx := context.Background()
	b.Run("admitted", func(b *testing.B) {
		lim, _, clk := newTest(b)
		b.ReportAllocs()
		for b.Loop() {
			clk.Add(12500 * time.Microsecond) // one emission interval of 80/s
			if d, err := lim.Allow(ctx, testKeyA, global); err != nil || !d.Allowed {
				b.Fatalf("Allow() = %+v, %v; want allowed", d, err)
			}
		}
	})
	b.Run("refused", func(b *testing.B) {
		lim, _, _ := newTest(b)
		exhaust(b, lim, testKeyA, global)
		b.ReportAllocs()
		for b.Loop() {
			if d, err := lim.Allow(ctx, testKeyA, global); err != nil || d.Allowed {
				b.Fatalf("Allow() = %+v, %v; want refused", d, err)
			}
		}
	})
	b.Run("AllowAll two checks", func(b *testing.B) {
		lim, _, clk := newTest(b)
		b.ReportAllocs()
		for b.Loop() {
			clk.Add(20 * time.Minute) // one emission interval of 3/h
			if d, err := lim.AllowAll(ctx, recipient, sender); err != nil || !d.Allowed {
				b.Fatalf("AllowAll() = %+v, %v; want allowed", d, err)
			}
		}
	})
}
