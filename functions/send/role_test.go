package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/waguard/waguard/shared/coldstart"
)

// TestRoleCreatesBranchKey: on a fresh deployment the first message
// stored creates the branch key (shared/envelope createBranch:
// kms:GenerateDataKey under the branch-key context, then create-only puts
// in the keys table) in whichever function stores first, this one or the
// webhook. The stack's branch key exists by the time this runs, so the
// test makes the same calls through RotateBranchKey, as the send role:
// the local IAM check refuses what the role lacks, and the coverage check
// of `make test` sees the grants used whatever order the tests ran in.
func TestRoleCreatesBranchKey(t *testing.T) {
	newEnv(t) // the role and environment, as main has them
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	core, _, err := coldstart.Load(ctx, os.Getenv, "send")
	if err != nil {
		t.Fatalf("coldstart.Load() err = %v, want nil", err)
	}
	if v, err := core.Envelope.RotateBranchKey(ctx); err != nil || v < 1 {
		t.Fatalf("RotateBranchKey() = %d, %v; want a version, nil", v, err)
	}
}
