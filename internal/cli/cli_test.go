package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/enmasse-go/enmasse/internal/version"
)

// runCLI runs the command line and returns exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCLIDispatch(t *testing.T) {
	tests := map[string]struct {
		args       []string
		code       int
		stdout     string // substring; "" means stdout must be empty
		stderrLine string // substring of the one stderr line; "" means none
	}{
		"help":                {[]string{"help"}, 0, "serve ", ""},
		"--help":              {[]string{"--help"}, 0, "version ", ""},
		"-h":                  {[]string{"-h"}, 0, "Commands:", ""},
		"help serve":          {[]string{"help", "serve"}, 0, "--data-dir DIR", ""},
		"help unknown":        {[]string{"help", "nope"}, 2, "", `unknown command "nope"`},
		"version":             {[]string{"version"}, 0, version.String(), ""},
		"version --help":      {[]string{"version", "--help"}, 0, "enmasse version", ""},
		"version extra arg":   {[]string{"version", "x"}, 2, "", `enmasse version: unexpected argument "x"`},
		"serve --help":        {[]string{"serve", "--help"}, 0, "--allow-anonymous", ""},
		"serve -h":            {[]string{"serve", "-h"}, 0, "--log-format FORMAT", ""},
		"unknown command":     {[]string{"frobnicate"}, 2, "", `enmasse: unknown command "frobnicate"`},
		"unknown global flag": {[]string{"--frob"}, 2, "", "enmasse: unknown flag --frob"},
		"serve unknown flag":  {[]string{"serve", "--frob"}, 2, "", "enmasse serve: unknown flag --frob"},
		"serve bad listener":  {[]string{"serve", "--amqp", "nohost"}, 2, "", `invalid value "nohost" for --amqp`},
		"serve bad port":      {[]string{"serve", "--http", "127.0.0.1:99999"}, 2, "", `bad port "99999"`},
		"serve bad level":     {[]string{"serve", "--log-level", "loud"}, 2, "", `invalid value "loud" for --log-level: want one of debug, info, warn, error`},
		"serve bad format":    {[]string{"serve", "--log-format=xml"}, 2, "", `for --log-format: want one of text, json`},
		"serve bad bool":      {[]string{"serve", "--allow-anonymous=maybe"}, 2, "", `invalid boolean value "maybe" for --allow-anonymous`},
		"serve missing value": {[]string{"serve", "--http"}, 2, "", "flag --http needs a value"},
		"serve positional":    {[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		"serve empty datadir": {[]string{"serve", "--data-dir="}, 2, "", "--data-dir must not be empty"},
		"serve missing config": {[]string{"serve", "--config", "/nonexistent/enmasse.yaml"}, 2, "",
			"config: open /nonexistent/enmasse.yaml"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if tc.stdout == "" && stdout != "" {
				t.Errorf("stdout = %q, want none", stdout)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tc.stdout)
			}
			if tc.stderrLine == "" {
				if stderr != "" {
					t.Errorf("stderr = %q, want none", stderr)
				}
				return
			}
			if !strings.Contains(stderr, tc.stderrLine) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.stderrLine)
			}
			if n := strings.Count(stderr, "\n"); n != 1 || !strings.HasSuffix(stderr, "\n") {
				t.Errorf("stderr has %d lines, want exactly one: %q", n, stderr)
			}
		})
	}
}

func TestCLINoArgs(t *testing.T) {
	code, stdout, stderr := runCLI(t)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "Commands:") {
		t.Fatalf("code %d stdout %q stderr %q", code, stdout, stderr)
	}
}

func TestCLIRuntimeErrorExitsOne(t *testing.T) {
	// A data dir that cannot be created is a runtime failure, not a usage error.
	file := t.TempDir() + "/file"
	writeFile(t, file, "")
	code, _, stderr := runCLI(t, "serve", "--http", "127.0.0.1:0", "--amqp", "", "--mqtt", "", "--data-dir", file+"/sub")
	if code != 1 {
		t.Fatalf("exit code %d, want 1 (stderr %q)", code, stderr)
	}
	if !strings.HasPrefix(stderr, "enmasse serve: data dir: ") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("stderr = %q", stderr)
	}
}
