package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/enmasse-go/enmasse/internal/mqtt"
	"github.com/enmasse-go/enmasse/internal/oidc"
	"github.com/enmasse-go/enmasse/internal/telemetry"
	"github.com/enmasse-go/enmasse/internal/tlsconfig"
	"github.com/enmasse-go/enmasse/internal/version"
)

// Defaults of `enmasse serve` (SPEC §2).
const (
	defaultAMQPAddr        = "127.0.0.1:5672"
	defaultHTTPAddr        = "127.0.0.1:8080"
	defaultMQTTAddr        = "127.0.0.1:1883"
	defaultAMQPSAddr       = ":5671"          // only with TLS configured
	defaultMQTTSAddr       = ":8883"          // only with TLS configured
	loopbackMQTTSAddr      = "127.0.0.1:8883" // instead, when every other listener is on loopback
	defaultDataDir         = "./enmasse-data"
	defaultShutdownTimeout = 10 * time.Second
)

// serveOptions is the parsed configuration of `enmasse serve`, from flags
// and the config file.
type serveOptions struct {
	amqpAddr  string // AMQP listener HOST:PORT; "" disables it
	amqpsAddr string // AMQP over TLS listener; "" without TLS or when disabled
	httpAddr  string // HTTP listener HOST:PORT; "" disables it
	mqttAddr  string // MQTT listener HOST:PORT; "" disables it
	mqttsAddr string // MQTT over TLS listener; "" without TLS or when disabled
	dataDir   string // everything durable; locked while serve runs
	logFormat string // "text" or "json"
	logLevel  string // "debug", "info", "warn" or "error"

	// MQTT persistent sessions: the v5 session expiry cap (seconds) and
	// the sessions per address space (negative: unlimited).
	mqttMaxSessionExpiry uint32
	mqttMaxSessions      int
	mqttIdleRelease      time.Duration

	// allowAnonymous is --allow-anonymous as given (possibly not at all);
	// anonymous is the decision from it and the listeners (anonymousAllowed).
	allowAnonymous optionalBool
	anonymous      bool

	// TLS (serve_tls.go): certificate and key files or a development
	// certificate in DATA-DIR/tls; optional client CAs for SASL EXTERNAL;
	// httpTLS serves the HTTP listener over TLS. tls is the loaded
	// certificate, set by runServe (nil without TLS).
	tlsCert, tlsKey, tlsClientCA string
	tlsSelfSigned                bool
	httpTLS                      bool
	tls                          *tlsconfig.Reloader
	tlsReloadInterval            time.Duration // how often the files are checked; zero means 5 s (tests shorten it)

	// oidc is --oidc-*: bearer tokens (SASL OAUTHBEARER/XOAUTH2, HTTP
	// Authorization: Bearer) checked against an OpenID Connect issuer.
	oidc oidcOptions
	// tokens validates bearer tokens when oidc is configured; set by
	// runServe, shared by AMQP, MQTT and the REST API (one key cache).
	tokens *oidc.Validator

	// adminPasswordFile is --admin-password-file; admin is the REST API
	// administrator's credential, set by runServe when anonymous access
	// is off (serve_admin.go).
	adminPasswordFile string
	admin             *adminCredential

	configFile string
	// resources is the raw `resources:` value of the config file (nil
	// without one), kept for the control plane to apply at start.
	resources *yaml.Node

	// shutdownTimeout bounds the whole shutdown; zero means 10 s.
	shutdownTimeout time.Duration
	// ready, if set, is called once every component has started, with the
	// real listen address of each component by name ("http", "amqp").
	// Tests use it to learn the ports chosen for port 0. It runs on the
	// serve goroutine and must not block.
	ready func(addrs map[string]net.Addr)
}

// listeners returns every configured listen address, enabled or not.
func (o *serveOptions) listeners() []string {
	return []string{o.amqpAddr, o.amqpsAddr, o.httpAddr, o.mqttAddr, o.mqttsAddr}
}

const serveDescription = `Runs the platform in one process on embedded defaults. The HTTP endpoint
serves /healthz and /readyz, and MQTT over WebSocket on /mqtt.

Each listener takes HOST:PORT; port 0 picks a free port and the empty string
disables the listener. --config FILE reads YAML with the flag names as keys
(for example "amqp: 127.0.0.1:5672") plus "resources:"; flags given on the
command line override the file.

Anonymous clients are allowed while every listener is on loopback, and a
warning says so at start; once any listener binds another address they are
refused unless --allow-anonymous is given. --allow-anonymous=false refuses
them on loopback too. Without anonymous access the REST API wants HTTP basic
credentials of a MessagingUser (view to read, manage to write, own address
space only) or of the administrator _admin, whose password is in
--admin-password-file (default DATA-DIR/admin-password, generated on first
start; its path is printed at start).

TLS: --tls-cert and --tls-key name PEM files, re-read when they change (a
renewed certificate is served to new connections within seconds, without a
restart); --tls-self-signed instead creates a development CA and server
certificate in DATA-DIR/tls and prints the CA's path for clients to trust.
With TLS, --amqps listens on :5671 (all interfaces, so anonymous access is
off unless --allow-anonymous; use --amqps 127.0.0.1:5671 to stay on
loopback) and --mqtts on :8883 (127.0.0.1:8883 when every other listener is
on loopback), the --amqp listener also offers the in-band TLS upgrade, and
--http-tls serves the --http listener (and its /mqtt WebSocket) as HTTPS.
--tls-client-ca lets clients present a certificate from those CAs: AMQP
clients authenticate with SASL EXTERNAL, MQTT clients that give no username
as the certificate's user, REST API callers over HTTPS as its CN.

SIGINT or SIGTERM stops every component (at most 10 s) and exits 0.`

func serveCommand() command {
	return command{
		name:    "serve",
		summary: "run the whole platform in one process",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			opts, err := parseServeArgs(args, stdout)
			if err != nil {
				return err
			}
			return runServe(ctx, opts, stderr)
		},
	}
}

// parseServeArgs turns the command line (and the config file it names) into
// serveOptions. Errors are *usageError or errHelp.
func parseServeArgs(args []string, stdout io.Writer) (serveOptions, error) {
	amqpAddr := listenAddr(defaultAMQPAddr)
	amqpsAddr := listenAddr("")
	httpAddr := listenAddr(defaultHTTPAddr)
	mqttAddr := listenAddr(defaultMQTTAddr)
	mqttsAddr := listenAddr("")
	logFormat := choice{value: "text", allowed: telemetry.LogFormats}
	logLevel := choice{value: "info", allowed: telemetry.LogLevels}
	var opts serveOptions

	fs := newFlagSet("serve")
	fs.Var(&amqpAddr, "amqp", "AMQP 1.0 listener `HOST:PORT`")
	fs.Var(&amqpsAddr, "amqps", "AMQP over TLS listener `HOST:PORT` (default \":5671\" when TLS is configured, "+
		"which binds every interface and so turns anonymous access off unless --allow-anonymous)")
	fs.Var(&mqttAddr, "mqtt", "MQTT 3.1.1 and 5.0 listener `HOST:PORT`")
	fs.Var(&mqttsAddr, "mqtts", "MQTT over TLS listener `HOST:PORT` (default \":8883\" when TLS is configured, "+
		"or \"127.0.0.1:8883\" when every other listener is on loopback)")
	mqttExpiry := fs.Duration("mqtt-max-session-expiry", 7*24*time.Hour,
		"longest time an offline MQTT 5 session is kept (CONNACK announces the cap; 3.1.1 clean session 0 sessions never expire)")
	fs.IntVar(&opts.mqttMaxSessions, "mqtt-max-sessions", 10000,
		"persistent MQTT sessions per address space; a CONNECT that would create one more is refused (-1: unlimited)")
	fs.DurationVar(&opts.mqttIdleRelease, "mqtt-idle-release", 5*time.Second,
		"an MQTT client idle this long, with no subscription, persistent session or unanswered QoS 1/2 message, gives up its internal AMQP connection until its next PUBLISH or SUBSCRIBE (0: never)")
	fs.Var(&httpAddr, "http", "HTTP listener `HOST:PORT` (health, readiness)")
	fs.StringVar(&opts.tlsCert, "tls-cert", "", "TLS certificate chain `FILE` (PEM), reloaded when it changes; needs --tls-key")
	fs.StringVar(&opts.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM) of --tls-cert")
	fs.BoolVar(&opts.tlsSelfSigned, "tls-self-signed", false,
		"create a development CA and server certificate in DATA-DIR/tls (reused on restart) and print the CA path")
	fs.StringVar(&opts.tlsClientCA, "tls-client-ca", "",
		"CA certificates `FILE` (PEM) for client certificates; a verified one authenticates with SASL EXTERNAL")
	fs.BoolVar(&opts.httpTLS, "http-tls", false, "serve the --http listener over TLS (HTTPS) with the TLS certificate; default plain HTTP")
	fs.StringVar(&opts.oidc.issuer, "oidc-issuer", "",
		"OpenID Connect issuer `URL` (e.g. a Keycloak realm): SASL OAUTHBEARER/XOAUTH2 and HTTP bearer tokens signed by it log MessagingUsers in")
	fs.StringVar(&opts.oidc.jwks, "oidc-jwks", "", "the issuer's key set as a `FILE-or-URL`, instead of discovery from --oidc-issuer")
	fs.StringVar(&opts.oidc.audience, "oidc-audience", "", "`AUD` a token must name in its aud claim (required with --oidc-issuer)")
	fs.StringVar(&opts.oidc.usernameClaim, "oidc-username-claim", "", "token `CLAIM` holding the user name (default preferred_username); sub when it is absent")
	fs.StringVar(&opts.oidc.provider, "oidc-provider", "",
		"only federated MessagingUsers with this spec.authentication.`PROVIDER` match tokens by federatedUserid/federatedUsername (default: any)")
	fs.StringVar(&opts.adminPasswordFile, "admin-password-file", "",
		"`FILE` holding the password of the REST API administrator "+adminUser+" (default: DATA-DIR/"+adminPasswordFile+", generated on first start); only without anonymous access")
	fs.StringVar(&opts.dataDir, "data-dir", defaultDataDir, "`DIR` for everything durable; one serve process per DIR")
	fs.Var(&logFormat, "log-format", "log `FORMAT`: text or json")
	fs.Var(&logLevel, "log-level", "log `LEVEL`: debug, info, warn or error")
	fs.Var(&opts.allowAnonymous, "allow-anonymous",
		"let clients in without credentials (default: true while every listener is on loopback, false otherwise)")
	fs.StringVar(&opts.configFile, "config", "", "YAML config `FILE` with the flag names as keys")

	if err := parseFlags(fs, args, "enmasse serve [flags]", serveDescription, stdout, false); err != nil {
		return serveOptions{}, err
	}
	if opts.configFile != "" {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		res, err := applyConfigFile(opts.configFile, fs, given)
		if err != nil {
			return serveOptions{}, &usageError{err}
		}
		opts.resources = res
	}
	if opts.dataDir == "" {
		return serveOptions{}, usageErrorf("--data-dir must not be empty")
	}
	opts.amqpAddr, opts.httpAddr = string(amqpAddr), string(httpAddr)
	opts.amqpsAddr = string(amqpsAddr)
	opts.mqttAddr, opts.mqttsAddr = string(mqttAddr), string(mqttsAddr)
	if *mqttExpiry < time.Second || *mqttExpiry > mqtt.NeverExpire*time.Second {
		return serveOptions{}, usageErrorf("--mqtt-max-session-expiry must be between 1s and %v", time.Duration(mqtt.NeverExpire)*time.Second)
	}
	opts.mqttMaxSessionExpiry = uint32(*mqttExpiry / time.Second)
	if opts.mqttIdleRelease < 0 {
		return serveOptions{}, usageErrorf("--mqtt-idle-release must not be negative (0: never)")
	}
	if opts.mqttMaxSessions == 0 {
		return serveOptions{}, usageErrorf("--mqtt-max-sessions must not be 0 (-1: unlimited)")
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if err := checkTLSOptions(&opts, given["amqps"], given["mqtts"]); err != nil {
		return serveOptions{}, err
	}
	if err := opts.oidc.check(); err != nil {
		return serveOptions{}, err
	}
	opts.logFormat, opts.logLevel = logFormat.value, logLevel.value
	opts.anonymous = anonymousAllowed(opts.allowAnonymous, opts.listeners())
	return opts, nil
}

// runServe runs the serve lifecycle until ctx ends: lock the data dir, start
// the components in order, report ready, then stop them in reverse order.
// Logs go to logOut.
func runServe(ctx context.Context, opts serveOptions, logOut io.Writer) error {
	logger, err := telemetry.NewLogger(logOut, opts.logFormat, opts.logLevel)
	if err != nil {
		return &usageError{err}
	}
	lock, err := lockDataDir(opts.dataDir)
	if err != nil {
		return err
	}
	defer lock.release()

	logger.Info("starting", "version", version.Version(), "commit", version.Commit(), "data_dir", opts.dataDir)
	logAnonymous(logger, opts)
	if opts.tlsConfigured() {
		if opts.tls, err = setupTLS(opts, logger, logOut); err != nil {
			return err
		}
	}

	if !opts.anonymous && opts.httpAddr != "" {
		if opts.admin, err = setupAdmin(opts, logger, logOut); err != nil {
			return err
		}
	}
	if opts.oidc.configured() {
		if opts.tokens, err = newTokenValidator(ctx, opts.oidc, logger); err != nil {
			return err
		}
	}

	var ready readiness
	comps, err := buildComponents(opts, logger, &ready)
	if err != nil {
		return err
	}
	// Components live until after their Shutdown; the caller's ctx is only
	// the stop signal.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()

	addrs, started, err := startComponents(runCtx, comps, logger)
	if err != nil {
		return errors.Join(err, stopComponents(comps[:started], opts.shutdownTimeout))
	}
	ready.set(phaseReady)
	logger.Info("ready")
	if opts.ready != nil {
		opts.ready(addrs)
	}

	<-ctx.Done()
	ready.set(phaseStopping)
	logger.Info("shutting down")
	if err := stopComponents(comps, opts.shutdownTimeout); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// startComponents starts comps in order and returns the address of each by
// name. On error it also reports how many did start, for the caller to stop.
func startComponents(ctx context.Context, comps []component, logger *slog.Logger) (addrs map[string]net.Addr, started int, err error) {
	addrs = make(map[string]net.Addr, len(comps))
	for _, c := range comps {
		if err := c.Start(ctx); err != nil {
			return nil, started, fmt.Errorf("start %s: %w", c.Name(), err)
		}
		started++
		addrs[c.Name()] = c.Addr()
		if a := c.Addr(); a != nil {
			logger.Info("listening", "proto", c.Name(), "addr", a.String())
		}
		if x, ok := c.(interface{ extraAddrs() map[string]net.Addr }); ok {
			// A component with a second listener (mqtt and mqtts).
			for name, a := range x.extraAddrs() {
				addrs[name] = a
				logger.Info("listening", "proto", name, "addr", a.String())
			}
		}
	}
	return addrs, started, nil
}

// stopComponents shuts comps down in reverse order, all within timeout
// (zero means 10 s), and returns every failure.
func stopComponents(comps []component, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = defaultShutdownTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for i := len(comps) - 1; i >= 0; i-- {
		if err := comps[i].Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", comps[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}
