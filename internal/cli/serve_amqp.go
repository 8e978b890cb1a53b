package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/store"
)

// amqpComponent is the AMQP listener of serve: the transport server with
// the router as its handler and the in-process broker behind the router.
type amqpComponent struct {
	addr   string
	opts   transport.Options
	dp     *dataPlane
	logger *slog.Logger
	srv    *transport.Server
	done   chan struct{}
}

// dataPlane is the router and broker of one serve process, with the
// broker's journal in the data dir.
type dataPlane struct {
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
		Dir:    filepath.Join(opts.dataDir, "journal"),
		Logger: logger.With("component", "journal"),
	})
	if err != nil {
		return nil, fmt.Errorf("opening the message journal: %w", err)
	}
	if rep := journal.Recovery(); rep.TruncatedBytes > 0 || len(rep.Corrupt) > 0 {
		logger.Warn("message journal recovered from damage", "report", fmt.Sprintf("%+v", rep))
	}
	b, err := broker.Open(broker.Options{Store: journal, Logger: logger.With("component", "broker")})
	if err != nil {
		journal.Close()
		return nil, err
	}
	hook := &autoCreateHook{} // the control plane's agent records auto-created addresses
	r := router.New(router.Options{
		Broker: b,
		Logger: logger.With("component", "router"),
		OnAutoCreate: func(space, address string, t router.Type) {
			logger.Info("address created on attach", "space", space, "address", address, "type", t)
			hook.call(space, address, t)
		},
	})
	r.SetSpace(router.SpaceConfig{Name: "default", Namespace: "default", AutoCreate: true})
	for _, q := range b.Queues() {
		// Queues replayed from the journal are addresses again.
		r.SetAddress(q.Space, q.Name, router.Type(q.Type))
	}
	return &dataPlane{router: r, broker: b, journal: journal, autoCreate: hook}, nil
}

// Close flushes and closes the journal.
func (dp *dataPlane) Close() error { return dp.journal.Close() }

func newAMQPComponent(opts serveOptions, dp *dataPlane, logger *slog.Logger) *amqpComponent {
	logger = logger.With("component", "amqp")
	r := dp.router
	return &amqpComponent{
		addr:   opts.amqpAddr,
		dp:     dp,
		logger: logger,
		opts: transport.Options{
			ContainerID: "enmasse",
			Handler:     r,
			OnOpen:      r.OnOpen,
			Authenticator: sasl.NewAuthenticator(sasl.Config{
				AllowAnonymous: opts.anonymous,
			}),
			AllowNoSASL: opts.anonymous,
			Logger:      logger,
		},
	}
}

func (a *amqpComponent) Name() string { return "amqp" }

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
	// Clients are gone: flush the journal (SPEC §2: SIGTERM flushes it).
	return errors.Join(err, a.dp.Close())
}
