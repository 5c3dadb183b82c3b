package stackcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/shared/audit"
)

// checkAuditTrail verifies the whole audit table as cmd/auditverify does:
// every hash chain, every signed digest, and an on-time digest for every
// day from the trail's first item through audit.SealedThrough of now. Days
// after today are left out: no real event or digest is dated there.
func (c *Checker) checkAuditTrail(ctx context.Context) checklist.Finding {
	const id = checklist.MonAuditTrail
	pub, err := c.auditKey(ctx)
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	items, err := c.scanAudit(ctx)
	if err != nil {
		return checklist.Failf(id, checklist.Stack, err.Error())
	}
	now := c.now().UTC()
	opt := audit.VerifyOptions{To: now.Format(time.DateOnly), SealedThrough: audit.SealedThrough(now)}
	rep, err := audit.Verify(items, pub, opt)
	if err != nil {
		return checklist.Failf(id, checklist.Stack, "verify: "+err.Error())
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return judgeAuditTrail(rep, opt.SealedThrough, fmt.Sprintf("%x", sha256.Sum256(der))[:16])
}

// judgeAuditTrail turns the verifier's report into the finding: any break
// fails it, and the evidence names the first, as auditverify prints it.
func judgeAuditTrail(rep *audit.Report, sealedThrough, keyPrint string) checklist.Finding {
	const id = checklist.MonAuditTrail
	if first, broken := rep.First(); broken {
		return checklist.Failf(id, checklist.Stack, fmt.Sprintf("auditverify finds %d break(s); first: %v (run cmd/auditverify for all)", len(rep.Breaks), first))
	}
	sealed := "no day is due yet"
	if rep.Since != "" && rep.Since <= sealedThrough {
		sealed = fmt.Sprintf("every day from %s through %s has an on-time digest", rep.Since, sealedThrough)
	}
	return checklist.Passf(id, checklist.Stack, fmt.Sprintf("%d events in %d chains and %d digests verify with key sha256:%s…; %s; %d day(s) not yet due",
		rep.Events, rep.Chains, rep.Digests, keyPrint, sealed, len(rep.Unsealed)))
}

// auditKey returns the pinned public key if one was given, else the
// signing key's public key from KMS (trusting KMS as it is now).
func (c *Checker) auditKey(ctx context.Context) (*ecdsa.PublicKey, error) {
	if len(c.cfg.AuditPublicKey) > 0 {
		pub, err := audit.ParsePublicKey(c.cfg.AuditPublicKey)
		if err != nil {
			return nil, fmt.Errorf("audit public key: %w", err)
		}
		return pub, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := c.keys.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(c.cfg.AuditSigningKeyID)})
	if err != nil {
		return nil, fmt.Errorf("GetPublicKey %s: %s", c.cfg.AuditSigningKeyID, errCode(err))
	}
	pub, err := audit.ParsePublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("GetPublicKey %s: %w", c.cfg.AuditSigningKeyID, err)
	}
	return pub, nil
}

// scanAudit reads every item of the audit table, consistently.
func (c *Checker) scanAudit(ctx context.Context) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(c.items, &dynamodb.ScanInput{TableName: aws.String(c.cfg.AuditTable), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		page, err := p.NextPage(pctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("scan %s: %s", c.cfg.AuditTable, errCode(err))
		}
		items = append(items, page.Items...)
	}
	return items, nil
}
