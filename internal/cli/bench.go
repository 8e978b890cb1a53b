package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/enmasse-go/enmasse/internal/bench"
)

func benchCommand() command {
	return command{
		name:    "bench",
		summary: "load generator: throughput, latency, loss and duplicates (AMQP, MQTT)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			fs := newFlagSet("bench")
			var cfg bench.Config
			protocol := fs.String("protocol", "amqp", "amqp (any AMQP 1.0 server) or mqtt (any MQTT 5 or 3.1.1 server)")
			fs.StringVar(&cfg.URL, "url", "", "server HOST:PORT or SCHEME://[USER[:PASSWORD]@]HOST[:PORT], SCHEME amqp, amqps, mqtt or mqtts "+
				"(default $ENMASSE_AMQP_URL or 127.0.0.1:5672; MQTT: $ENMASSE_MQTT_URL or 127.0.0.1:1883)")
			qos := fs.Uint("qos", 0, "MQTT: QoS of publishes and subscriptions (0, 1 or 2)")
			mqttVersion := fs.String("mqtt-version", "5", "MQTT: protocol version, 5 or 311 (3.1.1)")
			fs.StringVar(&cfg.Filter, "filter", "", "MQTT: topic filter consumers subscribe to (default: --address)")
			fs.StringVar(&cfg.Address, "address", "bench", "address (MQTT: topic) to send to and receive from")
			fs.IntVar(&cfg.Addresses, "addresses", 1, "spread producers and consumers over this many addresses, ADDRESS-0… (MQTT: topics ADDRESS/0…), i-th on i mod N")
			fs.IntVar(&cfg.Producers, "producers", 1, "number of producers, each on its own connection")
			fs.IntVar(&cfg.Consumers, "consumers", 1, "number of consumers, each on its own connection (0: send only)")
			fs.IntVar(&cfg.Size, "size", 100, "message body size in bytes (at least 20)")
			fs.IntVar(&cfg.Count, "count", 0, "total messages over all producers")
			fs.DurationVar(&cfg.Duration, "duration", 0, "send for this long instead of --count")
			fs.IntVar(&cfg.Rate, "rate", 0, "total messages per second (0: as fast as possible)")
			fs.BoolVar(&cfg.Presettled, "presettled", false, "send pre-settled (at-most-once) instead of waiting for outcomes")
			fs.BoolVar(&cfg.Durable, "durable", false, "mark messages durable")
			credit := fs.Uint("credit", 1000, "consumer credit window")
			fs.IntVar(&cfg.Window, "window", 1000, "unsettled messages in flight per producer")
			fs.StringVar(&cfg.User, "username", "", "user name: AMQP SASL PLAIN, MQTT CONNECT (default: the URL's; empty: anonymous)")
			fs.StringVar(&cfg.User, "user", "", "the same as --username")
			fs.StringVar(&cfg.Password, "password", "", "password of --username (default: the URL's)")
			fs.BoolVar(&cfg.TLS, "tls", false, "TLS from the first byte (implied by amqps:// and mqtts:// URLs, --ca and --insecure)")
			fs.StringVar(&cfg.CAFile, "ca", "", "PEM `FILE` of CA certificates that verify the server (default: the system's)")
			fs.BoolVar(&cfg.Insecure, "insecure", false, "TLS without verifying the server's certificate")
			fs.DurationVar(&cfg.TimeLimit, "time-limit", 0, "end the run after this long whatever is left; unreceived messages count as lost (0: no limit)")
			idle := fs.Int("idle-conns", 0, "instead of a run: open this many idle connections (MQTT: 3.1.1), hold them for --idle-hold, report")
			idleHold := fs.Duration("idle-hold", 2*time.Second, "with --idle-conns: how long the connections stay open before the server's memory is read")
			serverPID := fs.Int("server-pid", 0, "with --idle-conns: a local server process whose resident memory (Linux /proc) is read before and after")
			fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "stop waiting for consumers after this long without a message")
			fs.BoolVar(&cfg.Fanout, "fanout", false, "every consumer gets every message (multicast, topics): track each consumer separately (always on for MQTT)")
			fs.BoolVar(&cfg.Backlog, "backlog", false, "MQTT, --qos 1 or 2: fill-then-drain through persistent sessions: consumers subscribe and disconnect, "+
				"producers send, consumers resume their sessions (send rate: the fill, receive rate: the drain)")
			fs.BoolVar(&cfg.DrainOnly, "drain-only", false, "no producers: consumers receive --count messages already queued (fill first with --consumers 0)")
			asJSON := fs.Bool("json", false, "print the result as one JSON line")
			quiet := fs.Bool("quiet", false, "no progress line")
			relay := fs.Bool("relay", false, "measure a plain TCP relay of --count messages of --size bytes on loopback instead (this machine's ceiling)")
			if err := parseFlags(fs, args, "enmasse bench [flags]",
				"Runs producers and consumers against an AMQP 1.0 or MQTT (5 or 3.1.1) server and reports throughput, latency percentiles (from timestamps carried in the messages), errors, lost and duplicated messages.",
				stdout, false); err != nil {
				return err
			}
			if *relay {
				if cfg.Count <= 0 {
					return usageErrorf("--relay needs --count")
				}
				rate, err := bench.RunRelay(cfg.Count, cfg.Size)
				if err != nil {
					return err
				}
				if *asJSON {
					return json.NewEncoder(stdout).Encode(map[string]any{"relay_rate": rate, "count": cfg.Count, "size": cfg.Size})
				}
				fmt.Fprintf(stdout, "plain TCP relay: %.0f msg/s (%d messages of %d bytes)\n", rate, cfg.Count, cfg.Size)
				return nil
			}
			if *idle > 0 {
				return runIdle(ctx, cfg, *protocol, *idle, *serverPID, *idleHold, *asJSON, stdout)
			}
			if cfg.Count == 0 && cfg.Duration == 0 {
				return usageErrorf("give --count or --duration")
			}
			if cfg.Count < 0 || cfg.Rate < 0 || cfg.Producers < 1 || cfg.Consumers < 0 {
				return usageErrorf("--count, --rate and --consumers must not be negative, --producers at least 1")
			}
			if cfg.Size < 20 {
				return usageErrorf("--size must be at least 20 bytes")
			}
			cfg.Credit = uint32(*credit)
			if *qos > 2 {
				return usageErrorf("--qos must be 0, 1 or 2")
			}
			cfg.QoS = byte(*qos)
			run := bench.RunAMQP
			switch *protocol {
			case "amqp":
				if cfg.URL == "" {
					cfg.URL = envOr("ENMASSE_AMQP_URL", "127.0.0.1:5672")
				}
				if cfg.Backlog {
					return usageErrorf("--backlog is for MQTT (AMQP: fill with --consumers 0, then --drain-only)")
				}
			case "mqtt":
				if cfg.URL == "" {
					cfg.URL = envOr("ENMASSE_MQTT_URL", "127.0.0.1:1883")
				}
				if cfg.DrainOnly {
					return usageErrorf("--drain-only is for AMQP")
				}
				if cfg.Backlog && (cfg.QoS == 0 || cfg.Consumers == 0) {
					return usageErrorf("--backlog needs --qos 1 or 2 and at least one consumer")
				}
				switch *mqttVersion {
				case "5":
					cfg.MQTTVersion = 5
				case "311", "3.1.1", "4":
					cfg.MQTTVersion = 4
				default:
					return usageErrorf("--mqtt-version must be 5 or 311")
				}
				run = bench.RunMQTT
			default:
				return usageErrorf("--protocol must be amqp or mqtt")
			}
			if !*quiet && !*asJSON {
				cfg.Progress = stderr
			}
			res, err := run(ctx, cfg)
			if err != nil {
				return err
			}
			if *asJSON {
				return json.NewEncoder(stdout).Encode(res)
			}
			fmt.Fprintf(stdout, "sent %d (%.0f msg/s), received %d (%.0f msg/s) in %.2fs\n", res.Sent, res.SendRate, res.Received, res.RecvRate, res.Seconds)
			fmt.Fprintf(stdout, "latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", res.P50, res.P90, res.P99, res.P999, res.Max)
			fmt.Fprintf(stdout, "errors %d, lost %d, duplicates %d\n", res.Errors, res.Lost, res.Duplicates)
			if res.TimeLimited {
				fmt.Fprintf(stdout, "ended by --time-limit %v\n", cfg.TimeLimit)
			}
			return nil
		},
	}
}

// runIdle is enmasse bench --idle-conns: memory of idle connections.
func runIdle(ctx context.Context, cfg bench.Config, protocol string, n, pid int, hold time.Duration, asJSON bool, stdout io.Writer) error {
	switch protocol {
	case "amqp":
		if cfg.URL == "" {
			cfg.URL = envOr("ENMASSE_AMQP_URL", "127.0.0.1:5672")
		}
	case "mqtt":
		if cfg.URL == "" {
			cfg.URL = envOr("ENMASSE_MQTT_URL", "127.0.0.1:1883")
		}
	default:
		return usageErrorf("--protocol must be amqp or mqtt")
	}
	res, err := bench.RunIdle(ctx, cfg, protocol, n, pid, hold)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%d of %d idle %s connections open in %.2fs, %d errors", res.Opened, n, protocol, res.Seconds, res.Errors)
	if res.FirstErr != "" {
		fmt.Fprintf(stdout, " (first: %s)", res.FirstErr)
	}
	fmt.Fprintln(stdout)
	if pid > 0 {
		fmt.Fprintf(stdout, "server RSS %d KiB before, %d KiB after: %.1f KiB per connection\n", res.RSSBefore, res.RSSAfter, res.RSSPerConn)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
