package secretsmanager

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

type listSecretVersionIDsInput struct {
	SecretId          string
	IncludeDeprecated bool
	MaxResults        *int64
	NextToken         string
}

type versionEntry struct {
	VersionId     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages,omitempty"`
	CreatedDate   *epoch   `json:"CreatedDate,omitempty"`
}

type listSecretVersionIDsOutput struct {
	ARN       string         `json:"ARN"`
	Name      string         `json:"Name"`
	Versions  []versionEntry `json:"Versions"`
	NextToken string         `json:"NextToken,omitempty"`
}

// listSecretVersionIDs implements ListSecretVersionIds, newest version
// first. Deprecated versions (those without labels) are left out unless
// IncludeDeprecated is set.
func (s *Server) listSecretVersionIDs(in *listSecretVersionIDsInput) (*listSecretVersionIDsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	all := []versionEntry{}
	for _, v := range sec.sortedVersions() {
		if len(v.stages) > 0 || in.IncludeDeprecated {
			all = append(all, versionEntry{VersionId: v.id, VersionStages: slices.Clone(v.stages), CreatedDate: stamp(v.created)})
		}
	}
	page, next, err := paginate(all, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &listSecretVersionIDsOutput{ARN: sec.arn, Name: sec.name, Versions: page, NextToken: next}, nil
}

type filter struct {
	Key    string
	Values []string
}

type listSecretsInput struct {
	Filters                []filter
	IncludePlannedDeletion bool
	MaxResults             *int64
	NextToken              string
	SortBy                 string
	SortOrder              string
}

type secretListEntry struct {
	describeSecretOutput
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
}

type listSecretsOutput struct {
	SecretList []secretListEntry `json:"SecretList"`
	NextToken  string            `json:"NextToken,omitempty"`
}

// listSecrets implements ListSecrets. Secrets scheduled for deletion are
// left out unless IncludePlannedDeletion is set.
func (s *Server) listSecrets(in *listSecretsInput) (*listSecretsOutput, error) {
	if err := checkFilters(in.Filters); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge()
	var secs []*secret
	for _, sec := range s.secrets {
		if (in.IncludePlannedDeletion || !sec.isDeleted()) && matchesAll(sec, in.Filters) {
			secs = append(secs, sec)
		}
	}
	sortSecrets(secs, in.SortBy, in.SortOrder)
	all := make([]secretListEntry, 0, len(secs))
	for _, sec := range secs {
		e := secretListEntry{describeSecretOutput: *describe(sec)}
		e.SecretVersionsToStages, e.VersionIdsToStages = e.VersionIdsToStages, nil
		all = append(all, e)
	}
	page, next, err := paginate(all, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &listSecretsOutput{SecretList: page, NextToken: next}, nil
}

// filterKeys are the filter keys that ListSecrets accepts.
var filterKeys = []string{"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}

// checkFilters validates the Filters member of ListSecrets.
func checkFilters(filters []filter) error {
	for _, f := range filters {
		if !slices.Contains(filterKeys, f.Key) {
			return newError(codeValidation,
				"1 validation error detected: Value '%s' at 'filters.member.key' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
				f.Key, strings.Join(filterKeys, ", "))
		}
	}
	return nil
}

// matchesAll reports whether sec matches every filter. A filter matches if
// any of its values does.
func matchesAll(sec *secret, filters []filter) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(f.Values, func(v string) bool { return matches(sec, f.Key, v) }) {
			return false
		}
	}
	return true
}

// matches reports whether the field key of sec starts with value, or, for
// a value starting with "!", does not.
func matches(sec *secret, key, value string) bool {
	if rest, ok := strings.CutPrefix(value, "!"); ok {
		return !matches(sec, key, rest)
	}
	tagMatch := func(get func(tag) string) bool {
		return slices.ContainsFunc(sec.tags, func(t tag) bool { return strings.HasPrefix(get(t), value) })
	}
	desc := sec.description != nil && strings.HasPrefix(*sec.description, value)
	switch key {
	case "name":
		return strings.HasPrefix(sec.name, value)
	case "description":
		return desc
	case "tag-key":
		return tagMatch(func(t tag) string { return t.Key })
	case "tag-value":
		return tagMatch(func(t tag) string { return t.Value })
	case "all":
		return strings.HasPrefix(sec.name, value) || desc ||
			tagMatch(func(t tag) string { return t.Key }) || tagMatch(func(t tag) string { return t.Value })
	}
	return false
}

// sortSecrets orders secs by the ListSecrets SortBy and SortOrder members:
// by creation date, newest first, unless told otherwise.
func sortSecrets(secs []*secret, by, order string) {
	byTime := func(key func(*secret) time.Time) func(a, b *secret) int {
		return func(a, b *secret) int { return key(a).Compare(key(b)) }
	}
	compare := byTime(func(sec *secret) time.Time { return sec.created })
	switch by {
	case "name":
		compare = func(a, b *secret) int { return strings.Compare(a.name, b.name) }
	case "last-accessed-date":
		compare = byTime(func(sec *secret) time.Time { return sec.accessed })
	case "last-changed-date":
		compare = byTime(func(sec *secret) time.Time { return sec.changed })
	}
	slices.SortFunc(secs, func(a, b *secret) int {
		c := cmp.Or(compare(a, b), cmp.Compare(a.seq, b.seq))
		if order == "asc" {
			return c
		}
		return -c
	})
}

// paginate returns the page of all that starts at token, an offset returned
// by an earlier call, and the token of the next page.
func paginate[T any](all []T, maxResults *int64, token string) ([]T, string, error) {
	limit := int64(100)
	if maxResults != nil {
		if err := checkRange("maxResults", *maxResults, 1, 100); err != nil {
			return nil, "", err
		}
		limit = *maxResults
	}
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", newError(codeInvalidNextToken, "The NextToken value is invalid.")
		}
		start = n
	}
	end := start + int(min(limit, int64(len(all)-start)))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}
