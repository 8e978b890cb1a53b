package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// newFlagSet returns a flag set for subcommand name that reports errors
// instead of printing them, so that Run controls all output.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs. On -h/--help it prints the command's help
// to stdout and returns errHelp; bad flags become a *usageError. Positional
// arguments are refused unless allowArgs.
func parseFlags(fs *flag.FlagSet, args []string, synopsis, description string, stdout io.Writer, allowArgs bool) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(stdout, fs, synopsis, description)
		return errHelp
	}
	if err != nil {
		return &usageError{errors.New(flagErrorText(err.Error()))}
	}
	if !allowArgs && fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

var flagErrorRewrites = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(\S+)$`), "unknown flag --$1"},
	{regexp.MustCompile(`^flag needs an argument: -+(\S+)$`), "flag --$1 needs a value"},
	{regexp.MustCompile(`^(invalid (?:boolean )?value ".*" for) (?:flag )?-+([\w-]+):`), "$1 --$2:"},
}

// flagErrorText rewrites the flag package's messages to the double-dash
// spelling of the documentation: "unknown flag --bogus".
func flagErrorText(msg string) string {
	for _, r := range flagErrorRewrites {
		if r.re.MatchString(msg) {
			return r.re.ReplaceAllString(msg, r.with)
		}
	}
	return msg
}

// printHelp prints a command's synopsis, description and flags, with the
// double-dash spelling the documentation uses (the flag package accepts
// both).
func printHelp(w io.Writer, fs *flag.FlagSet, synopsis, description string) {
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s\n", synopsis, description)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		if _, ok := f.Value.(interface{ IsBoolFlag() bool }); ok {
			placeholder = ""
		}
		line := "  --" + f.Name
		if placeholder != "" {
			line += " " + placeholder
		}
		fmt.Fprintf(w, "%s\n      %s", line, usage)
		if f.DefValue != "" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// listenAddr is a HOST:PORT flag; the empty string disables the listener.
type listenAddr string

func (a *listenAddr) String() string { return string(*a) }

func (a *listenAddr) Set(s string) error {
	if s != "" {
		if _, port, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("want HOST:PORT or empty to disable: %w", err)
		} else if _, err := net.LookupPort("tcp", port); err != nil {
			return fmt.Errorf("bad port %q", port)
		}
	}
	*a = listenAddr(s)
	return nil
}

// choice is a string flag restricted to a fixed set of values.
type choice struct {
	value   string
	allowed []string
}

func (c *choice) String() string {
	if c == nil {
		return ""
	}
	return c.value
}

func (c *choice) Set(s string) error {
	s = strings.ToLower(s)
	if !slices.Contains(c.allowed, s) {
		return fmt.Errorf("want one of %s", strings.Join(c.allowed, ", "))
	}
	c.value = s
	return nil
}

// optionalBool is a bool flag that remembers whether it was given, for
// defaults that depend on other flags.
type optionalBool struct {
	set   bool
	value bool
}

func (b *optionalBool) IsBoolFlag() bool { return true }

func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatBool(b.value)
}

func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("want true or false")
	}
	b.set, b.value = true, v
	return nil
}
