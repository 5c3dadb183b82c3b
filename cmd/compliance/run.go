package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/waguard/waguard/cmd/compliance/internal/checklist"
	"github.com/waguard/waguard/cmd/compliance/internal/render"
	"github.com/waguard/waguard/cmd/compliance/internal/templatecheck"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitError = 2
)

// options are the command's flags.
type options struct {
	template, docs, stage, format, out string
	staticOnly, allowRemote            bool
	timeout, erasureTimeout            time.Duration
	stack                              stackFlags
}

// stackFlags locate the stack; empty values come from the environment,
// then from the template.
type stackFlags struct {
	gatewayURL, sandboxURL           string
	dataTable, keysTable, auditTable string
	kmsKeyID, indexKey, pseudonymKey string
	auditSigningKey, auditPublicKey  string
	apiClient, apiKeySecret          string
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("compliance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.template, "template", "template.yaml", "SAM template to check")
	fs.StringVar(&o.docs, "docs", "", "folder of the documents manual items point to (default: docs/ next to the template)")
	fs.StringVar(&o.stage, "stage", "", "Stage parameter (default: from WAGUARD_DATA_TABLE, else dev)")
	fs.StringVar(&o.format, "format", "text", "output format: text, json or html")
	fs.StringVar(&o.out, "out", "", "write the report to this file instead of stdout")
	fs.BoolVar(&o.staticOnly, "static-only", false, "check the template and docs only; stack items are skipped")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow non-loopback endpoints (a deployed stack)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "overall time limit")
	fs.DurationVar(&o.erasureTimeout, "erasure-timeout", 2*time.Minute, "how long to wait for the probe's erasure to complete")
	s := &o.stack
	fs.StringVar(&s.gatewayURL, "gateway-url", getenv("WAGUARD_GATEWAY_URL"), "API base URL")
	fs.StringVar(&s.sandboxURL, "sandbox-url", getenv("WAGUARD_SANDBOX_URL"), "local WhatsApp sandbox URL (optional)")
	fs.StringVar(&s.dataTable, "data-table", getenv("WAGUARD_DATA_TABLE"), "data table name")
	fs.StringVar(&s.keysTable, "keys-table", getenv("WAGUARD_KEYS_TABLE"), "keys table name")
	fs.StringVar(&s.auditTable, "audit-table", getenv("WAGUARD_AUDIT_TABLE"), "audit table name")
	fs.StringVar(&s.kmsKeyID, "kms-key-id", getenv("WAGUARD_KMS_KEY_ID"), "data key alias or ARN")
	fs.StringVar(&s.indexKey, "index-key-secret-id", getenv("WAGUARD_INDEX_KEY_SECRET_ID"), "blind-index key secret")
	fs.StringVar(&s.pseudonymKey, "pseudonym-key-secret-id", getenv("WAGUARD_PSEUDONYM_KEY_SECRET_ID"), "audit-pseudonym key secret")
	fs.StringVar(&s.auditSigningKey, "audit-signing-key-id", getenv("WAGUARD_AUDIT_SIGNING_KEY_ID"), "audit digest signing key alias or ARN")
	fs.StringVar(&s.auditPublicKey, "audit-public-key", "", "its public key, pinned when the stack was created (PEM or DER; default: ask KMS)")
	fs.StringVar(&s.apiClient, "api-client", "ops", "API client the probes use (needs messages:send, consents:*, subjects:erase)")
	fs.StringVar(&s.apiKeySecret, "api-key-secret-id", "", "its secret (default waguard/<stage>/clients/<api-client>)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.stage == "" {
		o.stage = stageOf(s.dataTable)
	}
	if o.docs == "" {
		o.docs = filepath.Join(filepath.Dir(o.template), "docs")
	}
	return o, nil
}

// stageOf reads the stage from a table name, waguard-<stage>-data.
func stageOf(table string) string {
	if s, ok := strings.CutPrefix(table, "waguard-"); ok {
		if s, ok := strings.CutSuffix(s, "-data"); ok && s != "" {
			return s
		}
	}
	return "dev"
}

// run checks and reports; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "compliance:", err)
		return exitError
	}
	format, err := render.ParseFormat(o.format)
	if err != nil {
		fmt.Fprintln(stderr, "compliance:", err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	rep, err := check(ctx, o, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "compliance:", err)
		return exitError
	}
	if err := write(o, format, rep, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "compliance:", err)
		return exitError
	}
	if rep.Failed() {
		return exitFail
	}
	return exitOK
}

// check runs the template, docs and stack checks and assembles the report.
func check(ctx context.Context, o options, getenv func(string) string) (checklist.Report, error) {
	start := time.Now()
	tpl, err := templatecheck.Load(o.template, o.stage)
	if err != nil {
		return checklist.Report{}, err
	}
	findings := append(tpl.Check(), docsFindings(o.docs)...)
	stackFs, stack, absent, err := checkStack(ctx, o, tpl, getenv)
	if err != nil {
		return checklist.Report{}, err
	}
	defs := checklist.Catalogue()
	return checklist.Report{
		RanAt: start, Duration: time.Since(start), Template: o.template, TemplateSHA256: tpl.SHA256,
		Commit: commit(ctx, filepath.Dir(o.template)), Stack: stack,
		Items: checklist.Build(defs, append(findings, stackFs...), absent),
	}, nil
}

// docsFindings checks that each manual item's document exists.
func docsFindings(dir string) []checklist.Finding {
	var out []checklist.Finding
	for _, d := range checklist.Catalogue() {
		if len(d.Sources) != 1 || d.Sources[0] != checklist.Docs {
			continue
		}
		path := filepath.Join(dir, strings.TrimPrefix(d.Doc, "docs/"))
		if _, err := os.Stat(path); err != nil {
			out = append(out, checklist.Failf(d.ID, checklist.Docs, d.Doc+" is missing: write it, then review it"))
			continue
		}
		out = append(out, checklist.Passf(d.ID, checklist.Docs, checklist.ManualNote(d.ID)+" ("+d.Doc+")"))
	}
	return out
}

// commit names the git commit of dir, marking uncommitted changes.
func commit(ctx context.Context, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	head, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(head))
	if st, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func write(o options, f render.Format, rep checklist.Report, stdout, stderr io.Writer) error {
	if o.out == "" {
		return render.Write(stdout, f, rep)
	}
	file, err := os.Create(o.out)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := render.Write(file, f, rep); err != nil {
		file.Close()
		return err
	}
	c := rep.Counts()
	fmt.Fprintf(stderr, "compliance: wrote %s: %d passed, %d failed, %d manual, %d skipped\n",
		o.out, c[checklist.Pass], c[checklist.Fail], c[checklist.Manual], c[checklist.Skipped])
	return file.Close()
}
