package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
	"github.com/enmasse-go/enmasse/internal/broker"
)

// clientFlags are the connection flags shared by send and receive.
type clientFlags struct {
	url      string
	user     string
	password string
	token    string
	timeout  time.Duration
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	def := os.Getenv("ENMASSE_AMQP_URL")
	if def == "" {
		def = "127.0.0.1:5672"
	}
	fs.StringVar(&c.url, "url", def, "AMQP server HOST:PORT (env ENMASSE_AMQP_URL)")
	fs.StringVar(&c.user, "user", "", "username for SASL PLAIN (user or user@addressspace); empty: ANONYMOUS")
	fs.StringVar(&c.password, "password", "", "password for SASL PLAIN")
	fs.StringVar(&c.token, "token", os.Getenv("ENMASSE_TOKEN"),
		"OIDC bearer `TOKEN` for SASL OAUTHBEARER (env ENMASSE_TOKEN); --user then names the space as [user]@addressspace")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "give up after this long without progress")
}

func (c *clientFlags) dial(ctx context.Context) (*transport.Conn, *transport.Session, error) {
	opts := transport.Options{SASL: sasl.NewAnonymousClient("")}
	switch {
	case c.token != "":
		opts.SASL = sasl.NewOAuthBearerClient(c.user, c.token)
	case c.user != "":
		opts.SASL = sasl.NewPlainClient("", c.user, c.password)
	}
	addr := strings.TrimPrefix(c.url, "amqp://")
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := transport.Dial(dctx, addr, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	s, err := conn.NewSession(dctx)
	if err != nil {
		conn.Close(context.Background(), nil)
		return nil, nil, fmt.Errorf("beginning a session: %w", err)
	}
	return conn, s, nil
}

// addressArg returns the ADDRESS given before the flags, or else the first
// argument after them.
func addressArg(leading string, fs *flag.FlagSet) (string, error) {
	if leading != "" {
		return leading, nil
	}
	if fs.NArg() == 0 {
		return "", usageErrorf("missing ADDRESS")
	}
	return fs.Arg(0), nil
}

// splitAddress takes the leading ADDRESS argument so flags may follow it.
func splitAddress(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func sendCommand() command {
	return command{
		name:    "send",
		summary: "send messages to an address (AMQP)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			address, rest := splitAddress(args)
			fs := newFlagSet("send")
			var cf clientFlags
			cf.register(fs)
			count := fs.Int("count", 1, "number of messages to send")
			durable := fs.Bool("durable", false, "mark messages durable (header.durable)")
			settle := fs.Bool("settle", false, "send pre-settled (at-most-once) instead of waiting for each outcome")
			body := fs.String("body", "", "message body; default: read from stdin, one message per line")
			retain := fs.Bool("retain", false, "on a topic: keep each message as the retained message of its topic name (annotation x-opt-retain; an empty body clears it)")
			if err := parseFlags(fs, rest, "enmasse send ADDRESS [flags]",
				"Sends messages to ADDRESS and waits for each outcome. The body comes from --body, or from stdin, one message per line.",
				stdout, true); err != nil {
				return err
			}
			address, err := addressArg(address, fs)
			if err != nil {
				return err
			}
			if *count < 1 {
				return usageErrorf("--count must be at least 1")
			}
			bodies, err := sendBodies(*body, *count, os.Stdin)
			if err != nil {
				return err
			}
			conn, s, err := cf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background(), nil)
			actx, cancel := context.WithTimeout(ctx, cf.timeout)
			snd, err := s.NewSender(actx, address, transport.SenderOptions{})
			cancel()
			if err != nil {
				return fmt.Errorf("attaching to %q: %w", address, err)
			}
			for i, b := range bodies {
				m := message.Message{Data: [][]byte{[]byte(b)}}
				if *durable {
					m.Header = &message.Header{Durable: true, Priority: 4}
				}
				if *retain {
					m.MessageAnnotations = types.Map{{Key: broker.AnnotationRetain, Value: true}}
				}
				payload, err := m.Marshal(nil)
				if err != nil {
					return err
				}
				sctx, cancel := context.WithTimeout(ctx, cf.timeout)
				st, err := snd.Send(sctx, payload, transport.SendOptions{Settled: *settle})
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("message %d: no credit or outcome within %v (is anyone consuming from %q?)", i+1, cf.timeout, address)
				}
				if err != nil {
					return fmt.Errorf("message %d: %w", i+1, err)
				}
				if st != nil {
					if _, ok := st.(frames.Accepted); !ok {
						return fmt.Errorf("message %d: %v", i+1, st)
					}
				}
			}
			fmt.Fprintf(stderr, "sent %d message(s) to %s\n", len(bodies), address)
			return nil
		},
	}
}

// sendBodies returns the bodies to send: --body repeated count times, or
// lines of stdin (at most count when --count was raised above 1).
func sendBodies(body string, count int, stdin io.Reader) ([]string, error) {
	if body != "" {
		out := make([]string, count)
		for i := range out {
			out[i] = body
		}
		return out, nil
	}
	var out []string
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if len(out) == 0 {
		return nil, usageErrorf("no message body: give --body or lines on stdin")
	}
	return out, nil
}

func receiveCommand() command {
	return command{
		name:    "receive",
		summary: "receive messages from an address and print their bodies (AMQP)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			address, rest := splitAddress(args)
			fs := newFlagSet("receive")
			var cf clientFlags
			cf.register(fs)
			count := fs.Int("count", 1, "number of messages to receive; 0: until --timeout passes without a message")
			settle := fs.Bool("settle", false, "ask for pre-settled (at-most-once) delivery")
			retained := fs.Bool("retained", false, "on a topic: first the retained messages ADDRESS matches (source capability `retained`)")
			if err := parseFlags(fs, rest, "enmasse receive ADDRESS [flags]",
				"Receives messages from ADDRESS, accepts them and prints each body on its own line.",
				stdout, true); err != nil {
				return err
			}
			address, err := addressArg(address, fs)
			if err != nil {
				return err
			}
			if *count < 0 {
				return usageErrorf("--count must not be negative")
			}
			conn, s, err := cf.dial(ctx)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background(), nil)
			credit := uint32(*count)
			if credit == 0 || credit > 100 {
				credit = 100
			}
			actx, cancel := context.WithTimeout(ctx, cf.timeout)
			ro := transport.ReceiverOptions{Credit: credit, PreSettled: *settle}
			if *retained {
				ro.Source = &frames.Source{Address: address, Capabilities: []types.Symbol{broker.CapabilityRetained}}
			}
			rcv, err := s.NewReceiver(actx, address, ro)
			cancel()
			if err != nil {
				return fmt.Errorf("attaching to %q: %w", address, err)
			}
			for n := 0; *count == 0 || n < *count; n++ {
				rctx, cancel := context.WithTimeout(ctx, cf.timeout)
				d, err := rcv.Receive(rctx)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					if *count == 0 {
						return nil
					}
					return fmt.Errorf("received %d of %d message(s): nothing more within %v", n, *count, cf.timeout)
				}
				if err != nil {
					return err
				}
				m, err := message.Unmarshal(d.Payload())
				if err != nil {
					rcv.Reject(d, frames.Errorf(frames.ErrDecodeError, "%v", err))
					return fmt.Errorf("message %d: %w", n+1, err)
				}
				if err := rcv.Accept(d); err != nil {
					return err
				}
				fmt.Fprintln(stdout, bodyText(m))
			}
			return nil
		},
	}
}

// bodyText renders a message body for printing.
func bodyText(m *message.Message) string {
	switch {
	case len(m.Data) > 0:
		var b strings.Builder
		for _, d := range m.Data {
			b.Write(d)
		}
		return b.String()
	case m.HasValue || m.Value != nil:
		return fmt.Sprint(m.Value)
	case len(m.Sequence) > 0:
		return fmt.Sprint(m.Sequence)
	}
	return ""
}
