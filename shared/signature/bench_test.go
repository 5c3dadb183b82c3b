package signature

import (
	"bytes"
	"testing"
)

func BenchmarkVerifyMeta(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	header := SignMeta(testSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyMeta(body, header, testSecret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyMetaTwoSecrets(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	header := SignMeta(testPrevSecret, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyMeta(body, header, testSecret, testPrevSecret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySignedStandardWebhooks(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	h := SignStandardWebhooks("msg_bench", testNow, body, testSecret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifySigned(h, body, testNow, 0, testSecret); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySignedSeed(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	h := SignSeed(testSecret, testNow, body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifySigned(h, body, testNow, 0, testSecret); err != nil {
			b.Fatal(err)
		}
	}
}
