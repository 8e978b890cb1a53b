package version

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func TestVersionLdflagsWin(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "1.2.3", "abcdef"
	if got, want := String(), "enmasse 1.2.3 (commit abcdef, "; got[:len(want)] != want {
		t.Fatalf("String() = %q, want prefix %q", got, want)
	}
}

func TestVersionDefaults(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "", ""
	re := regexp.MustCompile(`^enmasse \S+ \(commit \S+, go\S+ \S+/\S+\)$`)
	if s := String(); !re.MatchString(s) {
		t.Fatalf("String() = %q, does not match %v", s, re)
	}
	if Version() == "" || Commit() == "" {
		t.Fatalf("empty Version %q or Commit %q", Version(), Commit())
	}
}

func TestCommitFromSettings(t *testing.T) {
	tests := map[string]struct {
		settings []debug.BuildSetting
		want     string
	}{
		"none": {nil, "unknown"},
		"clean": {[]debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
			{Key: "vcs.modified", Value: "false"},
		}, "0123456789ab"},
		"dirty": {[]debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
			{Key: "vcs.modified", Value: "true"},
		}, "0123456789ab-dirty"},
		"short": {[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "abc"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := commitFromSettings(tc.settings); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
