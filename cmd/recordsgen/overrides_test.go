package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseOverrides(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"Stage=prod", map[string]string{"Stage": "prod"}},
		{"  Stage=prod\tRetentionDaysOtp=2 \n", map[string]string{"Stage": "prod", "RetentionDaysOtp": "2"}},
		{`HelpText="Reply STOP to opt out" Stage=dev`, map[string]string{"HelpText": "Reply STOP to opt out", "Stage": "dev"}},
		{`HelpText="say \"hi\" \\ bye"`, map[string]string{"HelpText": `say "hi" \ bye`}},
		{`HelpText=""`, map[string]string{"HelpText": ""}},
		{"HelpText=", map[string]string{"HelpText": ""}},
		{"A=1 A=2", map[string]string{"A": "2"}},
		{"Url=https://x.example/a=b", map[string]string{"Url": "https://x.example/a=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseOverrides(tt.in)
			if err != nil {
				t.Fatalf("parseOverrides(%q) err = %v, want nil", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseOverrides(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseOverridesRejects(t *testing.T) {
	for _, in := range []string{"Stage", "=prod", `Help Text=x`, `A="unterminated`, `A="x"y`, `A=x"y`, `"A"=x`} {
		t.Run(in, func(t *testing.T) {
			if _, err := parseOverrides(in); err == nil {
				t.Errorf("parseOverrides(%q) err = nil, want an error", in)
			} else if strings.Contains(err.Error(), in) {
				t.Errorf("parseOverrides(%q) err = %v, want no input in the message", in, err)
			}
		})
	}
}

func TestReadSamconfig(t *testing.T) {
	tests := []struct {
		file, env string
		want      samconfig
	}{
		{"testdata/samconfig.toml", "default", samconfig{Region: "eu-west-2", Params: map[string]string{"Stage": "dev"}}},
		{"testdata/samconfig.toml", "prod", samconfig{Region: "eu-central-1",
			Params: map[string]string{"Stage": "prod", "RetentionDaysMarketing": "14", "HelpText": "Reply STOP to opt out"}}},
		{"testdata/samconfig.toml", "list", samconfig{Region: "eu-west-1",
			Params: map[string]string{"Stage": "staging", "RetentionDaysOtp": "2", "HelpText": "a, b"}}},
		{"../../samconfig.toml", "prod", samconfig{Region: "eu-west-2", Params: map[string]string{"Stage": "prod"}}},
		{"../../samconfig.toml", "staging", samconfig{Region: "eu-west-2", Params: map[string]string{"Stage": "staging"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.env, func(t *testing.T) {
			f, err := os.Open(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := readSamconfig(f, tt.env)
			if err != nil {
				t.Fatalf("readSamconfig(%s, %s) err = %v, want nil", tt.file, tt.env, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readSamconfig(%s, %s) mismatch (-want +got):\n%s", tt.file, tt.env, diff)
			}
		})
	}
}

func TestReadSamconfigRejects(t *testing.T) {
	for name, in := range map[string]string{
		"unknown environment": "[prod.deploy.parameters]\nregion = \"x\"\n",
		"bad header":          "[other.deploy.parameters\n",
		"no equals":           "[other.deploy.parameters]\nregion\n",
		"unterminated string": "[other.deploy.parameters]\nregion = \"x\n",
		"unterminated array":  "[other.deploy.parameters]\nparameter_overrides = [\"A=1\"\n",
		"bad overrides":       "[other.deploy.parameters]\nparameter_overrides = \"A\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := readSamconfig(strings.NewReader(in), "other"); err == nil {
				t.Errorf("readSamconfig(%q) err = nil, want an error", in)
			}
		})
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"defaults to stdout", []string{"-template", templatePath, "-out", "-"}, 0, "| `marketing` | outbound messages sent with purpose `marketing` | 30 |"},
		{"param", []string{"-template", templatePath, "-out", "-", "-param", "RetentionDaysMarketing=7"}, 0, "| `marketing` | outbound messages sent with purpose `marketing` | 7 |"},
		{"param beats samconfig", []string{"-template", templatePath, "-out", "-", "-samconfig", "testdata/samconfig.toml",
			"-config-env", "prod", "-param", "RetentionDaysMarketing=21"}, 0, "| `marketing` | outbound messages sent with purpose `marketing` | 21 |"},
		{"samconfig region", []string{"-template", templatePath, "-out", "-", "-samconfig", "testdata/samconfig.toml", "-config-env", "prod"}, 0, "AWS region eu-central-1"},
		{"parameter-overrides", []string{"-template", templatePath, "-out", "-", "-parameter-overrides", `Stage=prod HelpText="x y"`}, 0, "stack `waguard-prod`"},
		{"unknown parameter", []string{"-template", templatePath, "-out", "-", "-param", "Nope=1"}, 2, ""},
		{"bad param flag", []string{"-template", templatePath, "-out", "-", "-param", "Nope"}, 2, ""},
		{"extra argument", []string{"-template", templatePath, "-out", "-", "extra"}, 2, ""},
		{"missing template", []string{"-template", "testdata/none.yaml", "-out", "-"}, 2, ""},
		{"missing samconfig", []string{"-template", templatePath, "-out", "-", "-samconfig", "testdata/none.toml"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Fatalf("run(%q) = %d (stderr %q), want %d", tt.args, code, stderr.String(), tt.code)
			}
			if !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("run(%q) output lacks %q", tt.args, tt.out)
			}
		})
	}
}

func TestRunWritesFile(t *testing.T) {
	out := t.TempDir() + "/records.md"
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-template", templatePath, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("run() = %d (stderr %q), want 0", code, stderr.String())
	}
	if got, want := readFile(t, out), readFile(t, recordPath); !bytes.Equal(got, want) {
		t.Errorf("written record differs from %s", recordPath)
	}
}

// FuzzParseOverrides checks the parser never panics and that what it
// accepts survives formatOverrides unchanged.
func FuzzParseOverrides(f *testing.F) {
	for _, s := range []string{"Stage=prod", `HelpText="Reply \"STOP\"" A=1`, "A=", `A="\\"`, " \t", `A="x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseOverrides(s)
		if err != nil {
			return
		}
		again, err := parseOverrides(formatOverrides(p))
		if err != nil {
			t.Fatalf("parseOverrides(formatOverrides(%q)) err = %v, want nil", p, err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzReadSamconfig checks the samconfig reader never panics.
func FuzzReadSamconfig(f *testing.F) {
	seed, err := os.ReadFile("testdata/samconfig.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed), "prod")
	f.Add("[a.deploy.parameters]\nparameter_overrides = ['A=1', \"B=2\",]\n", "a")
	f.Fuzz(func(t *testing.T, in, env string) {
		_, _ = readSamconfig(strings.NewReader(in), env)
	})
}
