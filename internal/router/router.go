package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// Type is an address type (SPEC §4).
type Type string

const (
	Anycast      Type = "anycast"
	Multicast    Type = "multicast"
	Queue        Type = "queue"
	Topic        Type = "topic"
	Subscription Type = "subscription"
	Deadletter   Type = "deadletter"
)

// Brokered reports whether addresses of type t live on a broker.
func (t Type) Brokered() bool {
	switch t {
	case Queue, Topic, Subscription, Deadletter:
		return true
	}
	return false
}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t == Anycast || t == Multicast || t.Brokered() }

// Limits are an address space's router policy (EnMasse names). Zero means
// unlimited.
type Limits struct {
	MaxConnections int
	// MaxConnectionsPerUser bounds one user's connections to the space
	// (anonymous clients count as one user, "anonymous");
	// MaxConnectionsPerHost bounds the connections from one remote IP.
	MaxConnectionsPerUser     int
	MaxConnectionsPerHost     int
	MaxSessionsPerConnection  int
	MaxSendersPerConnection   int
	MaxReceiversPerConnection int
	MaxMessageSize            uint64
}

// SpaceConfig describes an address space.
type SpaceConfig struct {
	Name      string
	Namespace string
	// AutoCreate creates unknown addresses on attach: AMQP links get a
	// queue (the `default` space does this).
	AutoCreate bool
	Limits     Limits
}

// Endpoint hosts broker-backed addresses (queue, topic, subscription,
// deadletter; addrType is the Type as a string, so that implementations
// need not import this package). The router hands it whole links: after AttachLink accepts a
// link, every event of that link goes to the Endpoint. In one process this
// is the broker itself; between processes, a relay that mirrors the calls
// over AMQP links to a remote broker. Methods are called without router
// locks held and follow the transport.Handler rules (do not block).
type Endpoint interface {
	// EnsureAddress creates the address on the broker if it does not
	// exist (idempotent).
	EnsureAddress(space, address, addrType string) error
	// DeleteAddress removes the address and detaches its links.
	DeleteAddress(space, address string) error
	// AttachLink takes over a client link to address; an error refuses
	// the attach with it.
	AttachLink(l *transport.Link, space, address, addrType string) error
	Flow(l *transport.Link)
	Message(l *transport.Link, d *transport.Delivery)
	Disposition(l *transport.Link, d *transport.Delivery)
	Detach(l *transport.Link, err error)
	// Produce stores one message sent through the anonymous relay and
	// settles d with the outcome.
	Produce(space, address string, d *transport.Delivery)
}

// ParsedProducer is an Endpoint that also takes a relayed message already
// parsed (raw is message.Parse(d.Payload())): the anonymous relay parses
// every message for its properties.to, and the broker need not parse it
// again. The broker implements it.
type ParsedProducer interface {
	ProduceParsed(space, address string, d *transport.Delivery, raw message.Raw)
}

// SubscriptionFinder is an Endpoint that finds the durable subscription
// a receiver link names without a source address (Qpid JMS's
// unsubscribe), returning the address it was made on. The broker
// implements it.
type SubscriptionFinder interface {
	LinkSubscription(l *transport.Link, space string) (address string, ok bool)
}

// Operations checked by an Authorizer.
const (
	OpSend = "send"
	OpRecv = "recv"
)

// Authorizer decides whether an authenticated user may send to or receive
// from an address of a space. Anonymous connections (where allowed) have
// every right and are not asked about.
type Authorizer interface {
	Allowed(user, space, address, op string) bool
}

// Options configure a Router.
type Options struct {
	// DefaultSpace receives connections that name no space. Default
	// "default".
	DefaultSpace string
	// Broker hosts broker-backed addresses; nil refuses them.
	Broker Endpoint
	// LinkCapacity caps the credit given to one producer (Dispatch's
	// linkCapacity). Default 250.
	LinkCapacity uint32
	// MulticastBuffer is the number of messages buffered per multicast
	// consumer without credit before messages are dropped. Default 100.
	MulticastBuffer int
	// Authorizer decides per-address rights (SPEC §4); nil allows
	// everything.
	Authorizer Authorizer
	// OnAutoCreate is called (without locks) when an address is created
	// on attach in an auto-creating space.
	OnAutoCreate func(space, address string, t Type)
	Logger       *slog.Logger
}

// Router routes messages between links of client connections and to the
// broker. Its methods are safe for concurrent use.
type Router struct {
	opts   Options
	mu     sync.RWMutex
	spaces map[string]*space
	tempID atomic.Uint64
}

// New returns a Router with no address spaces.
func New(opts Options) *Router {
	if opts.DefaultSpace == "" {
		opts.DefaultSpace = "default"
	}
	if opts.LinkCapacity == 0 {
		opts.LinkCapacity = 250
	}
	if opts.MulticastBuffer == 0 {
		opts.MulticastBuffer = 100
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{opts: opts, spaces: map[string]*space{}}
}

type space struct {
	r     *Router
	cfgp  atomic.Pointer[SpaceConfig] // replaced whole by SetSpace; never mutated
	mu    sync.RWMutex
	addrs map[string]*address
	conns atomic.Int64

	// Connections per user and per remote IP, for the per-user and
	// per-host limits; guarded by cmu (a leaf lock).
	cmu     sync.Mutex
	perUser map[string]int
	perHost map[string]int
}

// admit counts a connection of user from host, unless that exceeds lim;
// it returns the refusal, or nil. release undoes it.
func (s *space) admit(user, host string, lim Limits) *frames.Error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.perUser == nil {
		s.perUser, s.perHost = map[string]int{}, map[string]int{}
	}
	if lim.MaxConnectionsPerUser > 0 && s.perUser[user] >= lim.MaxConnectionsPerUser {
		return frames.Errorf(frames.ErrResourceLimitExceeded, "address space %q allows at most %d connections per user", s.cfg().Name, lim.MaxConnectionsPerUser)
	}
	if lim.MaxConnectionsPerHost > 0 && s.perHost[host] >= lim.MaxConnectionsPerHost {
		return frames.Errorf(frames.ErrResourceLimitExceeded, "address space %q allows at most %d connections per host", s.cfg().Name, lim.MaxConnectionsPerHost)
	}
	s.perUser[user]++
	s.perHost[host]++
	return nil
}

func (s *space) release(user, host string) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.perUser[user]--; s.perUser[user] <= 0 {
		delete(s.perUser, user)
	}
	if s.perHost[host]--; s.perHost[host] <= 0 {
		delete(s.perHost, host)
	}
}

// SetSpace creates or updates an address space.
func (r *Router) SetSpace(cfg SpaceConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.spaces[cfg.Name]; s != nil {
		s.cfgp.Store(&cfg)
		return
	}
	s := &space{r: r, addrs: map[string]*address{}}
	s.cfgp.Store(&cfg)
	r.spaces[cfg.Name] = s
}

// DeleteSpace removes an address space and detaches every link in it.
func (r *Router) DeleteSpace(name string) {
	r.mu.Lock()
	s := r.spaces[name]
	delete(r.spaces, name)
	r.mu.Unlock()
	if s == nil {
		return
	}
	s.mu.Lock()
	addrs := s.addrs
	s.addrs = map[string]*address{}
	s.mu.Unlock()
	for _, a := range addrs {
		a.delete(frames.Errorf(frames.ErrResourceDeleted, "address space %q was deleted", name))
	}
}

func (r *Router) space(name string) *space {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.spaces[name]
}

// SetAddress defines an address in a space. Changing the type of an
// existing address is refused.
func (r *Router) SetAddress(spaceName, name string, t Type) error {
	if !t.Valid() {
		return fmt.Errorf("unknown address type %q", t)
	}
	s := r.space(spaceName)
	if s == nil {
		return fmt.Errorf("address space %q does not exist", spaceName)
	}
	if t.Brokered() {
		if r.opts.Broker == nil {
			return fmt.Errorf("address %q of type %s needs a broker, and none is configured", name, t)
		}
		if err := r.opts.Broker.EnsureAddress(spaceName, name, string(t)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.addrs[name]; a != nil {
		if a.typ != t {
			return fmt.Errorf("address %q is of type %s; its type cannot change to %s", name, a.typ, t)
		}
		return nil
	}
	s.addrs[name] = newAddress(s, name, t)
	return nil
}

// DeleteAddress removes an address; its links are detached with
// amqp:resource-deleted.
func (r *Router) DeleteAddress(spaceName, name string) error {
	s := r.space(spaceName)
	if s == nil {
		return fmt.Errorf("address space %q does not exist", spaceName)
	}
	s.mu.Lock()
	a := s.addrs[name]
	delete(s.addrs, name)
	s.mu.Unlock()
	if a == nil {
		return fmt.Errorf("address %q does not exist in space %q", name, spaceName)
	}
	a.delete(frames.Errorf(frames.ErrResourceDeleted, "address %q was deleted", name))
	if a.typ.Brokered() && r.opts.Broker != nil {
		return r.opts.Broker.DeleteAddress(spaceName, name)
	}
	return nil
}

// AddressInfo describes an address for status and management.
type AddressInfo struct {
	Name      string
	Type      Type
	Consumers int
	Producers int
	Buffered  int
	Dropped   int64
}

// Addresses lists the addresses of a space (temporary ones excluded).
func (r *Router) Addresses(spaceName string) []AddressInfo {
	s := r.space(spaceName)
	if s == nil {
		return nil
	}
	s.mu.RLock()
	list := make([]*address, 0, len(s.addrs))
	for _, a := range s.addrs {
		if !a.temp {
			list = append(list, a)
		}
	}
	s.mu.RUnlock()
	out := make([]AddressInfo, 0, len(list))
	for _, a := range list {
		out = append(out, a.info())
	}
	return out
}

// cfg returns the space's current configuration.
func (s *space) cfg() *SpaceConfig { return s.cfgp.Load() }

// lookup finds an address, creating it when the space auto-creates. It
// returns an AMQP error suitable for refusing an attach.
func (s *space) lookup(name string, create bool) (*address, *frames.Error) {
	s.mu.RLock()
	a := s.addrs[name]
	auto := s.cfg().AutoCreate
	if a == nil {
		// A name below a topic (`sensors/a/temp`, `sensors/+/temp`)
		// belongs to the topic (SPEC §4).
		for p := name; a == nil; {
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
			if t := s.addrs[p]; t != nil && t.typ == Topic {
				a = t
			}
		}
	}
	s.mu.RUnlock()
	if a != nil {
		return a, nil
	}
	if !create || !auto || name == "" {
		return nil, frames.Errorf(frames.ErrNotFound, "address %q does not exist", name)
	}
	r := s.r
	if r.opts.Broker == nil {
		return nil, frames.Errorf(frames.ErrNotFound, "address %q does not exist and no broker can host it", name)
	}
	if err := r.opts.Broker.EnsureAddress(s.cfg().Name, name, string(Queue)); err != nil {
		return nil, frames.Errorf(frames.ErrInternal, "creating queue %q: %v", name, err)
	}
	s.mu.Lock()
	a = s.addrs[name]
	created := a == nil
	if created {
		a = newAddress(s, name, Queue)
		s.addrs[name] = a
	}
	s.mu.Unlock()
	if created && r.opts.OnAutoCreate != nil {
		r.opts.OnAutoCreate(s.cfg().Name, name, Queue)
	}
	return a, nil
}

// placeConnection picks the address space for a connection (SPEC §4): by
// the TLS server name (SNI), then the open hostname, then the user name.
// A name that matches no space falls through to the next.
func (r *Router) placeConnection(sni, hostname, user string) *space {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, host := range []string{sni, hostname} {
		if host == "" {
			continue
		}
		for _, s := range r.spaces {
			if host == s.cfg().Name || (s.cfg().Namespace != "" && host == s.cfg().Name+"."+s.cfg().Namespace) {
				return s
			}
		}
	}
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		name := user[i+1:]
		for _, s := range r.spaces {
			if name == s.cfg().Name || (s.cfg().Namespace != "" && name == s.cfg().Name+"."+s.cfg().Namespace) {
				return s
			}
		}
	}
	return r.spaces[r.opts.DefaultSpace]
}

var errNoSpace = errors.New("no address space")

var ctxBackground = context.Background()
