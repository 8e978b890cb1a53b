package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/controlplane/agent"
	"github.com/enmasse-go/enmasse/internal/controlplane/api"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
	"github.com/enmasse-go/enmasse/internal/router"
)

// registryFile is the control plane's store inside the data dir.
const registryFile = "controlplane.db"

// controlPlane is serve's control plane: the registry (bbolt in the data
// dir), the REST API on the HTTP mux and the agent that drives the router.
type controlPlane struct {
	reg       *registry.Registry
	api       *api.Server
	agent     *agent.Agent
	resources []model.Document
	config    string
	logger    *slog.Logger
	// endpoints are shown in every address space's status; set once the
	// AMQP listener runs (endpointPublisher).
	endpoints atomic.Pointer[[]model.EndpointStatus]

	cancel context.CancelFunc
	done   chan struct{}
}

// autoCreateHook forwards the router's OnAutoCreate to the agent, which
// exists only after the router does.
type autoCreateHook struct {
	fn atomic.Pointer[func(space, address string, t router.Type)]
}

func (h *autoCreateHook) call(space, address string, t router.Type) {
	if fn := h.fn.Load(); fn != nil {
		(*fn)(space, address, t)
	}
}

// newControlPlane opens the registry in the data dir and builds the API
// and the agent over dp's router (without an AMQP listener, dp is nil and
// the agent drives a router of its own, without broker).
func newControlPlane(opts serveOptions, dp *dataPlane, logger *slog.Logger) (*controlPlane, error) {
	var docs []model.Document
	if opts.resources != nil {
		var err error
		if docs, err = model.DecodeNodes(opts.resources); err != nil {
			return nil, &usageError{fmt.Errorf("config %s: resources: %w", opts.configFile, err)}
		}
	}
	logger = logger.With("component", "controlplane")
	reg, err := registry.Open(registry.Options{Path: filepath.Join(opts.dataDir, registryFile), Logger: logger})
	if err != nil {
		return nil, err
	}
	r := router.New(router.Options{Logger: logger})
	var b *broker.Broker
	if dp != nil {
		r, b = dp.router, dp.broker
	}
	apiOpts := api.Options{Registry: reg, Logger: logger}
	if !opts.anonymous {
		// HTTP basic credentials of a MessagingUser (SPEC §2, §4).
		users, fails := &messagingUsers{}, newAuthFailures()
		users.reg.Store(reg)
		if dp != nil {
			fails = dp.fails // one backoff per address for AMQP and HTTP
		}
		tokens := newTokenUsers(opts, users)
		apiOpts.Authenticate = newAPIAuth(opts.admin, users, tokens, fails, logger).authenticate
		apiOpts.Bearer = tokens != nil
	}
	cp := &controlPlane{reg: reg, api: api.New(apiOpts),
		resources: docs, config: opts.configFile, logger: logger}
	cp.agent = agent.New(agent.Options{
		Registry: reg, DataPlane: routerPlane{r, b}, Logger: logger,
		Federated: opts.tokens != nil,
		Endpoints: func() []model.EndpointStatus {
			if e := cp.endpoints.Load(); e != nil {
				return *e
			}
			return nil
		},
	})
	if dp != nil {
		dp.users.reg.Store(reg) // MessagingUsers authenticate AMQP clients
		fn := func(space, address string, t router.Type) { cp.agent.AutoCreated(space, address, string(t)) }
		dp.autoCreate.fn.Store(&fn)
	}
	return cp, nil
}

// endpointPublisher is a pseudo-component started after the AMQP
// listener: it shows the listener's real address in address space status.
type endpointPublisher struct {
	cp   *controlPlane
	amqp *amqpComponent
}

func (e endpointPublisher) Name() string                   { return "endpoints" }
func (e endpointPublisher) Addr() net.Addr                 { return nil }
func (e endpointPublisher) Shutdown(context.Context) error { return nil }

func (e endpointPublisher) Start(context.Context) error {
	a, ok := e.amqp.Addr().(*net.TCPAddr)
	if !ok || a == nil {
		return nil
	}
	eps := []model.EndpointStatus{{Name: "messaging", ServiceHost: a.IP.String(),
		ServicePorts: []model.Port{{Name: "amqp", Port: a.Port}}}}
	e.cp.endpoints.Store(&eps)
	e.cp.agent.Resync()
	return nil
}

// addRoutes mounts the REST API (/apis/...) on mux.
func (c *controlPlane) addRoutes(mux *http.ServeMux) { c.api.Register(mux) }

func (c *controlPlane) Name() string   { return "controlplane" }
func (c *controlPlane) Addr() net.Addr { return nil }

// Start creates the first-start defaults, applies the config file's
// resources, converges the data plane once and starts the agent.
func (c *controlPlane) Start(ctx context.Context) error {
	if err := c.api.Bootstrap(ctx); err != nil {
		return err
	}
	if err := c.applyConfig(ctx); err != nil {
		return err
	}
	c.agent.Sync()
	runCtx, cancel := context.WithCancel(ctx)
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		c.agent.Run(runCtx)
	}()
	return nil
}

// applyConfig applies the config file's resources in dependency order
// (plans, address spaces, addresses and users).
func (c *controlPlane) applyConfig(ctx context.Context) error {
	docs := slices.Clone(c.resources)
	sortByDependency(docs)
	for _, d := range docs {
		created, err := c.api.Apply(ctx, d.Object)
		if err != nil {
			return fmt.Errorf("config %s: resource at line %d: %s", c.config, d.Line, api.ErrorMessage(err, d.Object))
		}
		verb := "configured"
		if created {
			verb = "created"
		}
		c.logger.Info("config resource "+verb, "kind", d.Object.Info().Kind,
			"namespace", d.Object.GetMeta().Namespace, "name", d.Object.GetMeta().Name)
	}
	return nil
}

func (c *controlPlane) Shutdown(ctx context.Context) error {
	if c.cancel != nil {
		c.cancel()
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.agent.Close()
	return c.reg.Close()
}

// routerPlane is the agent's DataPlane over the in-process router.
// routerPlane is the agent's view of the data plane: the router, and the
// broker for delivery policies (nil without an AMQP listener).
type routerPlane struct {
	r *router.Router
	b *broker.Broker
}

func (p routerPlane) SetSpace(cfg agent.SpaceConfig) {
	pol := cfg.Policy
	p.r.SetSpace(router.SpaceConfig{Name: cfg.Name, Namespace: cfg.Namespace, AutoCreate: cfg.AutoCreate,
		Limits: router.Limits{
			MaxConnections: pol.MaxConnections, MaxConnectionsPerUser: pol.MaxConnectionsPerUser,
			MaxConnectionsPerHost: pol.MaxConnectionsPerHost, MaxSessionsPerConnection: pol.MaxSessionsPerConnection,
			MaxSendersPerConnection: pol.MaxSendersPerConnection, MaxReceiversPerConnection: pol.MaxReceiversPerConnection,
			MaxMessageSize: uint64(max(pol.MaxMessageSize, 0)),
		}})
}

func (p routerPlane) DeleteSpace(name string) { p.r.DeleteSpace(name) }

// SetPolicy gives a broker-backed address its delivery policy, and a
// subscription its consumer limit.
func (p routerPlane) SetPolicy(space, address string, pol agent.Policy) error {
	if p.b == nil {
		return nil
	}
	if pol.MaxConsumers > 0 {
		if err := p.b.SetMaxConsumers(space, address, pol.MaxConsumers); err != nil {
			return err
		}
	}
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	return p.b.SetPolicy(space, address, broker.Policy{
		DeadLetter:           pol.Deadletter,
		Expiry:               pol.Expiry,
		MaxDeliveryAttempts:  uint32(max(pol.MaxDeliveryAttempts, 0)),
		RedeliveryDelay:      ms(pol.RedeliveryDelay),
		RedeliveryMultiplier: pol.RedeliveryDelayMultiplier,
		MaxRedeliveryDelay:   ms(pol.MaxRedeliveryDelay),
		MinTTL:               ms(pol.MinTTL),
		MaxTTL:               ms(pol.MaxTTL),
	})
}

func (p routerPlane) SetAddress(space, address, addrType string) error {
	return p.r.SetAddress(space, address, router.Type(addrType))
}

func (p routerPlane) DeleteAddress(space, address string) error {
	return p.r.DeleteAddress(space, address)
}

func (p routerPlane) Addresses(space string) (map[string]string, bool) {
	infos := p.r.Addresses(space)
	if infos == nil { // the router answers nil only for an unknown space
		return nil, false
	}
	out := make(map[string]string, len(infos))
	for _, a := range infos {
		out[a.Name] = string(a.Type)
	}
	return out, true
}
