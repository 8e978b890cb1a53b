// Package telemetry builds the process's observability plumbing: today the
// log/slog logger that every component receives through its Options.
package telemetry

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Log formats accepted by NewLogger.
var LogFormats = []string{"text", "json"}

// Log levels accepted by NewLogger.
var LogLevels = []string{"debug", "info", "warn", "error"}

// NewLogger returns a logger that writes to w in format ("text" or "json")
// and drops records below level ("debug", "info", "warn" or "error").
// Both names are case-insensitive; an empty string selects "text" and
// "info" respectively.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("unknown log format %q (want %s)", format, strings.Join(LogFormats, " or "))
	}
}

// ParseLevel maps a level name ("debug", "info", "warn", "error",
// case-insensitive; empty means "info") to its slog.Level.
func ParseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("unknown log level %q (want one of %s)", level, strings.Join(LogLevels, ", "))
	}
}
