package iamguard

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	dataARN  = "arn:t/data"
	keysARN  = "arn:t/keys"
	indexARN = "arn:t/data/index/*"
	keyARN   = "arn:k/key"
)

var branchCtx = map[string][]string{"kms:EncryptionContext:purpose": {"branch"}}

func TestRolesRecordsAllowedCallsOfFunctions(t *testing.T) {
	var r Roles
	r.Set(map[string]Policy{
		AccessKey("SendFunction"): {{Actions: []string{"dynamodb:GetItem"}, Resources: []string{dataARN}}},
		"some-other-key":          {{Actions: []string{"dynamodb:GetItem"}, Resources: []string{dataARN}}},
	})
	r.Allows(AccessKey("SendFunction"), "dynamodb:GetItem", dataARN)
	r.Allows(AccessKey("SendFunction"), "dynamodb:GetItem", dataARN) // recorded once
	r.Allows(AccessKey("SendFunction"), "dynamodb:PutItem", dataARN) // denied: not a use
	r.Allows("some-other-key", "dynamodb:GetItem", dataARN)          // not a function
	r.Allows("local", "dynamodb:DeleteTable", dataARN)               // unrestricted
	ctx := map[string]string{"a": "1"}
	r.Set(map[string]Policy{AccessKey("SendFunction"): {{Actions: []string{"kms:Decrypt"}, Resources: []string{keyARN}}}})
	r.AllowsWith(AccessKey("SendFunction"), "kms:Decrypt", keyARN, ctx)
	ctx["a"] = "changed" // the record keeps its own copy

	want := []Use{
		{Function: "SendFunction", Action: "dynamodb:GetItem", Resource: dataARN},
		{Function: "SendFunction", Action: "kms:Decrypt", Resource: keyARN, Context: map[string]string{"a": "1"}},
	}
	if diff := cmp.Diff(want, r.Uses()); diff != "" {
		t.Errorf("Uses() mismatch (-want +got):\n%s", diff)
	}
}

func TestRolesRecordsConcurrently(t *testing.T) {
	var r Roles
	r.Set(map[string]Policy{AccessKey("F"): {{Actions: []string{"dynamodb:GetItem"}, Resources: []string{"*"}}}})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				r.Allows(AccessKey("F"), "dynamodb:GetItem", strings.Repeat("t", i*50+j+1))
			}
		}()
	}
	wg.Wait()
	if got := len(r.Uses()); got != 400 {
		t.Errorf("len(Uses()) = %d, want 400", got)
	}
}

func TestFunctionOf(t *testing.T) {
	for key, want := range map[string]string{AccessKey("EraseFunction"): "EraseFunction", "local": "", "waguard-role-": ""} {
		got, ok := FunctionOf(key)
		if got != want || ok != (want != "") {
			t.Errorf("FunctionOf(%q) = %q, %v, want %q, %v", key, got, ok, want, want != "")
		}
	}
}

func TestGrantExercisedBy(t *testing.T) {
	g := Grant{Function: "SendFunction", Sid: "BranchKeys", Action: "kms:GenerateDataKey", Resource: keyARN, StringEquals: branchCtx}
	idx := Grant{Function: "SendFunction", Sid: "DataTable", Action: "dynamodb:Query", Resource: indexARN}
	tests := []struct {
		name  string
		grant Grant
		use   Use
		want  bool
	}{
		{"same call", g, Use{"SendFunction", "kms:GenerateDataKey", keyARN, map[string]string{"kms:EncryptionContext:purpose": "branch"}}, true},
		{"action case folds", g, Use{"SendFunction", "KMS:generatedatakey", keyARN, map[string]string{"kms:EncryptionContext:purpose": "branch"}}, true},
		{"condition unmet", g, Use{"SendFunction", "kms:GenerateDataKey", keyARN, map[string]string{"kms:EncryptionContext:purpose": "other"}}, false},
		{"condition missing", g, Use{"SendFunction", "kms:GenerateDataKey", keyARN, nil}, false},
		{"other function", g, Use{"EraseFunction", "kms:GenerateDataKey", keyARN, map[string]string{"kms:EncryptionContext:purpose": "branch"}}, false},
		{"other action", g, Use{"SendFunction", "kms:Decrypt", keyARN, map[string]string{"kms:EncryptionContext:purpose": "branch"}}, false},
		{"wildcard resource", idx, Use{"SendFunction", "dynamodb:Query", "arn:t/data/index/by-lookup", nil}, true},
		{"table is not its index", idx, Use{"SendFunction", "dynamodb:Query", dataARN, nil}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.grant.ExercisedBy(tt.use); got != tt.want {
				t.Errorf("%s ExercisedBy(%+v) = %v, want %v", tt.grant, tt.use, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	getData := Grant{Function: "EraseFunction", Sid: "DataTable", Action: "dynamodb:GetItem", Resource: dataARN}
	getIndex := Grant{Function: "EraseFunction", Sid: "DataTable", Action: "dynamodb:GetItem", Resource: indexARN}
	putKeys := Grant{Function: "EraseFunction", Sid: "KeysTable", Action: "dynamodb:PutItem", Resource: keysARN}
	sign := Grant{Function: "RetentionFunction", Sid: "Signing", Action: "kms:Sign", Resource: keyARN}
	grants := []Grant{getData, getIndex, putKeys, sign}
	uses := []Use{{Function: "EraseFunction", Action: "dynamodb:GetItem", Resource: dataARN},
		{Function: "EraseFunction", Action: "dynamodb:PutItem", Resource: "arn:t/stand-in"}}
	exemptSign := Exemption{Function: "RetentionFunction", Sid: "Signing", Action: "kms:Sign", Reason: "no emulator"}
	tests := []struct {
		name       string
		exemptions []Exemption
		want       Report
	}{
		{"every unexercised grant listed", nil,
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{getIndex, putKeys, sign}}},
		{"exempt with reason", []Exemption{exemptSign},
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{getIndex, putKeys}, Exempt: []Exempt{{sign, "no emulator"}}}},
		{"exemption by resource pattern", []Exemption{{Function: "EraseFunction", Sid: "DataTable", Action: "dynamodb:GetItem", Resource: "*/index/*", Reason: "r"}},
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{putKeys, sign}, Exempt: []Exempt{{getIndex, "r"}}}},
		{"exemption of an exercised grant is stale", []Exemption{{Function: "EraseFunction", Sid: "DataTable", Action: "dynamodb:GetItem", Resource: dataARN, Reason: "r"}},
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{getIndex, putKeys, sign},
				Stale: []Exemption{{Function: "EraseFunction", Sid: "DataTable", Action: "dynamodb:GetItem", Resource: dataARN, Reason: "r"}}}},
		{"exemption of no grant is stale", []Exemption{exemptSign, {Function: "Gone", Sid: "S", Action: "kms:Sign", Reason: "r"}},
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{getIndex, putKeys}, Exempt: []Exempt{{sign, "no emulator"}},
				Stale: []Exemption{{Function: "Gone", Sid: "S", Action: "kms:Sign", Reason: "r"}}}},
		{"stand-in used", []Exemption{{Function: "EraseFunction", Sid: "KeysTable", Action: "dynamodb:PutItem", StandIn: "arn:t/stand-in", Reason: "r"}},
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{getIndex, sign}, Exempt: []Exempt{{putKeys, "r"}}}},
		{"stand-in of another action does not count", []Exemption{{Function: "EraseFunction", Sid: "DataTable", Action: "dynamodb:GetItem", Resource: indexARN, StandIn: "arn:t/*", Reason: "r"},
			{Function: "RetentionFunction", Sid: "Signing", Action: "kms:Sign", StandIn: "arn:t/*", Reason: "r"}},
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{putKeys},
				Exempt: []Exempt{{getIndex, "r"}}, NoStandIn: []Exempt{{sign, "no call on a stand-in arn:t/*"}}}},
		{"exemption without reason excuses nothing", []Exemption{{Function: "RetentionFunction", Sid: "Signing", Action: "kms:Sign", Reason: " "}},
			Report{Grants: 4, Exercised: 1, Unexercised: []Grant{getIndex, putKeys, sign},
				Invalid: []Exemption{{Function: "RetentionFunction", Sid: "Signing", Action: "kms:Sign", Reason: " "}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check(grants, uses, tt.exemptions)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check() mismatch (-want +got):\n%s", diff)
			}
			if wantOK := len(tt.want.Unexercised)+len(tt.want.NoStandIn)+len(tt.want.Stale)+len(tt.want.Invalid) == 0; got.OK() != wantOK {
				t.Errorf("OK() = %v, want %v", got.OK(), wantOK)
			}
		})
	}
	if !Check([]Grant{getData}, uses, nil).OK() {
		t.Error("Check() of exercised grants only is not OK, want OK")
	}
}

// TestGrantsExpandStatements: each action of a statement on each of its
// resources is a grant of its own, conditions kept, so that a test
// exercising one table cannot vouch for another.
func TestGrantsExpandStatements(t *testing.T) {
	grants, err := Grants(loadTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	byFunction := map[string]int{}
	for _, g := range grants {
		byFunction[g.Function]++
		if g.Sid == "" || g.Action == "" || g.Resource == "" {
			t.Errorf("grant %s lacks a Sid, action or resource", g)
		}
	}
	for _, fn := range []string{"WebhookFunction", "SendFunction", "EraseFunction", "RetentionFunction", "RotateFunction"} {
		if byFunction[fn] == 0 {
			t.Errorf("no grants for %s", fn)
		}
	}
	want := Grant{Function: "SendFunction", Sid: "BranchKeys", Action: "kms:GenerateDataKey", Resource: "GetAtt(DataKey.Arn)",
		StringEquals: map[string][]string{"kms:EncryptionContext:purpose": {"waguard-branch-key"}}}
	if !slices.ContainsFunc(grants, func(g Grant) bool { return cmp.Equal(g, want) }) {
		t.Errorf("Grants() lacks %s", want)
	}
}

func TestExemptionsAreWellFormed(t *testing.T) {
	for _, e := range Exemptions {
		if e.Function == "" || e.Sid == "" || e.Action == "" || len(strings.Fields(e.Reason)) < 5 {
			t.Errorf("exemption %s: want Function, Sid, Action and a reason of a sentence", e)
		}
	}
}
