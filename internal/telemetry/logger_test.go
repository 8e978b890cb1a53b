package telemetry

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestTelemetryNewLoggerText(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "text", "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "addr", "127.0.0.1:1")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Errorf("info record written at level warn: %q", out)
	}
	if !strings.Contains(out, `msg=shown addr=127.0.0.1:1`) {
		t.Errorf("text output = %q", out)
	}
}

func TestTelemetryNewLoggerJSON(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "JSON", "Debug")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hello", "n", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("output %q is not JSON: %v", buf.String(), err)
	}
	if rec["msg"] != "hello" || rec["level"] != "DEBUG" {
		t.Errorf("record = %v", rec)
	}
}

func TestTelemetryNewLoggerDefaults(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "", "")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, "msg=shown") {
		t.Errorf("output = %q", out)
	}
}

func TestTelemetryNewLoggerErrors(t *testing.T) {
	tests := map[string]struct{ format, level, want string }{
		"format": {"xml", "info", `unknown log format "xml" (want text or json)`},
		"level":  {"text", "verbose", `unknown log level "verbose" (want one of debug, info, warn, error)`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := NewLogger(&bytes.Buffer{}, tc.format, tc.level)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
