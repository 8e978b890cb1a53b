package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/enmasse-go/enmasse/internal/version"
)

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print the version, commit and Go version",
		run: func(_ context.Context, args []string, stdout, _ io.Writer) error {
			fs := newFlagSet("version")
			err := parseFlags(fs, args, "enmasse version",
				"Prints the enmasse version, the source commit and the Go version it was built with.",
				stdout, false)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, version.String())
			return err
		},
	}
}
