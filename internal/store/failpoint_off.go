//go:build !failpoints

package store

// envFailpoint returns nil: failpoints exist only in builds with
// -tags failpoints (see failpoint_on.go).
func envFailpoint() func(string) error { return nil }
