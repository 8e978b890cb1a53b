// Package version reports what build of enmasse is running: the release
// version, the source commit and the Go toolchain.
//
// Release builds set the version and commit with the linker:
//
//	go build -ldflags "-X github.com/enmasse-go/enmasse/internal/version.version=0.2.0 \
//	    -X github.com/enmasse-go/enmasse/internal/version.commit=abc123" ./cmd/enmasse
//
// Without them the commit falls back to the VCS stamp that the go command
// embeds (runtime/debug.ReadBuildInfo), and the version to the module
// version of a `go install …@vX` build, else to Dev.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Dev is the version of a build that was not given one.
const Dev = "0.1.0-dev"

// Set with -ldflags -X; see the package comment.
var (
	version string
	commit  string
)

// Version is the release version, without a leading "v" (for example
// "0.1.0-dev").
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			if v[0] == 'v' {
				v = v[1:]
			}
			return v
		}
	}
	return Dev
}

// Commit is the source revision, shortened to 12 hex digits and suffixed with
// "-dirty" when the work tree had local changes, or "unknown".
func Commit() string {
	if commit != "" {
		return commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return commitFromSettings(bi.Settings)
}

func commitFromSettings(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// GoVersion is the Go toolchain the binary was built with, e.g. "go1.26.8".
func GoVersion() string { return runtime.Version() }

// String is the one-line form printed by `enmasse version`:
// "enmasse 0.1.0-dev (commit abc123, go1.26.8 linux/amd64)".
func String() string {
	return fmt.Sprintf("enmasse %s (commit %s, %s %s/%s)",
		Version(), Commit(), GoVersion(), runtime.GOOS, runtime.GOARCH)
}
