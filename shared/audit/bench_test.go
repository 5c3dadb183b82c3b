package audit

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// nopTable accepts every put, so the benchmark measures the writer.
type nopTable struct{}

func (nopTable) PutItem(ctx context.Context, _ *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, ctx.Err()
}

func BenchmarkAppend(b *testing.B) {
	w := newTestWriter(b, nopTable{}, newClock(day1))
	ctx := context.Background()
	ev := testEvent(EventMessageSent)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Append(ctx, ev); err != nil {
			b.Fatalf("Append() err = %v", err)
		}
	}
}

func BenchmarkAppendFakeTable(b *testing.B) {
	w := newTestWriter(b, newFakeTable(), newClock(day1))
	ctx := context.Background()
	ev := testEvent(EventMessageSent)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Append(ctx, ev); err != nil {
			b.Fatalf("Append() err = %v", err)
		}
	}
}

func BenchmarkComputeHash(b *testing.B) {
	e := vectorEvent()
	b.ReportAllocs()
	for b.Loop() {
		e.ComputeHash()
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	its := f.db.snapshot()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(its, &f.signer.key.PublicKey, sealed); err != nil {
			b.Fatalf("Verify() err = %v", err)
		}
	}
}
