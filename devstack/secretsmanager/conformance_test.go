// The conformance suite checks the emulator against the behaviour of AWS
// Secrets Manager using only the unmodified aws-sdk-go-v2 client. By default
// it runs against an emulator on loopback; with
// WAGUARD_SM_CONFORMANCE_REAL=1 it runs against real AWS (see README.md) and
// skips the tests that need the emulator's clock or rotation Invoker.

package secretsmanager_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sortStages makes VersionIdsToStages comparable regardless of label order.
var sortStages = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestGetSecretValue(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	t1, t2 := token(t, 36), token(t, 36)
	arn, _ := h.create(t, name, t1, "value-1")
	h.put(t, name, t2, "value-2")

	tests := []struct {
		name     string
		secretID string
		id       string
		stage    string
		want     string
		wantCode string
	}{
		{name: "by name", secretID: name, want: "value-2"},
		{name: "by full ARN", secretID: arn, want: "value-2"},
		{name: "by partial ARN", secretID: strings.TrimSuffix(arn, arn[len(arn)-7:]), want: "value-2"},
		{name: "AWSCURRENT", secretID: name, stage: "AWSCURRENT", want: "value-2"},
		{name: "AWSPREVIOUS", secretID: name, stage: "AWSPREVIOUS", want: "value-1"},
		{name: "by version ID", secretID: name, id: t1, want: "value-1"},
		{name: "version ID and matching stage", secretID: name, id: t1, stage: "AWSPREVIOUS", want: "value-1"},
		{name: "version ID and other stage", secretID: name, id: t1, stage: "AWSCURRENT", wantCode: "InvalidRequestException"},
		{name: "unknown stage", secretID: name, stage: "NOSUCHLABEL", wantCode: "ResourceNotFoundException"},
		{name: "unknown version", secretID: name, id: token(t, 36), wantCode: "ResourceNotFoundException"},
		{name: "unknown secret", secretID: h.prefix + "missing", wantCode: "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &sm.GetSecretValueInput{SecretId: aws.String(tt.secretID)}
			if tt.id != "" {
				in.VersionId = aws.String(tt.id)
			}
			if tt.stage != "" {
				in.VersionStage = aws.String(tt.stage)
			}
			out, err := h.client.GetSecretValue(t.Context(), in)
			checkErr(t, "GetSecretValue()", err, tt.wantCode)
			if err != nil {
				return
			}
			if got := aws.ToString(out.SecretString); got != tt.want {
				t.Errorf("GetSecretValue() SecretString = %q, want %q", got, tt.want)
			}
			if aws.ToString(out.ARN) != arn || aws.ToString(out.Name) != name {
				t.Errorf("GetSecretValue() ARN, Name = %s, %s, want %s, %s", aws.ToString(out.ARN), aws.ToString(out.Name), arn, name)
			}
		})
	}
}

func TestGetSecretValueBinary(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	want := []byte{0, 1, 2, 0xfe, 0xff}
	_, err := h.client.CreateSecret(t.Context(), &sm.CreateSecretInput{Name: aws.String(name), SecretBinary: want})
	checkErr(t, "CreateSecret()", err, "")
	out, err := h.client.GetSecretValue(t.Context(), &sm.GetSecretValueInput{SecretId: aws.String(name)})
	checkErr(t, "GetSecretValue()", err, "")
	if diff := cmp.Diff(want, out.SecretBinary); diff != "" || out.SecretString != nil {
		t.Errorf("GetSecretValue() SecretBinary mismatch (-want +got):\n%s\nSecretString = %v, want nil", diff, out.SecretString)
	}
}

func TestPutSecretValueStages(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	tok := make([]string, 7)
	for i := range tok {
		tok[i] = token(t, 36)
	}
	h.create(t, name, tok[1], "v1")

	steps := []struct {
		name   string
		token  string
		stages []string
		want   map[string][]string
	}{
		{"second value moves AWSCURRENT and sets AWSPREVIOUS", tok[2], nil,
			map[string][]string{tok[2]: {"AWSCURRENT"}, tok[1]: {"AWSPREVIOUS"}}},
		{"third value deprecates the first", tok[3], nil,
			map[string][]string{tok[3]: {"AWSCURRENT"}, tok[2]: {"AWSPREVIOUS"}}},
		{"AWSPENDING leaves AWSCURRENT alone", tok[4], []string{"AWSPENDING"},
			map[string][]string{tok[3]: {"AWSCURRENT"}, tok[2]: {"AWSPREVIOUS"}, tok[4]: {"AWSPENDING"}}},
		{"labels move from the version that had them", tok[5], []string{"AWSPENDING", "LABEL1"},
			map[string][]string{tok[3]: {"AWSCURRENT"}, tok[2]: {"AWSPREVIOUS"}, tok[5]: {"AWSPENDING", "LABEL1"}}},
		{"explicit AWSCURRENT with a custom label", tok[6], []string{"AWSCURRENT", "LABEL1"},
			map[string][]string{tok[6]: {"AWSCURRENT", "LABEL1"}, tok[3]: {"AWSPREVIOUS"}, tok[5]: {"AWSPENDING"}}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, err := h.client.PutSecretValue(t.Context(), &sm.PutSecretValueInput{
				SecretId: aws.String(name), ClientRequestToken: aws.String(st.token),
				SecretString: aws.String("value-" + st.token), VersionStages: st.stages,
			})
			checkErr(t, "PutSecretValue()", err, "")
			if got := aws.ToString(out.VersionId); got != st.token {
				t.Errorf("PutSecretValue() VersionId = %s, want %s", got, st.token)
			}
			if diff := cmp.Diff(st.want, h.stages(t, name), sortStages); diff != "" {
				t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPutSecretValueToken(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name         string
		tokenLen     int // 0: reuse the token of the first version
		value        *string
		binary       []byte
		wantCode     string
		wantVersions int
	}{
		{name: "same token and value is idempotent", value: aws.String("v1"), wantVersions: 1},
		{name: "same token, other value", value: aws.String("v2"), wantCode: "ResourceExistsException", wantVersions: 1},
		{name: "same token, binary value", binary: []byte("v1"), wantCode: "ResourceExistsException", wantVersions: 1},
		{name: "32-character token", tokenLen: 32, value: aws.String("v2"), wantVersions: 2},
		{name: "64-character token", tokenLen: 64, value: aws.String("v2"), wantVersions: 2},
		{name: "31-character token", tokenLen: 31, value: aws.String("v2"), wantCode: "ValidationException", wantVersions: 1},
		{name: "65-character token", tokenLen: 65, value: aws.String("v2"), wantCode: "ValidationException", wantVersions: 1},
		{name: "string and binary", tokenLen: 36, value: aws.String("v2"), binary: []byte("v2"), wantCode: "InvalidParameterException", wantVersions: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, tok := h.name(t), token(t, 36)
			h.create(t, name, tok, "v1")
			if tt.tokenLen != 0 {
				tok = token(t, tt.tokenLen)
			}
			out, err := h.client.PutSecretValue(t.Context(), &sm.PutSecretValueInput{
				SecretId: aws.String(name), ClientRequestToken: aws.String(tok), SecretString: tt.value, SecretBinary: tt.binary,
			})
			checkErr(t, "PutSecretValue()", err, tt.wantCode)
			if err == nil && aws.ToString(out.VersionId) != tok {
				t.Errorf("PutSecretValue() VersionId = %s, want %s", aws.ToString(out.VersionId), tok)
			}
			if got := len(h.listVersions(t, name, true)); got != tt.wantVersions {
				t.Errorf("ListSecretVersionIds() has %d versions, want %d", got, tt.wantVersions)
			}
		})
	}
}

func TestUpdateSecretVersionStage(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name       string
		stage      string
		moveTo     int // 0: none, 1: first version, 2: second version, 3: unknown
		removeFrom int
		wantCode   string
		want       map[int][]string
	}{
		{name: "move AWSCURRENT without RemoveFromVersionId", stage: "AWSCURRENT", moveTo: 1, wantCode: "InvalidParameterException"},
		{name: "move AWSCURRENT removing from the wrong version", stage: "AWSCURRENT", moveTo: 1, removeFrom: 1, wantCode: "InvalidParameterException"},
		{name: "move AWSCURRENT back", stage: "AWSCURRENT", moveTo: 1, removeFrom: 2,
			want: map[int][]string{1: {"AWSCURRENT"}, 2: {"AWSPREVIOUS"}}},
		{name: "add an unattached label", stage: "LABEL1", moveTo: 1,
			want: map[int][]string{1: {"AWSPREVIOUS", "LABEL1"}, 2: {"AWSCURRENT"}}},
		{name: "remove a label", stage: "AWSPREVIOUS", removeFrom: 1,
			want: map[int][]string{2: {"AWSCURRENT"}}},
		{name: "move an attached custom label without RemoveFromVersionId", stage: "AWSPREVIOUS", moveTo: 2, wantCode: "InvalidParameterException"},
		{name: "move AWSPREVIOUS", stage: "AWSPREVIOUS", moveTo: 2, removeFrom: 1,
			want: map[int][]string{2: {"AWSCURRENT", "AWSPREVIOUS"}}},
		{name: "move to an unknown version", stage: "LABEL1", moveTo: 3, wantCode: "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := h.name(t)
			ids := map[int]string{1: token(t, 36), 2: token(t, 36), 3: token(t, 36)}
			h.create(t, name, ids[1], "v1")
			h.put(t, name, ids[2], "v2")
			in := &sm.UpdateSecretVersionStageInput{SecretId: aws.String(name), VersionStage: aws.String(tt.stage)}
			if tt.moveTo != 0 {
				in.MoveToVersionId = aws.String(ids[tt.moveTo])
			}
			if tt.removeFrom != 0 {
				in.RemoveFromVersionId = aws.String(ids[tt.removeFrom])
			}
			_, err := h.client.UpdateSecretVersionStage(t.Context(), in)
			checkErr(t, "UpdateSecretVersionStage()", err, tt.wantCode)
			want := map[string][]string{ids[1]: {"AWSPREVIOUS"}, ids[2]: {"AWSCURRENT"}}
			if tt.want != nil {
				want = make(map[string][]string)
				for i, stages := range tt.want {
					want[ids[i]] = stages
				}
			}
			if diff := cmp.Diff(want, h.stages(t, name), sortStages); diff != "" {
				t.Errorf("VersionIdsToStages mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListSecretVersionIDs(t *testing.T) {
	h := newHarness(t)
	name := h.name(t)
	t1, t2, t3 := token(t, 36), token(t, 36), token(t, 36)
	h.create(t, name, t1, "v1")
	h.put(t, name, t2, "v2")
	h.put(t, name, t3, "v3")

	tests := []struct {
		name              string
		includeDeprecated bool
		want              map[string][]string
	}{
		{"without deprecated", false, map[string][]string{t3: {"AWSCURRENT"}, t2: {"AWSPREVIOUS"}}},
		{"with deprecated", true, map[string][]string{t3: {"AWSCURRENT"}, t2: {"AWSPREVIOUS"}, t1: nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := h.listVersions(t, name, tt.includeDeprecated)
			if diff := cmp.Diff(tt.want, got, sortStages, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ListSecretVersionIds() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// listVersions returns all versions of a secret and their labels, following
// NextToken one version at a time.
func (h *harness) listVersions(t *testing.T, id string, includeDeprecated bool) map[string][]string {
	t.Helper()
	got := make(map[string][]string)
	in := &sm.ListSecretVersionIdsInput{SecretId: aws.String(id), IncludeDeprecated: aws.Bool(includeDeprecated), MaxResults: aws.Int32(1)}
	for page := 0; page < 20; page++ {
		out, err := h.client.ListSecretVersionIds(t.Context(), in)
		checkErr(t, "ListSecretVersionIds()", err, "")
		for _, v := range out.Versions {
			got[aws.ToString(v.VersionId)] = v.VersionStages
		}
		if out.NextToken == nil {
			return got
		}
		in.NextToken = out.NextToken
	}
	t.Fatalf("ListSecretVersionIds() did not finish in 20 pages")
	return nil
}
