package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/waguard/waguard/shared/audit"
)

// scanner holds the DynamoDB call the command makes.
type scanner interface {
	Scan(ctx context.Context, params *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// keyFetcher holds the KMS call the command makes.
type keyFetcher interface {
	GetPublicKey(ctx context.Context, params *kms.GetPublicKeyInput, optFns ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
}

// clients builds the AWS clients, only when a flag needs them.
type clients func(ctx context.Context) (scanner, keyFetcher, error)

func loadClients(ctx context.Context) (scanner, keyFetcher, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load aws config: %w", err)
	}
	return dynamodb.NewFromConfig(cfg), kms.NewFromConfig(cfg), nil
}

type options struct {
	table, file, publicKey, kmsKey, from, to, dump string
	sealedThrough                                  string
	timeout                                        time.Duration
}

const (
	exitOK    = 0
	exitBreak = 1
	exitError = 2
)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("auditverify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.table, "table", "", "audit table to Scan")
	fs.StringVar(&o.file, "file", "", "export file to read instead (aws dynamodb scan output or S3 export lines)")
	fs.StringVar(&o.publicKey, "public-key", "", "signing public key file, PEM or DER")
	fs.StringVar(&o.kmsKey, "kms-key", "", "fetch the public key from KMS instead (alias or ARN)")
	fs.StringVar(&o.from, "from", "", "first UTC day to verify, YYYY-MM-DD; every day from it must have a digest (the day the stack was created pins where the trail begins)")
	fs.StringVar(&o.to, "to", "", "last UTC day to verify, YYYY-MM-DD")
	fs.StringVar(&o.sealedThrough, "sealed-through", "", fmt.Sprintf("last UTC day that must have a digest, YYYY-MM-DD (default: yesterday, once the digest's %v grace period is over, else the day before; for an export, the day it was taken)", audit.DigestGrace))
	fs.StringVar(&o.dump, "dump", "", "also write the items read to this export file")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "overall time limit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if (o.table == "") == (o.file == "") || (o.publicKey == "") == (o.kmsKey == "") || fs.NArg() > 0 {
		fs.Usage()
		return o, errors.New("need one of -table or -file, and one of -public-key or -kms-key")
	}
	if o.sealedThrough == "" {
		o.sealedThrough = audit.SealedThrough(time.Now())
	}
	return o, nil
}

// run verifies and reports; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, newClients clients) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "auditverify:", err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rep, err := verify(ctx, o, stdout, newClients)
	if err != nil {
		fmt.Fprintln(stderr, "auditverify:", err)
		return exitError
	}
	return report(stdout, rep, o.sealedThrough)
}

func verify(ctx context.Context, o options, stdout io.Writer, newClients clients) (*audit.Report, error) {
	var db scanner
	var kc keyFetcher
	if o.table != "" || o.kmsKey != "" {
		var err error
		if db, kc, err = newClients(ctx); err != nil {
			return nil, err
		}
	}
	pub, err := publicKey(ctx, o, kc)
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	fmt.Fprintf(stdout, "public key sha256:%x\n", sha256.Sum256(der))
	items, err := readItems(ctx, o, db)
	if err != nil {
		return nil, err
	}
	if o.dump != "" {
		if err := dump(o.dump, items); err != nil {
			return nil, err
		}
	}
	return audit.Verify(items, pub, audit.VerifyOptions{From: o.from, To: o.to, SealedThrough: o.sealedThrough})
}

func publicKey(ctx context.Context, o options, kc keyFetcher) (*ecdsa.PublicKey, error) {
	if o.publicKey != "" {
		b, err := os.ReadFile(o.publicKey)
		if err != nil {
			return nil, fmt.Errorf("read public key: %w", err)
		}
		return audit.ParsePublicKey(b)
	}
	out, err := kc.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(o.kmsKey)})
	if err != nil {
		return nil, fmt.Errorf("get public key: %w", err)
	}
	if out.KeyUsage != kmstypes.KeyUsageTypeSignVerify || out.KeySpec != kmstypes.KeySpecEccNistP256 {
		return nil, errors.New("get public key: not an ECC_NIST_P256 signing key")
	}
	return audit.ParsePublicKey(out.PublicKey)
}

func readItems(ctx context.Context, o options, db scanner) ([]map[string]types.AttributeValue, error) {
	if o.file != "" {
		f, err := os.Open(o.file)
		if err != nil {
			return nil, fmt.Errorf("read export: %w", err)
		}
		defer f.Close()
		return audit.ParseExport(f)
	}
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(o.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", o.table, err)
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

func dump(path string, items []map[string]types.AttributeValue) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	if err := audit.WriteExport(f, items); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func report(w io.Writer, rep *audit.Report, sealedThrough string) int {
	fmt.Fprintf(w, "checked %d events in %d chains and %d digests\n", rep.Events, rep.Chains, rep.Digests)
	if rep.Since != "" && rep.Since <= sealedThrough {
		fmt.Fprintf(w, "sealed through %s: every day from %s must have an on-time digest\n", sealedThrough, rep.Since)
	} else {
		fmt.Fprintf(w, "sealed through %s: no day of this trail is due yet\n", sealedThrough)
	}
	for _, d := range rep.Unsealed {
		fmt.Fprintf(w, "unsealed %s: no digest yet; the tails of its chains cannot be checked\n", d)
	}
	if rep.OK() {
		fmt.Fprintln(w, "OK")
		return exitOK
	}
	first, _ := rep.First()
	fmt.Fprintf(w, "FIRST BREAK %v\n", first)
	for _, b := range rep.Breaks[1:] {
		fmt.Fprintf(w, "break %v\n", b)
	}
	fmt.Fprintf(w, "FAIL: %d break(s)\n", len(rep.Breaks))
	return exitBreak
}
