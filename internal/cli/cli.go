// Package cli is enmasse's command line and composition root: it parses
// subcommands, flags and config files into component options, wires the
// components together and runs them until the context ends.
//
// Each subcommand is a command value built in its own file (version.go,
// serve.go, …) and listed in commands. Exit codes: 0 success (including
// --help), 1 a runtime failure, 2 a usage error (unknown subcommand, bad
// flag, bad config file). Every error is printed as one line on stderr.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Exit codes returned by Run.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string // one line for `enmasse help`
	// run executes the command with the arguments after its name. It parses
	// its own flags (see parseFlags) and returns errHelp after printing help,
	// a *usageError for bad input, or any other error for a runtime failure.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands in the order `enmasse help` shows them.
// Only commands that really work belong here.
func commands() []command {
	return []command{
		serveCommand(),
		mqttGatewayCommand(),
		sendCommand(),
		receiveCommand(),
		applyCommand(),
		getCommand(),
		describeCommand(),
		deleteCommand(),
		benchCommand(),
		versionCommand(),
	}
}

// errHelp is returned by a command that printed its help; Run exits 0.
var errHelp = errors.New("help requested")

// usageError marks bad input from the user (exit code 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// Run executes the enmasse command line args (without the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		return runHelp(rest, stdout, stderr)
	}
	if strings.HasPrefix(name, "-") {
		fmt.Fprintf(stderr, "enmasse: unknown flag %s (run 'enmasse help' for usage)\n", name)
		return exitUsage
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "enmasse: unknown command %q (run 'enmasse help' for the list)\n", name)
		return exitUsage
	}
	return exitCode(cmd.name, cmd.run(ctx, rest, stdout, stderr), stderr)
}

func exitCode(name string, err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "enmasse %s: %v (run 'enmasse %s --help' for usage)\n", name, oneLine(err), name)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "enmasse %s: %v\n", name, oneLine(err))
		return exitFailure
	}
}

// oneLine keeps the error to one line of output, as promised for every
// subcommand, even when it joins several errors.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// runHelp serves `enmasse help [COMMAND]`.
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return exitOK
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "enmasse help: unknown command %q (run 'enmasse help' for the list)\n", args[0])
		return exitUsage
	}
	return exitCode(cmd.name, cmd.run(context.Background(), []string{"--help"}, stdout, stderr), stderr)
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "enmasse is a messaging-as-a-service platform (AMQP 1.0) in one binary.\n\n")
	fmt.Fprintf(w, "Usage:\n  enmasse <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'enmasse <command> --help' for the flags of a command.\n")
}
