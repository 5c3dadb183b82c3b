package secretsmanager

import (
	"slices"
	"time"
)

type createSecretInput struct {
	Name               string
	ClientRequestToken string
	Description        *string
	KmsKeyId           string
	SecretString       *string
	SecretBinary       []byte
	Tags               []tag
}

type secretRef struct {
	ARN       string `json:"ARN,omitempty"`
	Name      string `json:"Name,omitempty"`
	VersionId string `json:"VersionId,omitempty"`
}

// createSecret implements CreateSecret. A secret created without a value has
// no versions. Repeating a successful call with the same ClientRequestToken
// and value returns the same result.
func (s *Server) createSecret(in *createSecretInput) (*secretRef, error) {
	if err := s.checkCreate(in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge()
	if old, ok := s.secrets[in.Name]; ok {
		return s.recreate(old, in)
	}
	now := s.clock()
	sec := &secret{
		arn:         s.newARN(in.Name),
		name:        in.Name,
		description: in.Description,
		kmsKeyID:    in.KmsKeyId,
		tags:        mergeTags(nil, in.Tags),
		created:     now,
		changed:     now,
		seq:         s.nextSeq(),
		versions:    make(map[string]*version),
	}
	s.secrets[in.Name] = sec
	out := &secretRef{ARN: sec.arn, Name: sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		v := s.newVersion(sec, in.ClientRequestToken)
		v.str, v.bin = in.SecretString, in.SecretBinary
		sec.attach(v, stageCurrent)
		out.VersionId = v.id
	}
	return out, nil
}

// checkCreate validates a CreateSecret request.
func (s *Server) checkCreate(in *createSecretInput) error {
	if err := checkName(in.Name); err != nil {
		return err
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil
	}
	if err := checkValue(in.SecretString, in.SecretBinary); err != nil {
		return err
	}
	return checkToken(in.ClientRequestToken)
}

// recreate answers a CreateSecret for a name that is taken by old: a retry
// of the call that created old succeeds, anything else fails.
func (s *Server) recreate(old *secret, in *createSecretInput) (*secretRef, error) {
	if old.isDeleted() {
		return nil, newError(codeInvalidRequest,
			"You can't create this secret because a secret with this name is already scheduled for deletion.")
	}
	if v, ok := old.versions[in.ClientRequestToken]; ok && v.sameValue(in.SecretString, in.SecretBinary) {
		return &secretRef{ARN: old.arn, Name: old.name, VersionId: v.id}, nil
	}
	return nil, newError(codeResourceExists, "The operation failed because the secret %s already exists.", in.Name)
}

// newVersion adds an empty, unlabelled version with ID id to sec.
func (s *Server) newVersion(sec *secret, id string) *version {
	v := &version{id: id, created: s.clock(), seq: s.nextSeq()}
	sec.versions[id] = v
	return v
}

type secretIDInput struct {
	SecretId string
}

type describeSecretOutput struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	Description        *string             `json:"Description,omitempty"`
	KmsKeyId           string              `json:"KmsKeyId,omitempty"`
	RotationEnabled    *bool               `json:"RotationEnabled,omitempty"`
	RotationLambdaARN  string              `json:"RotationLambdaARN,omitempty"`
	RotationRules      *rotationRules      `json:"RotationRules,omitempty"`
	LastRotatedDate    *epoch              `json:"LastRotatedDate,omitempty"`
	LastChangedDate    *epoch              `json:"LastChangedDate,omitempty"`
	LastAccessedDate   *epoch              `json:"LastAccessedDate,omitempty"`
	DeletedDate        *epoch              `json:"DeletedDate,omitempty"`
	NextRotationDate   *epoch              `json:"NextRotationDate,omitempty"`
	CreatedDate        *epoch              `json:"CreatedDate,omitempty"`
	Tags               []tag               `json:"Tags,omitempty"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
}

// describeSecret implements DescribeSecret, which also works on a secret
// scheduled for deletion.
func (s *Server) describeSecret(in *secretIDInput) (*describeSecretOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	return describe(sec), nil
}

// describe returns the metadata of sec in the DescribeSecret format. The
// rotation fields appear once rotation has been configured; the last and
// next rotation dates only while it is enabled.
func describe(sec *secret) *describeSecretOutput {
	out := &describeSecretOutput{
		ARN:                sec.arn,
		Name:               sec.name,
		Description:        sec.description,
		KmsKeyId:           sec.kmsKeyID,
		LastChangedDate:    stamp(sec.changed),
		LastAccessedDate:   stamp(sec.accessed),
		DeletedDate:        stamp(sec.deleted),
		CreatedDate:        stamp(sec.created),
		Tags:               slices.Clone(sec.tags),
		VersionIdsToStages: sec.stageMap(),
	}
	if r := sec.rotation; r.configured {
		out.RotationEnabled = &r.enabled
		out.RotationLambdaARN = r.lambdaARN
		out.RotationRules = r.rules
		if r.enabled {
			out.LastRotatedDate = stamp(r.lastRotated)
			out.NextRotationDate = stamp(r.next)
		}
	}
	return out
}

type updateSecretInput struct {
	SecretId           string
	ClientRequestToken string
	Description        *string
	KmsKeyId           *string
	SecretString       *string
	SecretBinary       []byte
}

// updateSecret implements UpdateSecret: it changes the description and KMS
// key and, given a value, stores it as a new AWSCURRENT version.
func (s *Server) updateSecret(in *updateSecretInput) (*secretRef, error) {
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	if hasValue {
		if err := checkValue(in.SecretString, in.SecretBinary); err != nil {
			return nil, err
		}
		if err := checkToken(in.ClientRequestToken); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	out := &secretRef{ARN: sec.arn, Name: sec.name}
	if hasValue {
		v, err := s.putValue(sec, in.ClientRequestToken, in.SecretString, in.SecretBinary, nil)
		if err != nil {
			return nil, err
		}
		out.VersionId = v.id
	}
	if in.Description != nil {
		sec.description = in.Description
	}
	if in.KmsKeyId != nil {
		sec.kmsKeyID = *in.KmsKeyId
	}
	sec.changed = s.clock()
	return out, nil
}

type deleteSecretInput struct {
	SecretId                   string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery bool
}

type deleteSecretOutput struct {
	ARN          string `json:"ARN,omitempty"`
	Name         string `json:"Name,omitempty"`
	DeletionDate *epoch `json:"DeletionDate,omitempty"`
}

// deleteSecret implements DeleteSecret. Without ForceDeleteWithoutRecovery
// the secret is scheduled for deletion after a recovery window of 7 to 30
// days (default 30); with it the secret is forgotten at once.
func (s *Server) deleteSecret(in *deleteSecretInput) (*deleteSecretOutput, error) {
	days, err := recoveryWindow(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	sec, err := s.find(in.SecretId)
	if err != nil {
		if in.ForceDeleteWithoutRecovery && in.SecretId != "" {
			return &deleteSecretOutput{Name: in.SecretId, DeletionDate: stamp(now)}, nil
		}
		return nil, err
	}
	out := &deleteSecretOutput{ARN: sec.arn, Name: sec.name, DeletionDate: stamp(now)}
	if in.ForceDeleteWithoutRecovery {
		delete(s.secrets, sec.name)
		return out, nil
	}
	if sec.isDeleted() {
		return nil, newError(codeInvalidRequest,
			"You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	sec.deleted, sec.changed = now, now
	sec.deletionDate = now.Add(time.Duration(days) * 24 * time.Hour)
	out.DeletionDate = stamp(sec.deletionDate)
	return out, nil
}

// recoveryWindow validates the deletion options of in and returns the
// recovery window in days.
func recoveryWindow(in *deleteSecretInput) (int64, error) {
	if in.RecoveryWindowInDays == nil {
		return 30, nil
	}
	if in.ForceDeleteWithoutRecovery {
		return 0, newError(codeInvalidParameter,
			"You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	if d := *in.RecoveryWindowInDays; d < 7 || d > 30 {
		return 0, newError(codeInvalidParameter,
			"The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	}
	return *in.RecoveryWindowInDays, nil
}

// restoreSecret implements RestoreSecret. Restoring a secret that is not
// scheduled for deletion does nothing.
func (s *Server) restoreSecret(in *secretIDInput) (*secretRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	if sec.isDeleted() {
		sec.deleted, sec.deletionDate = time.Time{}, time.Time{}
		sec.changed = s.clock()
	}
	return &secretRef{ARN: sec.arn, Name: sec.name}, nil
}

type tagResourceInput struct {
	SecretId string
	Tags     []tag
	TagKeys  []string
}

type emptyOutput struct{}

// tagResource implements TagResource: tags with an existing key replace it.
func (s *Server) tagResource(in *tagResourceInput) (*emptyOutput, error) {
	if in.Tags == nil {
		return nil, errRequired("tags")
	}
	return s.retag(in.SecretId, func(sec *secret) { sec.tags = mergeTags(sec.tags, in.Tags) })
}

// untagResource implements UntagResource.
func (s *Server) untagResource(in *tagResourceInput) (*emptyOutput, error) {
	if in.TagKeys == nil {
		return nil, errRequired("tagKeys")
	}
	return s.retag(in.SecretId, func(sec *secret) {
		sec.tags = slices.DeleteFunc(sec.tags, func(t tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	})
}

// retag applies edit to the tags of the secret named by id.
func (s *Server) retag(id string, edit func(*secret)) (*emptyOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(id)
	if err != nil {
		return nil, err
	}
	edit(sec)
	sec.changed = s.clock()
	return &emptyOutput{}, nil
}

// mergeTags returns tags with each of add set, replacing tags of the same
// key.
func mergeTags(tags, add []tag) []tag {
	for _, t := range add {
		i := slices.IndexFunc(tags, func(o tag) bool { return o.Key == t.Key })
		if i >= 0 {
			tags[i] = t
			continue
		}
		tags = append(tags, t)
	}
	return tags
}
