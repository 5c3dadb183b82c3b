package secretsmanager

import (
	"slices"
	"time"
)

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

type getSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     string   `json:"VersionId"`
	SecretString  *string  `json:"SecretString,omitempty"`
	SecretBinary  []byte   `json:"SecretBinary,omitempty"`
	VersionStages []string `json:"VersionStages,omitempty"`
	CreatedDate   *epoch   `json:"CreatedDate,omitempty"`
}

// getSecretValue implements GetSecretValue. Without VersionId or
// VersionStage it returns the AWSCURRENT version.
func (s *Server) getSecretValue(in *getSecretValueInput) (*getSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	v, err := selectVersion(sec, in.VersionId, in.VersionStage)
	if err != nil {
		return nil, err
	}
	sec.accessed = s.clock().Truncate(24 * time.Hour) // AWS reports the day only
	return &getSecretValueOutput{
		ARN:           sec.arn,
		Name:          sec.name,
		VersionId:     v.id,
		SecretString:  v.str,
		SecretBinary:  v.bin,
		VersionStages: slices.Clone(v.stages),
		CreatedDate:   stamp(v.created),
	}, nil
}

// selectVersion returns the version of sec that has a value and matches id
// and stage.
func selectVersion(sec *secret, id, stage string) (*version, error) {
	var v *version
	switch {
	case id != "":
		v = sec.versions[id]
		if v != nil && stage != "" && !v.has(stage) {
			return nil, newError(codeInvalidRequest,
				"You provided a VersionStage that is not associated to the provided VersionId.")
		}
	case stage != "":
		v = sec.owner(stage)
	default:
		stage = stageCurrent
		v = sec.owner(stage)
	}
	if v != nil && v.hasValue() {
		return v, nil
	}
	if id != "" {
		return nil, newError(codeResourceNotFound,
			"Secrets Manager can't find the specified secret value for VersionId: %s", id)
	}
	return nil, newError(codeResourceNotFound,
		"Secrets Manager can't find the specified secret value for staging label: %s", stage)
}

type putSecretValueInput struct {
	SecretId           string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
}

type putSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages,omitempty"`
}

// putSecretValue implements PutSecretValue.
func (s *Server) putSecretValue(in *putSecretValueInput) (*putSecretValueOutput, error) {
	if err := checkValue(in.SecretString, in.SecretBinary); err != nil {
		return nil, err
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if err := checkStages(in.VersionStages); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	v, err := s.putValue(sec, in.ClientRequestToken, in.SecretString, in.SecretBinary, in.VersionStages)
	if err != nil {
		return nil, err
	}
	return &putSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
}

// checkStages validates the VersionStages member of PutSecretValue.
func checkStages(stages []string) error {
	if len(stages) > 20 {
		return newError(codeValidation,
			"1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must have length less than or equal to 20")
	}
	for _, st := range stages {
		if err := checkLength("versionStages.member", st, 1, 256); err != nil {
			return err
		}
	}
	return nil
}

// putValue stores a value in version token of sec and attaches stages to it
// (AWSCURRENT if stages is empty). A version that already has the same value
// is left as it is; one with a different value cannot change. A version
// created by RotateSecret, which has no value yet, takes the value. The
// caller holds s.mu.
func (s *Server) putValue(sec *secret, token string, str *string, bin []byte, stages []string) (*version, error) {
	v := sec.versions[token]
	switch {
	case v == nil:
		v = s.newVersion(sec, token)
	case v.sameValue(str, bin):
		return v, nil
	case v.hasValue():
		return nil, newError(codeResourceExists,
			"You can't modify an existing version, you can only create a new version.")
	}
	v.str, v.bin = str, bin
	if len(stages) == 0 {
		stages = []string{stageCurrent}
	}
	for _, st := range stages {
		sec.attach(v, st)
	}
	if sec.owner(stageCurrent) == nil { // the first version becomes current
		sec.attach(v, stageCurrent)
	}
	sec.changed = s.clock()
	return v, nil
}

type updateSecretVersionStageInput struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

// updateSecretVersionStage implements UpdateSecretVersionStage. Moving a
// label that is attached to another version requires RemoveFromVersionId to
// name that version.
func (s *Server) updateSecretVersionStage(in *updateSecretVersionStageInput) (*secretRef, error) {
	if in.VersionStage == "" {
		return nil, errRequired("versionStage")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	moveTo, removeFrom, err := stageMove(sec, in)
	if err != nil {
		return nil, err
	}
	switch {
	case moveTo != nil:
		sec.attach(moveTo, in.VersionStage)
	case removeFrom != nil:
		sec.detach(removeFrom, in.VersionStage)
	}
	sec.changed = s.clock()
	return &secretRef{ARN: sec.arn, Name: sec.name}, nil
}

// stageMove returns the versions named by an UpdateSecretVersionStage
// request, after checking the request against the current labels.
func stageMove(sec *secret, in *updateSecretVersionStageInput) (moveTo, removeFrom *version, err error) {
	if moveTo, err = namedVersion(sec, in.MoveToVersionId); err != nil {
		return nil, nil, err
	}
	if removeFrom, err = namedVersion(sec, in.RemoveFromVersionId); err != nil {
		return nil, nil, err
	}
	if removeFrom != nil && !removeFrom.has(in.VersionStage) {
		return nil, nil, newError(codeInvalidParameter,
			"The staging label %s isn't attached to the version %s that you specified in RemoveFromVersionId.",
			in.VersionStage, removeFrom.id)
	}
	owner := sec.owner(in.VersionStage)
	if moveTo != nil && owner != nil && owner != moveTo && removeFrom == nil {
		return nil, nil, newError(codeInvalidParameter,
			"The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.",
			in.VersionStage, owner.id)
	}
	return moveTo, removeFrom, nil
}

// namedVersion returns the version of sec with ID id, or nil if id is empty.
func namedVersion(sec *secret, id string) (*version, error) {
	if id == "" {
		return nil, nil
	}
	if v, ok := sec.versions[id]; ok {
		return v, nil
	}
	return nil, newError(codeInvalidParameter, "The version %s doesn't exist for secret %s.", id, sec.name)
}
