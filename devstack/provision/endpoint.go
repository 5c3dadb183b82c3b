package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/waguard/waguard/shared/endpoint"
)

// Endpoint is a webhook endpoint to register on the local stack, as an
// operator registers one (docs/events.md, "Endpoints").
type Endpoint struct {
	// SecretName is the endpoint secret's name, such as
	// "waguard/dev/endpoints/sandbox".
	SecretName string
	// URL receives the deliveries.
	URL string
	// IncludeContent makes the endpoint receive events' personal content.
	IncludeContent bool
	// KMSKeyID encrypts the secret (the stack's data key).
	KMSKeyID string
	// RotationLambdaARN, when set, enables rotation with that function
	// every 90 days, without rotating now: Secrets Manager then runs the
	// function's testSecret step once, as it does for an operator.
	RotationLambdaARN string
}

// RegisterEndpoint creates the endpoint's secret with a fresh signing
// secret and every event type, or, when it exists already (a -persist
// data folder), points it at e.URL and keeps its secret. It returns the
// secret's ARN. Errors name the secret, never its value.
func RegisterEndpoint(ctx context.Context, sm *secretsmanager.Client, e Endpoint) (string, error) {
	arn, err := putEndpoint(ctx, sm, e)
	if err != nil || e.RotationLambdaARN == "" {
		return arn, err
	}
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("endpoint %s: describe: %w", e.SecretName, err)
	}
	if aws.ToBool(d.RotationEnabled) {
		return arn, nil
	}
	_, err = sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(e.RotationLambdaARN),
		RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(90)}, RotateImmediately: aws.Bool(false)})
	if err != nil {
		return "", fmt.Errorf("endpoint %s: enable rotation: %w", e.SecretName, err)
	}
	return arn, nil
}

// putEndpoint creates the secret, or updates the URL of an existing one.
func putEndpoint(ctx context.Context, sm *secretsmanager.Client, e Endpoint) (string, error) {
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(e.SecretName)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		doc, err := endpoint.NewSecretDocument(e.URL, nil, e.IncludeContent)
		if err != nil {
			return "", fmt.Errorf("endpoint %s: %w", e.SecretName, err)
		}
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(e.SecretName), KmsKeyId: nonEmpty(e.KMSKeyID),
			Description:  aws.String("Webhook endpoint registered by waguard-dev (docs/events.md)"),
			SecretString: aws.String(string(doc))})
		if err != nil {
			return "", fmt.Errorf("endpoint %s: create: %w", e.SecretName, err)
		}
		return aws.ToString(out.ARN), nil
	}
	if err != nil {
		return "", fmt.Errorf("endpoint %s: read: %w", e.SecretName, err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &doc); err != nil {
		return "", fmt.Errorf("endpoint %s: current value is not a JSON object", e.SecretName)
	}
	if url, _ := json.Marshal(e.URL); string(doc[endpoint.FieldURL]) != string(url) {
		doc[endpoint.FieldURL] = url
		b, _ := json.Marshal(doc)
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: cur.ARN, SecretString: aws.String(string(b))}); err != nil {
			return "", fmt.Errorf("endpoint %s: update url: %w", e.SecretName, err)
		}
	}
	return aws.ToString(cur.ARN), nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
