package stackcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/internal/loopback"
)

const maxRotationDays = 90

func (c *Checker) tableNames() []string {
	return []string{c.cfg.DataTable, c.cfg.KeysTable, c.cfg.AuditTable}
}

func (c *Checker) checkHTTPS(ctx context.Context) checklist.Finding {
	const id = checklist.APIHTTPS
	u, err := url.Parse(c.cfg.GatewayURL)
	switch {
	case err != nil:
		return checklist.Failf(id, checklist.Stack, "gateway URL does not parse")
	case u.Scheme == "http" && loopback.IsURL(c.cfg.GatewayURL):
		return checklist.Skipf(id, checklist.Stack, "local gateway on loopback HTTP ("+u.Host+"); API Gateway itself serves HTTPS only")
	case u.Scheme != "https":
		return checklist.Failf(id, checklist.Stack, "gateway URL is "+u.Scheme+"://, not https://")
	}
	plain := *u
	plain.Scheme = "http"
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(pctx, http.MethodGet, plain.String(), nil)
	client := *c.web
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode < 300 || resp.StatusCode >= 400 || !strings.HasPrefix(loc, "https://") {
			return checklist.Failf(id, checklist.Stack, fmt.Sprintf("plain http://%s answers %d", u.Host, resp.StatusCode))
		}
	}
	return checklist.Passf(id, checklist.Stack, "gateway https://"+u.Host+"; plain HTTP not served")
}

func (c *Checker) checkKMSRotation(ctx context.Context) checklist.Finding {
	const id = checklist.DataKMSRotation
	k, err := c.keys.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(c.cfg.KMSKeyID)})
	if err != nil {
		return checklist.Failf(id, checklist.Stack, "DescribeKey "+c.cfg.KMSKeyID+": "+errCode(err))
	}
	r, err := c.keys.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: k.KeyMetadata.KeyId})
	if err != nil {
		return checklist.Failf(id, checklist.Stack, "GetKeyRotationStatus "+c.cfg.KMSKeyID+": "+errCode(err))
	}
	if !r.KeyRotationEnabled {
		return checklist.Failf(id, checklist.Stack, c.cfg.KMSKeyID+": key rotation disabled")
	}
	ev := c.cfg.KMSKeyID + ": key rotation enabled"
	if r.RotationPeriodInDays != nil {
		ev += fmt.Sprintf(" (every %d days)", *r.RotationPeriodInDays)
	}
	return checklist.Passf(id, checklist.Stack, ev)
}

func (c *Checker) checkSSE(ctx context.Context) checklist.Finding {
	const id = checklist.DataTableSSE
	k, err := c.keys.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(c.cfg.KMSKeyID)})
	if err != nil {
		return checklist.Failf(id, checklist.Stack, "DescribeKey "+c.cfg.KMSKeyID+": "+errCode(err))
	}
	var bad []string
	unreported := 0
	for _, tb := range c.tableNames() {
		out, err := c.tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb)})
		if err != nil {
			return checklist.Failf(id, checklist.Stack, "DescribeTable "+tb+": "+errCode(err))
		}
		sse := out.Table.SSEDescription
		switch {
		case sse == nil && c.cfg.local():
			unreported++
		case sse == nil:
			bad = append(bad, tb+": encrypted with an AWS-owned key")
		case sse.Status != types.SSEStatusEnabled || sse.SSEType != types.SSETypeKms:
			bad = append(bad, fmt.Sprintf("%s: SSE %s %s", tb, sse.Status, sse.SSEType))
		case aws.ToString(sse.KMSMasterKeyArn) != aws.ToString(k.KeyMetadata.Arn):
			bad = append(bad, tb+": encrypted with another KMS key")
		}
	}
	switch {
	case len(bad) > 0:
		return checklist.Failf(id, checklist.Stack, strings.Join(bad, "; "))
	case unreported == len(c.tableNames()):
		return checklist.Skipf(id, checklist.Stack, "DynamoDB Local does not report table encryption")
	}
	return checklist.Passf(id, checklist.Stack, fmt.Sprintf("%d tables SSE KMS with %s", len(c.tableNames()), c.cfg.KMSKeyID))
}

func (c *Checker) checkPITR(ctx context.Context) checklist.Finding {
	const id = checklist.DataPITR
	var bad, on []string
	for _, tb := range c.tableNames() {
		out, err := c.tables.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(tb)})
		if err != nil && c.cfg.local() && errCode(err) == "UnknownOperationException" {
			return checklist.Skipf(id, checklist.Stack, "DynamoDB Local has no point-in-time recovery")
		}
		if err != nil {
			return checklist.Failf(id, checklist.Stack, "DescribeContinuousBackups "+tb+": "+errCode(err))
		}
		enabled := false
		if d := out.ContinuousBackupsDescription.PointInTimeRecoveryDescription; d != nil {
			enabled = d.PointInTimeRecoveryStatus == types.PointInTimeRecoveryStatusEnabled
		}
		switch wantOn := tb != c.cfg.KeysTable; {
		case enabled != wantOn && wantOn:
			bad = append(bad, tb+": PITR off")
		case enabled != wantOn:
			bad = append(bad, tb+": PITR on, so deleted subject keys stay restorable for 35 days")
		case enabled:
			on = append(on, tb)
		}
	}
	if len(bad) > 0 {
		return checklist.Failf(id, checklist.Stack, strings.Join(bad, "; "))
	}
	return checklist.Passf(id, checklist.Stack, strings.Join(on, ", ")+": PITR on; "+c.cfg.KeysTable+": off by design")
}

func (c *Checker) checkTTL(ctx context.Context) checklist.Finding {
	const id = checklist.DataTTL
	var bad, on []string
	for _, tb := range c.tableNames() {
		out, err := c.tables.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(tb)})
		if err != nil {
			return checklist.Failf(id, checklist.Stack, "DescribeTimeToLive "+tb+": "+errCode(err))
		}
		d := out.TimeToLiveDescription
		if d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			bad = append(bad, tb+": TTL not enabled")
			continue
		}
		on = append(on, tb+" ("+aws.ToString(d.AttributeName)+")")
	}
	if len(bad) > 0 {
		return checklist.Failf(id, checklist.Stack, strings.Join(bad, "; "))
	}
	return checklist.Passf(id, checklist.Stack, "TTL enabled: "+strings.Join(on, ", "))
}

func (c *Checker) checkSecretRotation(ctx context.Context) checklist.Finding {
	const id = checklist.DataSecretRotation
	var bad, ok []string
	never := 0
	for _, s := range c.cfg.Secrets {
		out, err := c.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.Name)})
		if err != nil {
			bad = append(bad, "DescribeSecret "+s.Name+": "+errCode(err))
			continue
		}
		on := aws.ToBool(out.RotationEnabled)
		days := int64(0)
		if out.RotationRules != nil {
			days = aws.ToInt64(out.RotationRules.AutomaticallyAfterDays)
		}
		switch {
		case !s.Rotatable && on:
			bad = append(bad, s.Name+": rotation enabled, but it must never rotate (docs/crypto.md)")
		case !s.Rotatable:
			never++
		case !on:
			bad = append(bad, s.Name+": rotation disabled")
		case days < 1 || days > maxRotationDays:
			bad = append(bad, fmt.Sprintf("%s: rotates every %d days", s.Name, days))
		default:
			ok = append(ok, fmt.Sprintf("%s %d d", s.Name, days))
		}
	}
	if len(bad) > 0 || len(ok) == 0 {
		if len(bad) == 0 {
			bad = append(bad, "no rotatable secret configured")
		}
		return checklist.Failf(id, checklist.Stack, strings.Join(bad, "; "))
	}
	return checklist.Passf(id, checklist.Stack, fmt.Sprintf("rotation enabled: %s; %d never rotated by design", strings.Join(ok, ", "), never))
}

// errCode returns an AWS error's code only: messages can echo input.
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "unreachable"
}
