package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
	"github.com/enmasse-go/enmasse/internal/mqtt"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/telemetry"
	"github.com/enmasse-go/enmasse/internal/tlsconfig"
	"github.com/enmasse-go/enmasse/internal/version"
)

// mqttGatewayOptions is the parsed configuration of `enmasse
// mqtt-gateway`.
type mqttGatewayOptions struct {
	router    string // HOST:PORT of the router's AMQP listener
	routerTLS bool   // amqps to the router
	routerCA  string // CA certificates FILE for the router's certificate; "": system roots
	mqttAddr  string
	mqttsAddr string
	wsAddr    string
	wssAddr   string
	tlsCert   string
	tlsKey    string
	logFormat string
	logLevel  string
	// idleRelease is mqtt.Options.IdleRelease (0: off).
	idleRelease time.Duration
	// ready, if set, is called with the listen addresses ("mqtt",
	// "mqtts", "ws", "wss") once they listen (tests).
	ready func(map[string]net.Addr)
}

const mqttGatewayDescription = `Runs the MQTT gateway as a process of its own (SPEC §1): it serves MQTT 3.1.1
and 5.0 clients and makes each one an AMQP client of a router over TCP, the
AMQP listener of an "enmasse serve" (or router) given with --router. The
router authenticates every client (MQTT username and password as SASL PLAIN,
a password that is a JWT as OAUTHBEARER, else ANONYMOUS; PLAIN is offered by
serve only over TLS or loopback, so use --router-tls across hosts), places it in its address space and applies its
rights; unknown topic roots are created as topics where the space
auto-creates addresses. TLS client certificates are not forwarded: a client
without a username is anonymous at the router. Failed logins count against
the gateway's address at the router.

--mqtts (needs --tls-cert and --tls-key, re-read when they change) serves
MQTT over TLS; --ws and --wss serve MQTT over WebSocket on /mqtt
(subprotocol mqtt), --wss over TLS.
--mqtt-idle-release (default 5s, 0: off) closes the AMQP connection of a
client that has been idle that long with nothing that needs it (over TCP
and TLS, not WebSocket), and dials the router again with the client's
credentials at its next PUBLISH or SUBSCRIBE or for its will; meanwhile
the client does not count under the router's connection limits, and an
idle client costs the gateway about 2 KiB instead of 27 (docs/benchmarks.md).
SIGINT or SIGTERM closes the clients and exits 0.`

func mqttGatewayCommand() command {
	return command{
		name:    "mqtt-gateway",
		summary: "run the MQTT gateway as its own process, in front of a router",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			opts, err := parseMQTTGatewayArgs(args, stdout)
			if err != nil {
				return err
			}
			return runMQTTGateway(ctx, opts, stderr)
		},
	}
}

func parseMQTTGatewayArgs(args []string, stdout io.Writer) (mqttGatewayOptions, error) {
	routerAddr := listenAddr(defaultAMQPAddr)
	mqttAddr := listenAddr(defaultMQTTAddr)
	var mqttsAddr, wsAddr, wssAddr listenAddr
	logFormat := choice{value: "text", allowed: telemetry.LogFormats}
	logLevel := choice{value: "info", allowed: telemetry.LogLevels}
	var o mqttGatewayOptions
	fs := newFlagSet("mqtt-gateway")
	fs.Var(&routerAddr, "router", "the router's AMQP listener `HOST:PORT`")
	fs.BoolVar(&o.routerTLS, "router-tls", false, "connect to the router with TLS (amqps)")
	fs.StringVar(&o.routerCA, "router-ca", "", "CA certificates `FILE` (PEM) to verify the router with (default: the system's)")
	fs.Var(&mqttAddr, "mqtt", "MQTT listener `HOST:PORT`")
	fs.Var(&mqttsAddr, "mqtts", "MQTT over TLS listener `HOST:PORT` (needs --tls-cert and --tls-key)")
	fs.Var(&wsAddr, "ws", "MQTT over WebSocket listener `HOST:PORT` (HTTP, path /mqtt)")
	fs.Var(&wssAddr, "wss", "MQTT over secure WebSocket listener `HOST:PORT` (HTTPS, path /mqtt; needs --tls-cert and --tls-key)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate chain `FILE` (PEM) of --mqtts and --wss")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM) of --tls-cert")
	fs.Var(&logFormat, "log-format", "log `FORMAT`: text or json")
	fs.Var(&logLevel, "log-level", "log `LEVEL`: debug, info, warn or error")
	fs.DurationVar(&o.idleRelease, "mqtt-idle-release", 5*time.Second, "close the AMQP connection of an MQTT client idle this long (over TCP and TLS), and dial the router again with its credentials when it is busy again; 0: never")
	if err := parseFlags(fs, args, "enmasse mqtt-gateway [flags]", mqttGatewayDescription, stdout, false); err != nil {
		return o, err
	}
	o.router, o.mqttAddr, o.mqttsAddr = string(routerAddr), string(mqttAddr), string(mqttsAddr)
	o.wsAddr, o.wssAddr = string(wsAddr), string(wssAddr)
	o.logFormat, o.logLevel = logFormat.value, logLevel.value
	switch {
	case o.router == "":
		return o, usageErrorf("--router must not be empty")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return o, usageErrorf("--tls-cert and --tls-key must be given together")
	case o.mqttsAddr != "" && o.tlsCert == "":
		return o, usageErrorf("--mqtts needs --tls-cert and --tls-key")
	case o.wssAddr != "" && o.tlsCert == "":
		return o, usageErrorf("--wss needs --tls-cert and --tls-key")
	case o.routerCA != "" && !o.routerTLS:
		return o, usageErrorf("--router-ca needs --router-tls")
	case o.mqttAddr == "" && o.mqttsAddr == "" && o.wsAddr == "" && o.wssAddr == "":
		return o, usageErrorf("no listener: give --mqtt, --mqtts, --ws or --wss")
	case o.idleRelease < 0:
		return o, usageErrorf("--mqtt-idle-release must not be negative")
	}
	return o, nil
}

// runMQTTGateway serves until ctx ends, then closes every client (at most
// 10 s).
func runMQTTGateway(ctx context.Context, o mqttGatewayOptions, logOut io.Writer) error {
	logger, err := telemetry.NewLogger(logOut, o.logFormat, o.logLevel)
	if err != nil {
		return &usageError{err}
	}
	logger.Info("starting", "version", version.Version(), "router", o.router, "router_tls", o.routerTLS)
	b := &remoteBackend{addr: o.router}
	if o.routerTLS {
		host, _, _ := net.SplitHostPort(o.router)
		b.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if o.routerCA != "" {
			pool, err := tlsconfig.CAPool(o.routerCA)
			if err != nil {
				return fmt.Errorf("--router-ca: %w", err)
			}
			b.tls.RootCAs = pool
		}
	}
	var serverTLS *tls.Config
	if o.tlsCert != "" {
		r, err := tlsconfig.New(tlsconfig.Options{CertFile: o.tlsCert, KeyFile: o.tlsKey, Logger: logger.With("component", "tls")})
		if err != nil {
			return err
		}
		serverTLS = r.ServerConfig()
	}
	gw := mqtt.NewServer(mqtt.Options{Backend: b, Logger: logger.With("component", "mqtt"),
		IdleRelease: o.idleRelease, AfterFreezeBurst: debug.FreeOSMemory})

	addrs := map[string]net.Addr{}
	var lns []net.Listener
	var lc net.ListenConfig
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	var httpLns []net.Listener
	for _, l := range []struct{ name, addr string }{{"mqtt", o.mqttAddr}, {"mqtts", o.mqttsAddr}, {"ws", o.wsAddr}, {"wss", o.wssAddr}} {
		if l.addr == "" {
			continue
		}
		ln, err := lc.Listen(ctx, "tcp", l.addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("%s: %w", l.name, err)
		}
		lns = append(lns, ln)
		addrs[l.name] = ln.Addr()
		logger.Info("listening", "proto", l.name, "addr", ln.Addr().String())
		switch l.name {
		case "mqtt":
			go gw.Serve(ln)
		case "mqtts":
			go gw.Serve(tls.NewListener(ln, serverTLS))
		case "ws":
			httpLns = append(httpLns, ln)
		case "wss":
			httpLns = append(httpLns, tls.NewListener(ln, serverTLS))
		}
	}
	var hs *http.Server
	if len(httpLns) > 0 {
		mux := http.NewServeMux()
		mux.Handle("GET /mqtt", gw.WebSocketHandler())
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		for _, ln := range httpLns {
			go func() {
				if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					logger.Error("WebSocket listener stopped", "err", err)
				}
			}()
		}
	}
	logger.Info("ready")
	if o.ready != nil {
		o.ready(addrs)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), defaultShutdownTimeout)
	defer cancel()
	err = gw.Shutdown(sctx)
	if hs != nil {
		err = errors.Join(err, hs.Shutdown(sctx))
	}
	closeAll()
	logger.Info("stopped")
	return err
}

// remoteBackend implements mqtt.Backend with a router reached over TCP:
// each MQTT client gets its own AMQP connection, which desires
// router.CapabilityMQTTTopics so that the router creates topics for it
// (EnsureTopic has nothing to do). It is an mqtt.Suspender: an idle
// client's connection is closed, and dialled again with the client's
// credentials when the client needs it.
type remoteBackend struct {
	addr string
	tls  *tls.Config // nil: plain AMQP
	// creds maps each open connection to the credentials it was opened
	// with, for Suspend.
	creds sync.Map
}

func (b *remoteBackend) Connect(ctx context.Context, cred mqtt.Credentials) (*transport.Conn, error) {
	mech := sasl.NewAnonymousClient(cred.ClientID)
	switch {
	case cred.HasPassword && looksLikeJWT(cred.Password):
		// An OIDC token as password, as serve's gateway takes it.
		mech = sasl.NewOAuthBearerClient(cred.Username, string(cred.Password))
	case cred.HasUsername:
		mech = sasl.NewPlainClient("", cred.Username, string(cred.Password))
	}
	c, err := transport.Dial(ctx, b.addr, transport.Options{
		ContainerID:         "mqtt:" + cred.ClientID,
		SASL:                mech,
		TLSConfig:           b.tls,
		DesiredCapabilities: []types.Symbol{router.CapabilityMQTTTopics},
	})
	if err != nil {
		return nil, err
	}
	b.creds.Store(c, cred)
	c.AfterClose(func() { b.creds.Delete(c) })
	return c, nil
}

func (b *remoteBackend) EnsureTopic(user, name string) error { return nil }

// Suspend implements mqtt.Suspender. Unlike serve's in-process
// suspension, the router does not count a suspended client under its
// connection limits (it is in another process), and Resume logs in
// again: it fails, and the MQTT connection ends (v5 DISCONNECT 0x97 or
// 0x87), when a limit is reached or the credentials are no longer valid
// by then. The credentials stay in the gateway's memory meanwhile, as
// they do while the connection is open.
func (b *remoteBackend) Suspend(c *transport.Conn) (mqtt.Suspension, bool) {
	v, ok := b.creds.Load(c)
	if !ok {
		return nil, false
	}
	cred := v.(mqtt.Credentials)
	cred.TLS = nil // Connect does not use it; the state is large
	return &redial{b: b, cred: cred}, true
}

// redial is a suspended client's claim to a connection to the router.
type redial struct {
	b    *remoteBackend
	cred mqtt.Credentials
}

func (r *redial) Resume(ctx context.Context) (*transport.Conn, error) {
	return r.b.Connect(ctx, r.cred)
}

func (r *redial) Release() {}
