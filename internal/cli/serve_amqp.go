package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/store"
)

// amqpComponent is an AMQP listener of serve (amqp, or amqps with TLS from
// the first byte): the transport server with the router as its handler and
// the in-process broker behind the router.
type amqpComponent struct {
	name      string // "amqp" or "amqps"
	addr      string
	tlsListen *tls.Config // amqps: the listener's TLS; nil for amqp
	opts      transport.Options
	dp        *dataPlane
	closeDP   bool // Shutdown flushes and closes the journal (the last AMQP listener to stop)
	logger    *slog.Logger
	srv       *transport.Server
	done      chan struct{}
}

// dataPlane is the router and broker of one serve process, with the
// broker's journal in the data dir.
type dataPlane struct {
	users   messagingUsers // the control plane's MessagingUsers, for SASL
	fails   *authFailures  // failed authentications per source address
	router  *router.Router
	broker  *broker.Broker
	journal *store.Log
	// autoCreate forwards the router's OnAutoCreate to the control plane.
	autoCreate *autoCreateHook
}

// openDataPlane opens the journal (DATA-DIR/journal), replays it into the
// broker and builds the router with the `default` address space, which
// auto-creates queues (SPEC §2, §4).
func openDataPlane(opts serveOptions, logger *slog.Logger) (*dataPlane, error) {
	journal, err := store.Open(store.Options{
		Dir:             filepath.Join(opts.dataDir, "journal"),
		CompactInterval: 30 * time.Second,
		Logger:          logger.With("component", "journal"),
	})
	if err != nil {
		return nil, fmt.Errorf("opening the message journal: %w", err)
	}
	if rep := journal.Recovery(); rep.TruncatedBytes > 0 || len(rep.Corrupt) > 0 {
		logger.Warn("message journal recovered from damage", "report", fmt.Sprintf("%+v", rep))
	}
	b, err := broker.Open(broker.Options{
		Store:     journal,
		MaxMemory: brokerMaxMemory,
		Logger:    logger.With("component", "broker"),
	})
	if err != nil {
		journal.Close()
		return nil, err
	}
	hook := &autoCreateHook{} // the control plane's agent records auto-created addresses
	dp := &dataPlane{broker: b, journal: journal, autoCreate: hook, fails: newAuthFailures()}
	r := router.New(router.Options{
		Broker:     b,
		Authorizer: messagingUserAuthz{&dp.users},
		Logger:     logger.With("component", "router"),
		OnAutoCreate: func(space, address string, t router.Type) {
			logger.Info("address created on attach", "space", space, "address", address, "type", t)
			hook.call(space, address, t)
		},
	})
	r.SetSpace(router.SpaceConfig{Name: "default", Namespace: "default", AutoCreate: true})
	for _, q := range b.Queues() {
		if q.OnAttach || isMQTTSubscription(q) {
			// Durable subscriptions a receiver's attach created (JMS
			// durable subscribers on a topic, MQTT sessions) are the
			// broker's, reached through their topic, not addresses: as
			// before the restart, neither the router nor the control
			// plane (which would adopt them as Address resources
			// without a topic) gets them. isMQTTSubscription covers
			// journals written before the OnAttach flag.
			continue
		}
		// Queues replayed from the journal are addresses again.
		r.SetAddress(q.Space, q.Name, router.Type(q.Type))
	}
	dp.router = r
	return dp, nil
}

// brokerMaxMemory bounds the message bytes serve's queues hold in memory;
// beyond it they page to the journal (SPEC §6).
const brokerMaxMemory = 256 << 20

// Close flushes and closes the journal.
func (dp *dataPlane) Close() error { return dp.journal.Close() }

func newAMQPComponent(opts serveOptions, dp *dataPlane, logger *slog.Logger) *amqpComponent {
	logger = logger.With("component", "amqp")
	r := dp.router
	return &amqpComponent{
		name:    "amqp",
		addr:    opts.amqpAddr,
		dp:      dp,
		closeDP: true,
		logger:  logger,
		opts: transport.Options{
			ContainerID: "enmasse",
			Handler:     r,
			OnOpen:      logOpen(r.OnOpen, logger),
			// A verified TLS client certificate adds EXTERNAL. Failures
			// are audited and slowed down per source address.
			Authenticator: newGuardedAuthenticator(newSASLAuthenticator(opts, dp, false), dp.fails, logger),
			AllowNoSASL:   opts.anonymous,
			TLSConfig:     opts.amqpTLSConfig(), // offers the in-band "AMQP\x02" upgrade
			Logger:        logger,
		},
	}
}

// newSASLAuthenticator is the SASL policy of serve: MessagingUsers with
// PLAIN and SCRAM, OIDC bearer tokens with OAUTHBEARER and XOAUTH2 when
// --oidc-issuer is set, EXTERNAL for verified client certificates and
// ANONYMOUS where allowed. plainAnywhere offers PLAIN and the token
// mechanisms whatever the transport (the MQTT gateway's in-process pipe:
// the MQTT client already sent its password or token).
func newSASLAuthenticator(opts serveOptions, dp *dataPlane, plainAnywhere bool) sasl.Authenticator {
	cfg := sasl.Config{
		AllowAnonymous:       opts.anonymous,
		Users:                &dp.users, // MessagingUsers: PLAIN and SCRAM
		AllowPlainWithoutTLS: plainAnywhere,
	}
	if tu := newTokenUsers(opts, &dp.users); tu != nil {
		cfg.Tokens, cfg.TokenDiscoveryURL = tu, opts.tokens.DiscoveryURL()
	}
	return sasl.NewAuthenticator(cfg)
}

// newAMQPSComponent returns the amqps listener: TLS from the first byte,
// then the same router and authentication as the amqp listener. closeDP
// is true when there is no amqp listener to close the journal.
func newAMQPSComponent(opts serveOptions, dp *dataPlane, closeDP bool, logger *slog.Logger) *amqpComponent {
	a := newAMQPComponent(opts, dp, logger.With("listener", "amqps"))
	a.name, a.addr, a.closeDP = "amqps", opts.amqpsAddr, closeDP
	a.tlsListen, a.opts.TLSConfig = opts.amqpTLSConfig(), nil // no upgrade inside TLS
	return a
}

// logOpen wraps a transport OnOpen to log each accepted connection with its
// identity at debug level.
func logOpen(onOpen func(*transport.Conn, *frames.Open) error, logger *slog.Logger) func(*transport.Conn, *frames.Open) error {
	return func(c *transport.Conn, o *frames.Open) error {
		if err := onOpen(c, o); err != nil {
			return err
		}
		if logger.Enabled(context.Background(), slog.LevelDebug) {
			id := c.Identity()
			attrs := []any{"remote", c.RemoteAddr().String(), "user", id.User, "mechanism", id.Mechanism, "hostname", o.Hostname}
			if st := c.TLSState(); st != nil {
				attrs = append(attrs, "tls", tls.VersionName(st.Version), "sni", st.ServerName)
				if len(st.VerifiedChains) > 0 {
					attrs = append(attrs, "client_cert", st.VerifiedChains[0][0].Subject.String())
				}
			}
			logger.Debug("connection opened", attrs...)
		}
		return nil
	}
}

func (a *amqpComponent) Name() string { return a.name }

func (a *amqpComponent) Addr() net.Addr {
	if a.srv == nil {
		return nil
	}
	return a.srv.Addr()
}

func (a *amqpComponent) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", a.addr)
	if err != nil {
		return err
	}
	if a.tlsListen != nil {
		ln = tls.NewListener(ln, a.tlsListen) // transport.Accept finishes the handshake
	}
	a.srv = transport.NewServer(ln, a.opts)
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ctx); err != nil {
			a.logger.Error("amqp listener stopped", "err", err)
		}
	}()
	return nil
}

func (a *amqpComponent) Shutdown(ctx context.Context) error {
	var err error
	if a.srv != nil {
		err = a.srv.Shutdown(ctx)
		<-a.done
	}
	if !a.closeDP {
		return err
	}
	// Clients are gone: flush the journal (SPEC §2: SIGTERM flushes it).
	return errors.Join(err, a.dp.Close())
}
