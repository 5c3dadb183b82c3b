package stacktest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/waguard/waguard/devstack/stacktest"
)

// TestFunctionLinesAndProblems reads a stack log with an invocation per
// function, cold starts (one after an invocation that timed out), metrics,
// emulator lines and a truncated line.
func TestFunctionLinesAndProblems(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "stack.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := stacktest.FunctionLines(f)
	if err != nil {
		t.Fatalf("FunctionLines() err = %v, want nil", err)
	}
	type seen struct{ Instance, Invocation, Message string }
	var got []seen
	for _, l := range lines {
		got = append(got, seen{l.Instance, l.Invocation, l.Fields["message"].(string)})
	}
	const send, webhook = "de0bfe17-bf5d-473e-a367-32da061f40c8", "3cf6dfb1-79e7-49f7-bef2-f5ef62f9bf46"
	want := []seen{
		{"SendFunction#1", "", "cold start failed"},
		{"SendFunction#1", send, "idempotency record not released"},
		{"WebhookFunction#1", webhook, "keyword reply failed"},
		{"SendFunction#1", send, "invocation"},
		{"WebhookFunction#1", webhook, "invocation"},
		{"WebhookFunction#1", "", "cold start failed"}, // a new process after a timeout
		{"EraseFunction#2", "", "invocation"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FunctionLines() mismatch (-want +got):\n%s", diff)
	}
	wantProblems := []string{
		`WebhookFunction#1 "keyword reply failed" in invocation ` + webhook + `: requestId "", want the invocation's`,
		`WebhookFunction#1 "invocation": id field request_id = "5abcc4416d6c4ba[phone]f" holds [phone]`,
		`EraseFunction#2 "invocation": id field erasure_request = "er_7MZQ[phone]KDPXW4GHN3VFT" holds [phone]`,
	}
	if diff := cmp.Diff(wantProblems, stacktest.LogProblems(lines)); diff != "" {
		t.Errorf("LogProblems() mismatch (-want +got):\n%s", diff)
	}
}
