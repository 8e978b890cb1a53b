package cli

import (
	"context"
	"log/slog"
	"net"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// amqpComponent is the AMQP listener of serve: the transport server with
// the router as its handler and the in-process broker behind the router.
type amqpComponent struct {
	addr   string
	opts   transport.Options
	logger *slog.Logger
	srv    *transport.Server
	done   chan struct{}
}

// newDataPlane builds the router and broker of one serve process, with the
// `default` address space, which auto-creates queues (SPEC §2, §4).
func newDataPlane(logger *slog.Logger) *router.Router {
	b := broker.New(broker.Options{Logger: logger.With("component", "broker")})
	r := router.New(router.Options{
		Broker: b,
		Logger: logger.With("component", "router"),
		OnAutoCreate: func(space, address string, t router.Type) {
			logger.Info("address created on attach", "space", space, "address", address, "type", t)
		},
	})
	r.SetSpace(router.SpaceConfig{Name: "default", Namespace: "default", AutoCreate: true})
	return r
}

func newAMQPComponent(opts serveOptions, r *router.Router, logger *slog.Logger) *amqpComponent {
	logger = logger.With("component", "amqp")
	return &amqpComponent{
		addr:   opts.amqpAddr,
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
	if a.srv == nil {
		return nil
	}
	err := a.srv.Shutdown(ctx)
	<-a.done
	return err
}
