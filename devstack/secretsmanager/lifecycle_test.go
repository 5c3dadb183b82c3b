package secretsmanager_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCreateSecret(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name      string
		secretFor func(name string) string // nil: a fresh name
		value     *string
		binary    []byte
		wantCode  string
		wantValue bool
	}{
		{name: "string value", value: aws.String("s3cr3t"), wantValue: true},
		{name: "binary value", binary: []byte{1, 2, 3}, wantValue: true},
		{name: "no value creates no version"},
		{name: "string and binary", value: aws.String("a"), binary: []byte("a"), wantCode: "InvalidParameterException"},
		{name: "invalid name", secretFor: func(n string) string { return n + " has spaces" }, value: aws.String("a"), wantCode: "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := h.name(t)
			if tt.secretFor != nil {
				name = tt.secretFor(name)
			}
			out, err := h.client.CreateSecret(t.Context(), &sm.CreateSecretInput{
				Name: aws.String(name), SecretString: tt.value, SecretBinary: tt.binary, Description: aws.String("for " + tt.name),
			})
			checkErr(t, "CreateSecret()", err, tt.wantCode)
			if err != nil {
				return
			}
			if tt.wantValue != (out.VersionId != nil) {
				t.Fatalf("CreateSecret() VersionId = %v, want one: %v", aws.ToString(out.VersionId), tt.wantValue)
			}
			want := map[string][]string{aws.ToString(out.VersionId): {"AWSCURRENT"}}
			if !tt.wantValue {
				want = nil
			}
			if diff := cmp.Diff(want, h.stages(t, name), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
			}
			_, err = h.client.GetSecretValue(t.Context(), &sm.GetSecretValueInput{SecretId: aws.String(name)})
			if !tt.wantValue {
				checkErr(t, "GetSecretValue()", err, "ResourceNotFoundException")
			}
		})
	}
}

func TestCreateSecretConflicts(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name     string
		sameTok  bool
		value    string
		deleted  bool
		wantCode string
	}{
		{name: "retry with the same token and value", sameTok: true, value: "v1"},
		{name: "same name, other token", value: "v1", wantCode: "ResourceExistsException"},
		{name: "same name, same token, other value", sameTok: true, value: "v2", wantCode: "ResourceExistsException"},
		{name: "name scheduled for deletion", value: "v1", deleted: true, wantCode: "InvalidRequestException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, first := h.name(t), token(t, 36)
			arn, _ := h.create(t, name, first, "v1")
			if tt.deleted {
				_, err := h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{SecretId: aws.String(name), RecoveryWindowInDays: aws.Int64(7)})
				checkErr(t, "DeleteSecret()", err, "")
			}
			tok := token(t, 36)
			if tt.sameTok {
				tok = first
			}
			out, err := h.client.CreateSecret(t.Context(), &sm.CreateSecretInput{
				Name: aws.String(name), ClientRequestToken: aws.String(tok), SecretString: aws.String(tt.value),
			})
			checkErr(t, "CreateSecret() again", err, tt.wantCode)
			if err == nil && (aws.ToString(out.ARN) != arn || aws.ToString(out.VersionId) != first) {
				t.Errorf("CreateSecret() again = %s, %s, want %s, %s", aws.ToString(out.ARN), aws.ToString(out.VersionId), arn, first)
			}
		})
	}
}

func TestDescribeSecret(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	out, err := h.client.CreateSecret(t.Context(), &sm.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String("v1"), Description: aws.String("conformance"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("waguard")}},
	})
	checkErr(t, "CreateSecret()", err, "")
	arnPattern := regexp.MustCompile(`^arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:` + regexp.QuoteMeta(name) + `-[A-Za-z0-9]{6}$`)
	if !arnPattern.MatchString(aws.ToString(out.ARN)) {
		t.Errorf("CreateSecret() ARN = %s, want match for %s", aws.ToString(out.ARN), arnPattern)
	}
	got := h.describe(t, name)
	if aws.ToString(got.ARN) != aws.ToString(out.ARN) || aws.ToString(got.Name) != name || aws.ToString(got.Description) != "conformance" {
		t.Errorf("DescribeSecret() ARN, Name, Description = %s, %s, %s, want %s, %s, conformance",
			aws.ToString(got.ARN), aws.ToString(got.Name), aws.ToString(got.Description), aws.ToString(out.ARN), name)
	}
	if diff := cmp.Diff([]types.Tag{{Key: aws.String("team"), Value: aws.String("waguard")}}, got.Tags, cmpopts.IgnoreUnexported(types.Tag{})); diff != "" {
		t.Errorf("DescribeSecret() Tags mismatch (-want +got):\n%s", diff)
	}
	if got.CreatedDate == nil || got.LastChangedDate == nil {
		t.Errorf("DescribeSecret() CreatedDate, LastChangedDate = %v, %v, want both set", got.CreatedDate, got.LastChangedDate)
	}
	if got.RotationEnabled != nil || got.RotationRules != nil || got.DeletedDate != nil || got.NextRotationDate != nil {
		t.Errorf("DescribeSecret() RotationEnabled, RotationRules, DeletedDate, NextRotationDate = %v, %v, %v, %v, want all nil",
			got.RotationEnabled, got.RotationRules, got.DeletedDate, got.NextRotationDate)
	}
}

func TestUpdateSecret(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	t1, t2 := token(t, 36), token(t, 36)
	h.create(t, name, t1, "v1")
	_, err := h.client.UpdateSecret(t.Context(), &sm.UpdateSecretInput{
		SecretId: aws.String(name), ClientRequestToken: aws.String(t2), SecretString: aws.String("v2"), Description: aws.String("updated"),
	})
	checkErr(t, "UpdateSecret()", err, "")
	got := h.describe(t, name)
	want := map[string][]string{t2: {"AWSCURRENT"}, t1: {"AWSPREVIOUS"}}
	if diff := cmp.Diff(want, got.VersionIdsToStages); diff != "" || aws.ToString(got.Description) != "updated" {
		t.Errorf("after UpdateSecret() VersionIdsToStages mismatch (-want +got):\n%s\nDescription = %q, want updated", diff, aws.ToString(got.Description))
	}
}

func TestDeleteSecretValidation(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	h.create(t, name, token(t, 36), "v1")
	tests := []struct {
		name     string
		days     *int64
		force    *bool
		wantCode string
	}{
		{name: "window below 7 days", days: aws.Int64(6), wantCode: "InvalidParameterException"},
		{name: "window above 30 days", days: aws.Int64(31), wantCode: "InvalidParameterException"},
		{name: "window and force", days: aws.Int64(7), force: aws.Bool(true), wantCode: "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{
				SecretId: aws.String(name), RecoveryWindowInDays: tt.days, ForceDeleteWithoutRecovery: tt.force,
			})
			checkErr(t, "DeleteSecret()", err, tt.wantCode)
		})
	}
}

func TestDeleteAndRestoreSecret(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	h.create(t, name, token(t, 36), "v1")
	before := h.now()
	del, err := h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{SecretId: aws.String(name)})
	checkErr(t, "DeleteSecret()", err, "")
	if want := before.Add(30 * 24 * time.Hour); del.DeletionDate == nil || del.DeletionDate.Sub(want).Abs() > 5*time.Minute {
		t.Errorf("DeleteSecret() DeletionDate = %v, want about %v", del.DeletionDate, want)
	}
	if got := h.describe(t, name); got.DeletedDate == nil {
		t.Errorf("DescribeSecret() DeletedDate = nil, want set")
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"GetSecretValue", func() error {
			_, err := h.client.GetSecretValue(t.Context(), &sm.GetSecretValueInput{SecretId: aws.String(name)})
			return err
		}},
		{"PutSecretValue", func() error {
			_, err := h.client.PutSecretValue(t.Context(), &sm.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String("v2")})
			return err
		}},
		{"DeleteSecret", func() error {
			_, err := h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{SecretId: aws.String(name)})
			return err
		}},
		{"TagResource", func() error {
			_, err := h.client.TagResource(t.Context(), &sm.TagResourceInput{SecretId: aws.String(name), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name+" while scheduled for deletion", func(t *testing.T) {
			checkErr(t, c.name+"()", c.call(), "InvalidRequestException")
		})
	}
	h.eventually(t, func() error { return h.checkListed(t, name, false, false) })
	h.eventually(t, func() error { return h.checkListed(t, name, true, true) })

	_, err = h.client.RestoreSecret(t.Context(), &sm.RestoreSecretInput{SecretId: aws.String(name)})
	checkErr(t, "RestoreSecret()", err, "")
	out, err := h.client.GetSecretValue(t.Context(), &sm.GetSecretValueInput{SecretId: aws.String(name)})
	checkErr(t, "GetSecretValue() after restore", err, "")
	if aws.ToString(out.SecretString) != "v1" || h.describe(t, name).DeletedDate != nil {
		t.Errorf("after RestoreSecret() value = %q and DeletedDate set, want v1 and nil", aws.ToString(out.SecretString))
	}
}

// checkListed reports whether ListSecrets lists the secret called name,
// with or without IncludePlannedDeletion.
func (h *harness) checkListed(t *testing.T, name string, includeDeleted, want bool) error {
	t.Helper()
	out, err := h.client.ListSecrets(t.Context(), &sm.ListSecretsInput{
		IncludePlannedDeletion: aws.Bool(includeDeleted),
		Filters:                []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{name}}},
	})
	if err != nil {
		return fmt.Errorf("ListSecrets() err = %w, want nil", err)
	}
	got := slices.ContainsFunc(out.SecretList, func(e types.SecretListEntry) bool { return aws.ToString(e.Name) == name })
	if got != want {
		return fmt.Errorf("ListSecrets(IncludePlannedDeletion=%v) lists %s = %v, want %v", includeDeleted, name, got, want)
	}
	return nil
}

func TestForceDeleteSecret(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name   string
		exists bool
	}{
		{"existing secret", true},
		{"missing secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := h.name(t)
			if tt.exists {
				h.create(t, name, token(t, 36), "v1")
			}
			_, err := h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{SecretId: aws.String(name), ForceDeleteWithoutRecovery: aws.Bool(true)})
			checkErr(t, "DeleteSecret(force)", err, "")
			h.eventually(t, func() error {
				_, err := h.client.DescribeSecret(t.Context(), &sm.DescribeSecretInput{SecretId: aws.String(name)})
				if !isCode(err, "ResourceNotFoundException") {
					return fmt.Errorf("DescribeSecret() after force delete err = %v, want ResourceNotFoundException", err)
				}
				return nil
			})
		})
	}
}

func TestRecoveryWindowEnds(t *testing.T) {
	h := newHarness(t)
	h.skipIfReal(t)
	name := h.name(t)
	h.create(t, name, token(t, 36), "v1")
	_, err := h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{SecretId: aws.String(name), RecoveryWindowInDays: aws.Int64(7)})
	checkErr(t, "DeleteSecret()", err, "")
	h.clock.Advance(7*24*time.Hour - time.Second)
	checkErr(t, "RestoreSecret() inside the window", restore(t, h, name), "")
	_, err = h.client.DeleteSecret(t.Context(), &sm.DeleteSecretInput{SecretId: aws.String(name), RecoveryWindowInDays: aws.Int64(7)})
	checkErr(t, "DeleteSecret() again", err, "")
	h.clock.Advance(7 * 24 * time.Hour)
	checkErr(t, "RestoreSecret() after the window", restore(t, h, name), "ResourceNotFoundException")
	h.create(t, name, token(t, 36), "reused name")
}

// restore calls RestoreSecret.
func restore(t *testing.T, h *harness, name string) error {
	t.Helper()
	_, err := h.client.RestoreSecret(t.Context(), &sm.RestoreSecretInput{SecretId: aws.String(name)})
	return err
}

func TestTags(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	h.create(t, name, token(t, 36), "v1")
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	steps := []struct {
		name string
		call func() error
		want []types.Tag
	}{
		{"add", func() error {
			_, err := h.client.TagResource(t.Context(), &sm.TagResourceInput{SecretId: aws.String(name), Tags: []types.Tag{tag("a", "1"), tag("b", "2")}})
			return err
		}, []types.Tag{tag("a", "1"), tag("b", "2")}},
		{"replace", func() error {
			_, err := h.client.TagResource(t.Context(), &sm.TagResourceInput{SecretId: aws.String(name), Tags: []types.Tag{tag("a", "3")}})
			return err
		}, []types.Tag{tag("a", "3"), tag("b", "2")}},
		{"remove", func() error {
			_, err := h.client.UntagResource(t.Context(), &sm.UntagResourceInput{SecretId: aws.String(name), TagKeys: []string{"a", "missing"}})
			return err
		}, []types.Tag{tag("b", "2")}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			checkErr(t, st.name, st.call(), "")
			opts := cmp.Options{cmpopts.IgnoreUnexported(types.Tag{}), cmpopts.SortSlices(func(a, b types.Tag) bool { return *a.Key < *b.Key })}
			if diff := cmp.Diff(st.want, h.describe(t, name).Tags, opts); diff != "" {
				t.Errorf("Tags mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListSecrets(t *testing.T) {
	h := newHarness(t)
	group := h.prefix + "list-" + randomHex(t, 3) + "/"
	for _, n := range []string{"alpha", "beta", "gamma"} {
		name := group + n
		t.Cleanup(func() { forceDelete(h, name) })
		_, err := h.client.CreateSecret(t.Context(), &sm.CreateSecretInput{
			Name: aws.String(name), SecretString: aws.String("v"),
			Tags: []types.Tag{{Key: aws.String("kind"), Value: aws.String(n)}},
		})
		checkErr(t, "CreateSecret()", err, "")
	}
	tests := []struct {
		name    string
		filters []types.Filter
		want    []string
	}{
		{"name prefix", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{group}}}, []string{"alpha", "beta", "gamma"}},
		{"name prefix and tag value", []types.Filter{
			{Key: types.FilterNameStringTypeName, Values: []string{group}},
			{Key: types.FilterNameStringTypeTagValue, Values: []string{"beta", "gamma"}},
		}, []string{"beta", "gamma"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.eventually(t, func() error {
				got := h.listNames(t, tt.filters, group)
				if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
					return fmt.Errorf("ListSecrets() mismatch (-want +got):\n%s", diff)
				}
				return nil
			})
		})
	}
}

// listNames lists the secrets that match filters, two per page, and returns
// their names without group.
func (h *harness) listNames(t *testing.T, filters []types.Filter, group string) []string {
	t.Helper()
	var names []string
	in := &sm.ListSecretsInput{Filters: filters, MaxResults: aws.Int32(2)}
	for range 20 {
		out, err := h.client.ListSecrets(t.Context(), in)
		checkErr(t, "ListSecrets()", err, "")
		for _, e := range out.SecretList {
			names = append(names, strings.TrimPrefix(aws.ToString(e.Name), group))
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return names
}
