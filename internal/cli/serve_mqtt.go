package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/mqtt"
)

// mqttComponent is the MQTT listener of serve: the MQTT gateway, whose
// clients become AMQP connections to the router through in-process pipes
// (no socket), accepted with the same options as the AMQP listener, so
// authentication and address-space placement are the AMQP ones.
type mqttComponent struct {
	addr    string
	dp      *dataPlane
	closeDP bool // Shutdown closes the journal (no AMQP listener does)
	logger  *slog.Logger
	backend *mqttBackend
	gw      *mqtt.Server
	ln      net.Listener
	done    chan struct{}
}

func newMQTTComponent(opts serveOptions, dp *dataPlane, closeDP bool, logger *slog.Logger) *mqttComponent {
	logger = logger.With("component", "mqtt")
	amqpOpts := newAMQPComponent(opts, dp, logger).opts
	amqpOpts.TLSConfig = nil // the pipe is in process
	b := &mqttBackend{dp: dp, opts: amqpOpts, ctx: context.Background()}
	return &mqttComponent{
		addr: opts.mqttAddr, dp: dp, closeDP: closeDP, logger: logger, backend: b,
		gw: mqtt.NewServer(mqtt.Options{Backend: b, Logger: logger}),
	}
}

func (m *mqttComponent) Name() string { return "mqtt" }

func (m *mqttComponent) Addr() net.Addr {
	if m.ln == nil {
		return nil
	}
	return m.ln.Addr()
}

func (m *mqttComponent) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.addr)
	if err != nil {
		return err
	}
	m.ln = ln
	m.backend.ctx = ctx
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		if err := m.gw.Serve(ln); err != nil {
			m.logger.Error("mqtt listener stopped", "err", err)
		}
	}()
	return nil
}

func (m *mqttComponent) Shutdown(ctx context.Context) error {
	var err error
	if m.ln != nil {
		err = m.gw.Shutdown(ctx)
		<-m.done
	}
	if m.closeDP {
		err = errors.Join(err, m.dp.Close())
	}
	return err
}

// mqttBackend implements mqtt.Backend with the router of the data plane.
type mqttBackend struct {
	dp   *dataPlane
	opts transport.Options // the AMQP listener's
	ctx  context.Context   // lives as long as the component
}

// Connect opens an AMQP connection over net.Pipe: the server side is
// accepted as if it came from the AMQP listener, the client side
// authenticates with SASL PLAIN (MQTT username and password) or ANONYMOUS.
func (b *mqttBackend) Connect(ctx context.Context, cred mqtt.Credentials) (*transport.Conn, error) {
	serverSide, clientSide := net.Pipe()
	go func() {
		if _, err := transport.Accept(b.ctx, serverSide, b.opts); err != nil {
			b.opts.Logger.Debug("MQTT client's AMQP connection refused", "client_id", cred.ClientID, "err", err)
		}
	}()
	mech := sasl.NewAnonymousClient(cred.ClientID)
	if cred.HasUsername {
		mech = sasl.NewPlainClient("", cred.Username, string(cred.Password))
	}
	c, err := transport.NewClientConn(ctx, clientSide, transport.Options{
		ContainerID: "mqtt:" + cred.ClientID,
		SASL:        mech,
	})
	if err != nil {
		clientSide.Close()
		return nil, err
	}
	return c, nil
}

// EnsureTopic creates the first level of name as a topic in an
// auto-creating address space (SPEC §4: MQTT auto-creates topics).
func (b *mqttBackend) EnsureTopic(user, name string) error {
	return b.dp.router.EnsureTopic(user, name)
}
