package secretsmanager

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// stepTimeout bounds one invocation of the rotation function, like the
// 15-minute limit of Lambda.
const stepTimeout = 15 * time.Minute

// rotationSteps are the steps of a rotation, in the order AWS runs them.
var rotationSteps = []string{"createSecret", "setSecret", "testSecret", "finishSecret"}

type rotateSecretInput struct {
	SecretId           string
	ClientRequestToken string
	RotationLambdaARN  string
	RotationRules      *rotationRules
	RotateImmediately  *bool
}

type rotateSecretOutput struct {
	ARN       string `json:"ARN"`
	Name      string `json:"Name"`
	VersionId string `json:"VersionId,omitempty"`
}

// rotationEvent is the event that the rotation function receives.
type rotationEvent struct {
	SecretId           string
	ClientRequestToken string
	Step               string
}

// rotationPlan is a rotation set up by RotateSecret, which runs without
// holding the lock so that the rotation function can call back into the
// server.
type rotationPlan struct {
	arn, name   string
	lambdaARN   string
	token       string
	immediately bool
}

// rotateSecret implements RotateSecret. The steps run synchronously, before
// it returns; a failed step is reported through OnRotationFailure, not to the
// caller, because AWS runs the steps after RotateSecret has returned.
func (s *Server) rotateSecret(ctx context.Context, in *rotateSecretInput) (*rotateSecretOutput, error) {
	if err := checkRotate(in); err != nil {
		return nil, err
	}
	plan, err := s.beginRotation(in)
	if err != nil {
		return nil, err
	}
	s.runRotation(context.WithoutCancel(ctx), plan)
	return &rotateSecretOutput{ARN: plan.arn, Name: plan.name, VersionId: plan.token}, nil
}

// checkRotate validates the members of a RotateSecret request.
func checkRotate(in *rotateSecretInput) error {
	if err := checkToken(in.ClientRequestToken); err != nil {
		return err
	}
	if err := checkLength("rotationLambdaARN", in.RotationLambdaARN, 0, 2048); err != nil {
		return err
	}
	r := in.RotationRules
	if r == nil {
		return nil
	}
	if r.AutomaticallyAfterDays != nil && r.ScheduleExpression != nil {
		return newError(codeInvalidParameter,
			"You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules.")
	}
	if r.AutomaticallyAfterDays != nil {
		return checkRange("rotationRules.automaticallyAfterDays", *r.AutomaticallyAfterDays, 1, 1000)
	}
	if r.ScheduleExpression != nil {
		return checkSchedule(*r.ScheduleExpression)
	}
	return nil
}

// checkSchedule validates a ScheduleExpression: a cron() expression, which
// is not parsed, or a rate() of at least four hours.
func checkSchedule(expr string) error {
	if strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")") {
		return nil
	}
	n, hours, ok := parseRate(expr)
	if !ok || (hours && n < 4) {
		return newError(codeInvalidParameter, "The ScheduleExpression %q is not valid.", expr)
	}
	return nil
}

// parseRate parses "rate(N hours)" or "rate(N days)".
func parseRate(expr string) (n int, hours, ok bool) {
	inner, ok1 := strings.CutPrefix(expr, "rate(")
	inner, ok2 := strings.CutSuffix(inner, ")")
	f := strings.Fields(inner)
	if !ok1 || !ok2 || len(f) != 2 {
		return 0, false, false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return 0, false, false
	}
	switch f[1] {
	case "hour", "hours":
		return n, true, true
	case "day", "days":
		return n, false, true
	}
	return 0, false, false
}

// beginRotation checks that sec can rotate, records the rotation
// configuration and adds the AWSPENDING version without a value.
func (s *Server) beginRotation(in *rotateSecretInput) (*rotationPlan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	lambdaARN := cmp.Or(in.RotationLambdaARN, sec.rotation.lambdaARN)
	if err := s.canRotate(sec, lambdaARN, in.ClientRequestToken); err != nil {
		return nil, err
	}
	r := &sec.rotation
	r.configured, r.enabled, r.lambdaARN = true, true, lambdaARN
	if in.RotationRules != nil {
		r.rules = in.RotationRules
	}
	now := s.clock()
	plan := &rotationPlan{arn: sec.arn, name: sec.name, lambdaARN: lambdaARN, token: in.ClientRequestToken,
		immediately: in.RotateImmediately == nil || *in.RotateImmediately}
	if !plan.immediately {
		r.next = nextRotation(cmpOrTime(r.lastRotated, now), r.rules)
	}
	sec.attach(s.newVersion(sec, plan.token), stagePending)
	sec.changed = now
	return plan, nil
}

// canRotate returns the error, if any, that AWS gives for starting a
// rotation of sec with lambdaARN and version ID token.
func (s *Server) canRotate(sec *secret, lambdaARN, token string) error {
	if lambdaARN == "" {
		return newError(codeInvalidRequest,
			"You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.")
	}
	if p := sec.owner(stagePending); p != nil && !p.has(stageCurrent) {
		return newError(codeInvalidRequest, msgRotationInProgress)
	}
	if s.invoker == nil {
		return newError(codeAccessDenied,
			"Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.")
	}
	if _, ok := sec.versions[token]; ok {
		return newError(codeResourceExists, "A version with the ClientRequestToken %s already exists.", token)
	}
	return nil
}

// runRotation invokes the steps of plan in order, stopping at the first
// failure, and then records the outcome.
func (s *Server) runRotation(ctx context.Context, plan *rotationPlan) {
	steps := rotationSteps
	if !plan.immediately {
		steps = []string{"testSecret"}
	}
	ok := true
	for _, step := range steps {
		if err := s.invokeStep(ctx, plan, step); err != nil {
			if s.onFailure != nil {
				s.onFailure(plan.arn, step, err)
			}
			ok = false
			break
		}
	}
	s.endRotation(plan, ok)
}

// invokeStep sends the event for step to the rotation function.
func (s *Server) invokeStep(ctx context.Context, plan *rotationPlan, step string) error {
	payload, err := json.Marshal(rotationEvent{SecretId: plan.arn, ClientRequestToken: plan.token, Step: step})
	if err != nil {
		return fmt.Errorf("encode rotation event: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := s.invoker.Invoke(ctx, plan.lambdaARN, payload); err != nil {
		return fmt.Errorf("invoke %s: %w", step, err)
	}
	return nil
}

// endRotation records the outcome of plan. A test rotation
// (RotateImmediately false) removes its AWSPENDING version; a successful
// rotation sets the last and next rotation dates.
func (s *Server) endRotation(plan *rotationPlan, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[plan.name]
	if sec == nil || sec.arn != plan.arn {
		return // deleted while rotating
	}
	if !plan.immediately {
		if v := sec.versions[plan.token]; v != nil && !v.hasValue() && len(v.stages) == 1 && v.has(stagePending) {
			delete(sec.versions, plan.token)
		}
		return
	}
	if ok {
		now := s.clock()
		sec.rotation.lastRotated = now
		sec.rotation.next = nextRotation(now, sec.rotation.rules)
	}
}

// nextRotation returns the end of the rotation window that follows a
// rotation at base, or the zero time for a cron() schedule or no schedule.
func nextRotation(base time.Time, rules *rotationRules) time.Time {
	endOfDay := func(t time.Time) time.Time { return t.Truncate(24 * time.Hour).Add(24*time.Hour - time.Second) }
	switch {
	case rules == nil:
		return time.Time{}
	case rules.AutomaticallyAfterDays != nil:
		return endOfDay(base.AddDate(0, 0, int(*rules.AutomaticallyAfterDays)))
	case rules.ScheduleExpression != nil:
		n, hours, ok := parseRate(*rules.ScheduleExpression)
		switch {
		case !ok:
			return time.Time{}
		case hours:
			return base.Add(time.Duration(n) * time.Hour).Truncate(time.Hour).Add(time.Hour - time.Second)
		}
		return endOfDay(base.AddDate(0, 0, n))
	}
	return time.Time{}
}

// cancelRotateSecret implements CancelRotateSecret: it turns automatic
// rotation off and returns the ID of the version of an unfinished rotation,
// whose labels it leaves alone, as AWS does.
func (s *Server) cancelRotateSecret(in *secretIDInput) (*rotateSecretOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLive(in.SecretId)
	if err != nil {
		return nil, err
	}
	if sec.rotation.lambdaARN == "" {
		return nil, newError(codeInvalidRequest,
			"You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.")
	}
	sec.rotation.enabled = false
	sec.rotation.next = time.Time{}
	sec.changed = s.clock()
	out := &rotateSecretOutput{ARN: sec.arn, Name: sec.name}
	if p := sec.owner(stagePending); p != nil && !p.has(stageCurrent) {
		out.VersionId = p.id
	}
	return out, nil
}

// cmpOrTime returns a if it is not zero, else b.
func cmpOrTime(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}
