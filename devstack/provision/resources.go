package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	cfnddb "github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	cfnsm "github.com/awslabs/goformation/v7/cloudformation/secretsmanager"

	"github.com/waguard/waguard/internal/samtemplate"
)

func provisionKeys(ctx context.Context, c Clients, tpl *samtemplate.Template, r *samtemplate.Resolver) error {
	aliases := tpl.CFN.GetAllKMSAliasResources()
	for id, key := range tpl.CFN.GetAllKMSKeyResources() {
		var aliasID, aliasName string
		for aid, a := range aliases {
			if a.TargetKeyId == "Ref("+id+")" {
				aliasID, aliasName = aid, a.AliasName
			}
		}
		if aliasName == "" {
			return fmt.Errorf("key %s has no alias in the template", id)
		}
		meta, err := c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(aliasName)})
		if err != nil {
			var nf *kmstypes.NotFoundException
			if !errors.As(err, &nf) {
				return fmt.Errorf("describe %s: %w", aliasName, err)
			}
			meta, err = createKey(ctx, c.KMS, key.KeySpec, key.KeyUsage, key.Description, aliasName)
			if err != nil {
				return err
			}
			if key.EnableKeyRotation != nil && *key.EnableKeyRotation {
				if _, err := c.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: meta.KeyMetadata.KeyId}); err != nil {
					return fmt.Errorf("enable rotation %s: %w", id, err)
				}
			}
		}
		r.Refs[id] = aws.ToString(meta.KeyMetadata.KeyId)
		r.Attrs[id+".Arn"] = aws.ToString(meta.KeyMetadata.Arn)
		r.Attrs[id+".KeyId"] = aws.ToString(meta.KeyMetadata.KeyId)
		r.Refs[aliasID] = aliasName
	}
	return nil
}

func createKey(ctx context.Context, k *kms.Client, spec, usage, desc *string, alias string) (*kms.DescribeKeyOutput, error) {
	in := &kms.CreateKeyInput{Description: desc}
	if spec != nil {
		in.KeySpec = kmstypes.KeySpec(*spec)
	}
	if usage != nil {
		in.KeyUsage = kmstypes.KeyUsageType(*usage)
	}
	out, err := k.CreateKey(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("create key %s: %w", alias, err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		return nil, fmt.Errorf("create alias %s: %w", alias, err)
	}
	return &kms.DescribeKeyOutput{KeyMetadata: out.KeyMetadata}, nil
}

func provisionTables(ctx context.Context, c Clients, tpl *samtemplate.Template, r *samtemplate.Resolver) error {
	for id, t := range tpl.CFN.GetAllDynamoDBTableResources() {
		name := aws.ToString(t.TableName)
		desc, err := c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			var nf *ddbtypes.ResourceNotFoundException
			if !errors.As(err, &nf) {
				return fmt.Errorf("describe table %s: %w", name, err)
			}
			if desc, err = createTable(ctx, c.DynamoDB, t); err != nil {
				return err
			}
		}
		r.Refs[id] = name
		r.Attrs[id+".Arn"] = aws.ToString(desc.Table.TableArn)
		r.Attrs[id+".StreamArn"] = aws.ToString(desc.Table.LatestStreamArn)
	}
	return nil
}

// TableInput is the CreateTable request of template table t: its keys,
// attributes, global secondary indexes (with their projections) and
// stream, on demand. The local stack creates its tables with it, and
// shared/store/storetest its in-memory ones, so both follow template.yaml.
func TableInput(t *cfnddb.Table) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   t.TableName,
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   keySchema(t.KeySchema),
	}
	for _, a := range t.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: ddbtypes.ScalarAttributeType(a.AttributeType)})
	}
	for _, g := range t.GlobalSecondaryIndexes {
		p := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}
		if g.Projection != nil && g.Projection.ProjectionType != nil {
			p.ProjectionType = ddbtypes.ProjectionType(*g.Projection.ProjectionType)
			p.NonKeyAttributes = g.Projection.NonKeyAttributes
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName), KeySchema: keySchema(g.KeySchema), Projection: p})
	}
	if t.StreamSpecification != nil {
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewType(t.StreamSpecification.StreamViewType)}
	}
	return in
}

func createTable(ctx context.Context, d *dynamodb.Client, t *cfnddb.Table) (*dynamodb.DescribeTableOutput, error) {
	in := TableInput(t)
	if _, err := d.CreateTable(ctx, in); err != nil {
		return nil, fmt.Errorf("create table %s: %w", aws.ToString(t.TableName), err)
	}
	if ttl := t.TimeToLiveSpecification; ttl != nil && ttl.Enabled {
		_, err := d.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: t.TableName,
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: ttl.AttributeName, Enabled: aws.Bool(true)}})
		if err != nil {
			return nil, fmt.Errorf("ttl %s: %w", aws.ToString(t.TableName), err)
		}
	}
	return d.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: t.TableName})
}

func keySchema(ks []cfnddb.Table_KeySchema) []ddbtypes.KeySchemaElement {
	var out []ddbtypes.KeySchemaElement
	for _, k := range ks {
		out = append(out, ddbtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: ddbtypes.KeyType(k.KeyType)})
	}
	return out
}

func provisionSecrets(ctx context.Context, c Clients, tpl *samtemplate.Template, r *samtemplate.Resolver) error {
	for id, s := range tpl.CFN.GetAllSecretsManagerSecretResources() {
		name := aws.ToString(s.Name)
		desc, err := c.SecretsManager.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &name})
		if err == nil {
			r.Refs[id] = aws.ToString(desc.ARN)
			continue
		}
		var nf *smtypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("describe secret %s: %w", name, err)
		}
		value, err := secretValue(ctx, c.SecretsManager, s.SecretString, s.GenerateSecretString)
		if err != nil {
			return fmt.Errorf("secret %s: %w", id, err)
		}
		out, err := c.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: &name, Description: s.Description, KmsKeyId: s.KmsKeyId, SecretString: &value})
		if err != nil {
			return fmt.Errorf("create secret %s: %w", id, err)
		}
		r.Refs[id] = aws.ToString(out.ARN)
	}
	return nil
}

// secretValue builds a secret's initial value the way CloudFormation does
// for GenerateSecretString, with GetRandomPassword doing the generating.
func secretValue(ctx context.Context, sm *secretsmanager.Client, literal *string, g *cfnsm.Secret_GenerateSecretString) (string, error) {
	if g == nil {
		return aws.ToString(literal), nil
	}
	pw, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		PasswordLength: int64Ptr(g.PasswordLength), ExcludeCharacters: g.ExcludeCharacters,
		ExcludeLowercase: g.ExcludeLowercase, ExcludeNumbers: g.ExcludeNumbers, ExcludePunctuation: g.ExcludePunctuation,
		ExcludeUppercase: g.ExcludeUppercase, IncludeSpace: g.IncludeSpace, RequireEachIncludedType: g.RequireEachIncludedType})
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	if g.SecretStringTemplate == nil {
		return aws.ToString(pw.RandomPassword), nil
	}
	doc := map[string]any{}
	if err := json.Unmarshal([]byte(*g.SecretStringTemplate), &doc); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	for k, v := range doc {
		if v == "set-me" {
			doc[k] = randomHex(16)
		}
	}
	doc[aws.ToString(g.GenerateStringKey)] = aws.ToString(pw.RandomPassword)
	b, err := json.Marshal(doc)
	return string(b), err
}

func provisionRotation(ctx context.Context, c Clients, tpl *samtemplate.Template, _ *samtemplate.Resolver) error {
	for id, rs := range tpl.CFN.GetAllSecretsManagerRotationScheduleResources() {
		desc, err := c.SecretsManager.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &rs.SecretId})
		if err != nil {
			return fmt.Errorf("rotation %s: %w", id, err)
		}
		if aws.ToBool(desc.RotationEnabled) {
			continue
		}
		in := &secretsmanager.RotateSecretInput{SecretId: &rs.SecretId, RotationLambdaARN: rs.RotationLambdaARN,
			RotateImmediately: aws.Bool(false)}
		if rr := rs.RotationRules; rr != nil {
			in.RotationRules = &smtypes.RotationRulesType{ScheduleExpression: rr.ScheduleExpression}
			if rr.AutomaticallyAfterDays != nil {
				in.RotationRules.AutomaticallyAfterDays = aws.Int64(int64(*rr.AutomaticallyAfterDays))
			}
		}
		if _, err := c.SecretsManager.RotateSecret(ctx, in); err != nil {
			return fmt.Errorf("rotation %s: %w", id, err)
		}
	}
	return nil
}

func int64Ptr(p *int) *int64 {
	if p == nil {
		return nil
	}
	return aws.Int64(int64(*p))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WaitTables waits until every table is ACTIVE (DynamoDB Local is at once;
// AWS takes seconds).
func WaitTables(ctx context.Context, d *dynamodb.Client, names []string) error {
	w := dynamodb.NewTableExistsWaiter(d)
	for _, n := range names {
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(n)}, 30*time.Second); err != nil {
			return fmt.Errorf("wait table %s: %w", n, err)
		}
	}
	return nil
}
