package secretsmanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The snapshot types mirror the in-memory model with exported fields, so
// that a development stack can keep its secrets between runs (the values
// are local, generated ones; the file is written with mode 0600).

type snapVersion struct {
	ID      string
	Str     *string
	Bin     []byte
	Stages  []string
	Created time.Time
	Seq     uint64
}

type snapRotation struct {
	Configured, Enabled bool
	LambdaARN           string
	Rules               *rotationRules
	LastRotated, Next   time.Time
}

type snapSecret struct {
	ARN, Name, KMSKeyID                             string
	Description                                     *string
	Tags                                            []tag
	Created, Changed, Accessed, Deleted, DeletionAt time.Time
	Seq                                             uint64
	Rotation                                        snapRotation
	Versions                                        []snapVersion
}

type snapshot struct {
	Seq     uint64
	Secrets []snapSecret
}

// load restores the state saved at path; a missing file is an empty state.
func (s *Server) load(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("load state: %w", err)
	}
	s.seq = snap.Seq
	for _, ss := range snap.Secrets {
		sec := &secret{arn: ss.ARN, name: ss.Name, description: ss.Description, kmsKeyID: ss.KMSKeyID, tags: ss.Tags,
			created: ss.Created, changed: ss.Changed, accessed: ss.Accessed, deleted: ss.Deleted, deletionDate: ss.DeletionAt,
			seq: ss.Seq, versions: map[string]*version{},
			rotation: rotation{configured: ss.Rotation.Configured, enabled: ss.Rotation.Enabled, lambdaARN: ss.Rotation.LambdaARN,
				rules: ss.Rotation.Rules, lastRotated: ss.Rotation.LastRotated, next: ss.Rotation.Next}}
		for _, sv := range ss.Versions {
			sec.versions[sv.ID] = &version{id: sv.ID, str: sv.Str, bin: sv.Bin, stages: sv.Stages, created: sv.Created, seq: sv.Seq}
		}
		s.secrets[sec.name] = sec
	}
	return nil
}

// save writes the state to s.statePath atomically. The caller holds s.mu.
func (s *Server) save() error {
	snap := snapshot{Seq: s.seq}
	for _, sec := range s.secrets {
		ss := snapSecret{ARN: sec.arn, Name: sec.name, Description: sec.description, KMSKeyID: sec.kmsKeyID, Tags: sec.tags,
			Created: sec.created, Changed: sec.changed, Accessed: sec.accessed, Deleted: sec.deleted, DeletionAt: sec.deletionDate,
			Seq: sec.seq, Rotation: snapRotation{Configured: sec.rotation.configured, Enabled: sec.rotation.enabled,
				LambdaARN: sec.rotation.lambdaARN, Rules: sec.rotation.rules, LastRotated: sec.rotation.lastRotated, Next: sec.rotation.next}}
		for _, v := range sec.versions {
			ss.Versions = append(ss.Versions, snapVersion{ID: v.id, Str: v.str, Bin: v.bin, Stages: v.stages, Created: v.created, Seq: v.seq})
		}
		snap.Secrets = append(snap.Secrets, ss)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp := s.statePath + ".tmp"
	if err := os.MkdirAll(filepath.Dir(s.statePath), 0o700); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return os.Rename(tmp, s.statePath)
}

// persist saves the state after a request, if a state path is configured.
func (s *Server) persist() {
	if s.statePath == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.save(); err != nil && s.onFailure != nil {
		s.onFailure("", "persist", err)
	}
}
