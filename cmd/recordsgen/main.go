// Command recordsgen writes docs/records-of-processing.md, the GDPR Art. 30
// record of processing, from template.yaml and the code, so that the
// record cannot drift from what the stack deploys.
//
//	go run ./cmd/recordsgen                        # rewrite docs/records-of-processing.md (defaults)
//	go run ./cmd/recordsgen -samconfig samconfig.toml -config-env prod -out records-prod.md
//	go run ./cmd/recordsgen -param RetentionDaysMarketing=14 -out -   # to stdout
//	go run ./cmd/recordsgen -endpoint 'crm=Acme CRM (the controller)+content' -out records-prod.md
//
// Retention periods are read the way the functions read them
// (retention.PolicyFromEnv over the environment template.yaml gives them);
// tables, secrets, log groups, routes and schedules come from the
// template; descriptions of classes, tables, routes and audit events live
// in facts.go, and a class, table, route or event type without one fails
// the command. Run from the repository root.
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"
)

//go:embed records.md.tmpl
var recordsTemplate string

// Default paths, relative to the repository root.
const (
	defaultTemplate = "template.yaml"
	defaultOut      = "docs/records-of-processing.md"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// paramFlag collects repeated -param Name=Value flags.
type paramFlag map[string]string

func (p paramFlag) String() string { return formatOverrides(p) }

func (p paramFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want Name=Value")
	}
	p[name] = value
	return nil
}

// endpointFlag collects repeated -endpoint flags:
// name=recipient, or name=recipient+content for an endpoint whose secret
// sets include_content.
type endpointFlag struct{ rows *[]endpointRow }

func (e endpointFlag) String() string {
	if e.rows == nil {
		return ""
	}
	var names []string
	for _, r := range *e.rows {
		names = append(names, r.Name)
	}
	return strings.Join(names, ",")
}

func (e endpointFlag) Set(s string) error {
	name, who, ok := strings.Cut(s, "=")
	who, content := strings.CutSuffix(who, "+content")
	if !ok || name == "" || strings.TrimSpace(who) == "" {
		return fmt.Errorf("want name=recipient or name=recipient+content")
	}
	*e.rows = append(*e.rows, endpointRow{Name: name, Recipient: strings.TrimSpace(who), Content: content})
	return nil
}

// run is main without the exit: 0 on success, 2 on any error.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("recordsgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	params := paramFlag{}
	var opts options
	tplPath := fs.String("template", defaultTemplate, "SAM template to read")
	out := fs.String("out", defaultOut, `file to write ("-" for standard output)`)
	samconfigPath := fs.String("samconfig", "", "read region and parameter_overrides from this samconfig.toml")
	configEnv := fs.String("config-env", "default", "samconfig environment, as sam deploy --config-env")
	overrides := fs.String("parameter-overrides", "", "Name=Value pairs, as sam deploy --parameter-overrides")
	fs.Var(params, "param", "override one parameter, Name=Value (repeatable)")
	fs.StringVar(&opts.Region, "region", "", "AWS region of the deployment")
	fs.StringVar(&opts.Controller, "controller", "", "controller's name and contact details")
	fs.StringVar(&opts.DPO, "dpo", "", "data protection officer's name and contact details")
	fs.Var(endpointFlag{&opts.Endpoints}, "endpoint", "a configured webhook endpoint, name=recipient, or name=recipient+content if it receives content (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "recordsgen: unexpected arguments")
		return 2
	}
	var err error
	if opts.Params, err = collectParams(*samconfigPath, *configEnv, *overrides, params, &opts); err != nil {
		fmt.Fprintln(stderr, "recordsgen:", err)
		return 2
	}
	doc, err := generate(*tplPath, opts)
	if err == nil {
		err = write(*out, doc, stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "recordsgen:", err)
		return 2
	}
	return 0
}

// collectParams merges, in increasing precedence, the samconfig
// environment's overrides, -parameter-overrides and -param flags. The
// samconfig region is used unless -region is given.
func collectParams(samconfigPath, env, overrides string, flags paramFlag, opts *options) (map[string]string, error) {
	out := map[string]string{}
	if samconfigPath != "" {
		f, err := os.Open(samconfigPath)
		if err != nil {
			return nil, fmt.Errorf("open samconfig: %w", err)
		}
		defer f.Close()
		cfg, err := readSamconfig(f, env)
		if err != nil {
			return nil, err
		}
		out = cfg.Params
		if opts.Region == "" {
			opts.Region = cfg.Region
		}
	}
	p, err := parseOverrides(overrides)
	if err != nil {
		return nil, err
	}
	for _, m := range []map[string]string{p, flags} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// generate renders the record for the template at path.
func generate(path string, opts options) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	r, err := build(data, opts)
	if err != nil {
		return nil, err
	}
	return render(r)
}

// render executes records.md.tmpl.
func render(r *record) ([]byte, error) {
	t, err := template.New("records").Option("missingkey=error").Funcs(template.FuncMap{
		"classDays": classDays,
		"days":      days,
		"param":     param,
	}).Parse(recordsTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse records template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, r); err != nil {
		return nil, fmt.Errorf("render records: %w", err)
	}
	return b.Bytes(), nil
}

// classDays returns the retention period of a class, for the template.
func classDays(r *record, class string) (int, error) {
	for _, c := range r.Classes {
		if string(c.Class) == class {
			return c.Days, nil
		}
	}
	return 0, fmt.Errorf("no retention class %q", class)
}

// days writes a number of days: "1 day", "30 days".
func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// param quotes a parameter name, or says the value is fixed.
func param(name string) string {
	if name == "" {
		return "template.yaml"
	}
	return "`" + name + "`"
}

func write(path string, doc []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(doc)
		return err
	}
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		return fmt.Errorf("write record: %w", err)
	}
	return nil
}
