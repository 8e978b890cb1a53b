package router

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unique"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// connState is the router's view of one client connection (Conn.Context).
type connState struct {
	space *space
	user  string // authenticated user ("" for anonymous)
	// limitUser and host count the connection for the per-user and
	// per-host limits until OnClose.
	limitUser, host string
	// mqttTopics: the open desired CapabilityMQTTTopics.
	mqttTopics bool

	mu        sync.Mutex // leaf lock
	sessions  int
	senders   int // links where the client sends (our receivers)
	receivers int // links where the client receives (our senders)
	temps     []*address
	closed    bool
}

// linkState is the router's view of one link (Link.Context).
type linkState struct {
	conn      *connState
	link      *transport.Link
	addr      *address // nil for the anonymous relay and brokered links
	brokered  bool
	relay     bool
	lwt       *lwtWill                         // a sender to LWTAddress (lwt.go)
	unsettled map[*transport.Delivery]struct{} // forwarded, awaiting outcome (consumers; guarded by addr.mu)
	mcBuf     [][]byte                         // multicast backlog (guarded by addr.mu)
	dropped   atomic.Int64
}

// OnOpen places a new connection in an address space and applies the
// space's connection limit. Use it as transport.Options.OnOpen.
func (r *Router) OnOpen(c *transport.Conn, o *frames.Open) error {
	var sni string
	if st := c.TLSState(); st != nil {
		sni = st.ServerName
	}
	s := r.placeConnection(sni, o.Hostname, c.Identity().User)
	if s == nil {
		return frames.Errorf(frames.ErrNotFound, "no address space for hostname %q", o.Hostname)
	}
	id := c.Identity()
	cs := &connState{space: s, limitUser: limitUserOf(id), host: remoteHost(c.RemoteAddr()),
		mqttTopics: slices.Contains(o.DesiredCapabilities, CapabilityMQTTTopics)}
	if cs.limitUser != "anonymous" {
		cs.user = id.User
	}
	if err := s.admitConn(cs.limitUser, cs.host); err != nil {
		return err
	}
	c.Context = cs
	return nil
}

// limitUserOf is the key of a connection under maxConnectionsPerUser.
func limitUserOf(id sasl.Identity) string {
	if id.Anonymous || id.User == "" {
		return "anonymous"
	}
	return id.User
}

// admitConn counts one more connection in s under its limits
// (maxConnections, per user, per host), or refuses it.
func (s *space) admitConn(user, host string) *frames.Error {
	s.mu.RLock()
	lim := s.cfg().Limits
	s.mu.RUnlock()
	limit := lim.MaxConnections
	if n := s.conns.Add(1); limit > 0 && n > int64(limit) {
		s.conns.Add(-1)
		return frames.Errorf(frames.ErrResourceLimitExceeded, "address space %q allows at most %d connections", s.cfg().Name, limit)
	}
	if err := s.admit(user, host, lim); err != nil {
		s.conns.Add(-1)
		return err
	}
	return nil
}

// Admit counts a connection of the authenticated id from remote in the
// address space OnOpen would place it in (by its `user@space` name, else
// the default space; there is no TLS server name or open hostname), under
// that space's connection limits, without an AMQP connection: for a
// gateway that logs a client in before the client needs one (package
// mqtt, Backend.Login). The error is amqp:not-found without a space and
// amqp:resource-limit-exceeded over a limit; the Admission's Release
// undoes the count.
func (r *Router) Admit(id sasl.Identity, remote net.Addr) (Admission, error) {
	s := r.placeConnection("", "", id.User)
	if s == nil {
		return Admission{}, frames.Errorf(frames.ErrNotFound, "no address space for user %q", id.User)
	}
	user, host := limitUserOf(id), remoteHost(remote)
	if err := s.admitConn(user, host); err != nil {
		return Admission{}, err
	}
	return s.admission(user, host), nil
}

// releaseConn undoes admitConn.
func (s *space) releaseConn(user, host string) {
	s.conns.Add(-1)
	s.release(user, host)
}

// An Admission is a connection's place under its address space's
// connection limits, from Admit or Hold, without a connection; Release
// gives it up. It is small and holds no closure: a gateway keeps one for
// every idle client. Keep it where Admit or Hold put it: a copy made
// after it is used has a release of its own (released is a plain uint32
// so that it can be returned and stored by value, which go vet would
// refuse for an atomic.Uint32).
type Admission struct {
	s *space
	// Clients of one user, or one host, share the string.
	user, host unique.Handle[string]
	released   uint32 // atomic
}

// admission is the Admission of a connection admitConn counted.
func (s *space) admission(user, host string) Admission {
	return Admission{s: s, user: unique.Make(user), host: unique.Make(host)}
}

// Host is the remote host the admission counts under
// maxConnectionsPerHost: the IP of the client's address.
func (a *Admission) Host() string {
	if a.s == nil {
		return ""
	}
	return a.host.Value()
}

// Release undoes the admission the first time it is called, and does
// nothing after (nor for the zero Admission).
func (a *Admission) Release() {
	if a.s != nil && atomic.CompareAndSwapUint32(&a.released, 0, 1) {
		a.s.releaseConn(a.user.Value(), a.host.Value())
	}
}

// remoteHost is the IP of a remote address (the whole address if it has
// no port), the key of maxConnectionsPerHost.
func remoteHost(a net.Addr) string {
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// allowed checks the connection user's right op on address.
func (r *Router) allowed(cs *connState, address, op string) bool {
	if r.opts.Authorizer == nil || cs.user == "" || strings.HasPrefix(address, "$temp.") {
		return true // anonymous (where allowed), no policy, or a reply address
	}
	return r.opts.Authorizer.Allowed(cs.user, cs.space.cfg().Name, address, op)
}

// unauthorized is the error for a refused operation; it does not reveal
// whether the address exists.
func unauthorized(op, address string) *frames.Error {
	return frames.Errorf(frames.ErrUnauthorizedAccess, "not allowed to %s %q", op, address)
}

// resolve looks name up in the connection's space, auto-creating it as
// lookup does; for a connection that desired CapabilityMQTTTopics a name
// that nothing resolves first gets its first level as a topic (an error
// there is left to the lookup that follows). A name that resolves is
// looked up once.
func (r *Router) resolve(cs *connState, name string) (*address, *frames.Error) {
	if cs.mqttTopics {
		if a, _ := cs.space.lookup(name, false); a != nil {
			return a, nil
		}
		r.ensureTopicIn(cs.space, name)
	}
	return cs.space.lookup(name, true)
}

func connOf(c *transport.Conn) *connState {
	cs, _ := c.Context.(*connState)
	return cs
}

// OnBegin applies maxSessionsPerConnection.
func (r *Router) OnBegin(s *transport.Session) error {
	cs := connOf(s.Conn())
	if cs == nil {
		return frames.Errorf(frames.ErrInternal, "connection not placed")
	}
	limit := cs.space.cfg().Limits.MaxSessionsPerConnection
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if limit > 0 && cs.sessions >= limit {
		return frames.Errorf(frames.ErrResourceLimitExceeded, "at most %d sessions per connection", limit)
	}
	cs.sessions++
	s.Context = cs
	return nil
}

// OnEnd releases the session's place in the limit.
func (r *Router) OnEnd(s *transport.Session, err error) {
	if cs, ok := s.Context.(*connState); ok {
		cs.mu.Lock()
		cs.sessions--
		cs.mu.Unlock()
	}
}

// OnAttach binds a link to its address.
func (r *Router) OnAttach(l *transport.Link) error {
	cs := connOf(l.Session().Conn())
	if cs == nil {
		return frames.Errorf(frames.ErrInternal, "connection not placed")
	}
	sp := cs.space
	lim := sp.cfg().Limits
	clientSends := !l.IsSender()
	cs.mu.Lock()
	if clientSends {
		if lim.MaxSendersPerConnection > 0 && cs.senders >= lim.MaxSendersPerConnection {
			cs.mu.Unlock()
			return frames.Errorf(frames.ErrResourceLimitExceeded, "at most %d senders per connection", lim.MaxSendersPerConnection)
		}
		cs.senders++
	} else {
		if lim.MaxReceiversPerConnection > 0 && cs.receivers >= lim.MaxReceiversPerConnection {
			cs.mu.Unlock()
			return frames.Errorf(frames.ErrResourceLimitExceeded, "at most %d receivers per connection", lim.MaxReceiversPerConnection)
		}
		cs.receivers++
	}
	cs.mu.Unlock()
	ls := &linkState{conn: cs, link: l}
	l.Context = ls
	if err := r.bind(l, ls, sp); err != nil && err != transport.ErrAttachLater {
		ls.release()
		l.Context = nil
		return err
	} else {
		return err
	}
}

func (ls *linkState) release() {
	ls.conn.mu.Lock()
	if ls.link.IsSender() {
		ls.conn.receivers--
	} else {
		ls.conn.senders--
	}
	ls.conn.mu.Unlock()
}

func (r *Router) bind(l *transport.Link, ls *linkState, sp *space) error {
	a := l.RemoteAttach()
	if a.Target != nil && a.Target.Coordinator {
		return frames.Errorf(frames.ErrNotImplemented, "transactions are not supported")
	}
	if l.IsSender() {
		// The client receives from the source address.
		if a.Source == nil {
			return frames.Errorf(frames.ErrInvalidField, "attach without a source")
		}
		if a.Source.Dynamic {
			return r.bindDynamic(l, ls, sp, a.Source)
		}
		if a.Source.Address == "" && a.Source.Durable > 0 {
			return r.reattachSubscription(l, ls, sp, a.Source)
		}
		if a.Source.Address == LWTAddress {
			return frames.Errorf(frames.ErrNotAllowed, "%s takes wills; there is nothing to receive from it", LWTAddress)
		}
		if !r.allowed(ls.conn, a.Source.Address, OpRecv) {
			return unauthorized("receive from", a.Source.Address)
		}
		addr, ferr := r.resolve(ls.conn, a.Source.Address)
		if ferr != nil {
			return ferr
		}
		return r.bindAddress(l, ls, addr, a.Source.Address)
	}
	// The client sends to the target address.
	if a.Target == nil {
		return frames.Errorf(frames.ErrInvalidField, "attach without a target")
	}
	if sp.cfg().Limits.MaxMessageSize > 0 {
		l.SetMaxMessageSize(sp.cfg().Limits.MaxMessageSize)
	}
	if a.Target.Address == "" && !a.Target.Dynamic {
		ls.relay = true
		l.CompleteAttach(nil)
		l.Flow(r.opts.LinkCapacity, false)
		return transport.ErrAttachLater
	}
	if a.Target.Dynamic {
		return frames.Errorf(frames.ErrNotImplemented, "dynamic targets are not supported; use a dynamic source for replies")
	}
	if a.Target.Address == LWTAddress {
		return r.bindLWT(l, ls)
	}
	if !r.allowed(ls.conn, a.Target.Address, OpSend) {
		return unauthorized("send to", a.Target.Address)
	}
	addr, ferr := r.resolve(ls.conn, a.Target.Address)
	if ferr != nil {
		return ferr
	}
	return r.bindAddress(l, ls, addr, a.Target.Address)
}

// bindAddress binds l to a; name is the address the link named, which may
// lie below a topic address.
func (r *Router) bindAddress(l *transport.Link, ls *linkState, a *address, name string) error {
	if a.typ.Brokered() {
		if r.opts.Broker == nil {
			return frames.Errorf(frames.ErrNotFound, "address %q needs a broker", a.name)
		}
		if err := r.opts.Broker.AttachLink(l, a.space.cfg().Name, name, string(a.typ)); err != nil {
			return err
		}
		ls.brokered = true
		return nil
	}
	ls.addr = a
	a.attach(ls) // answers the attach
	return transport.ErrAttachLater
}

// reattachSubscription attaches a receiver whose durable source has no
// address to the durable subscription its link name (and container id,
// unless `global`) names, as a receiver attaching to the subscription's
// address would be; the answer's source carries that address. Qpid JMS
// attaches so to unsubscribe, then closes the link, which deletes the
// subscription (broker.Broker.Detach); no such subscription refuses the
// attach with amqp:not-found and a null source, which Qpid JMS reports
// as "no such subscription". Receiving from the address must be allowed.
func (r *Router) reattachSubscription(l *transport.Link, ls *linkState, sp *space, src *frames.Source) error {
	f, ok := r.opts.Broker.(SubscriptionFinder)
	if !ok {
		return frames.Errorf(frames.ErrInvalidField, "attach without a source address")
	}
	name, ok := f.LinkSubscription(l, sp.cfg().Name)
	if !ok {
		return frames.Errorf(frames.ErrNotFound, "no durable subscription for link %q", l.Name())
	}
	if !r.allowed(ls.conn, name, OpRecv) {
		return unauthorized("receive from", name)
	}
	a, ferr := r.resolve(ls.conn, name)
	if ferr != nil {
		return ferr
	}
	local := *src
	local.Address = name
	l.SetLocalSource(&local)
	return r.bindAddress(l, ls, a, name)
}

func (r *Router) bindDynamic(l *transport.Link, ls *linkState, sp *space, src *frames.Source) error {
	name := fmt.Sprintf("$temp.%d.%s", r.tempID.Add(1), randomSuffix())
	a := newAddress(sp, name, Anycast)
	a.temp = true
	sp.mu.Lock()
	sp.addrs[name] = a
	sp.mu.Unlock()
	ls.conn.mu.Lock()
	ls.conn.temps = append(ls.conn.temps, a)
	ls.conn.mu.Unlock()
	local := *src
	local.Address = name
	l.SetLocalSource(&local)
	return r.bindAddress(l, ls, a, name)
}

func linkOf(l *transport.Link) *linkState {
	ls, _ := l.Context.(*linkState)
	return ls
}

// OnFlow reacts to consumers granting credit (anycast, multicast) and
// passes brokered links' flow to the broker.
func (r *Router) OnFlow(l *transport.Link) {
	ls := linkOf(l)
	switch {
	case ls == nil:
	case ls.brokered:
		r.opts.Broker.Flow(l)
	case ls.addr != nil && l.IsSender():
		ls.addr.consumerFlow(ls)
	}
}

// OnMessage routes a message from a producer.
func (r *Router) OnMessage(l *transport.Link, d *transport.Delivery) {
	ls := linkOf(l)
	switch {
	case ls == nil:
		d.Settle(frames.Released{})
	case ls.brokered:
		r.opts.Broker.Message(l, d)
	case ls.relay:
		r.relay(ls, d)
		r.topUpCredit(l)
	case ls.lwt != nil:
		r.lwtMessage(ls, d)
		r.topUpCredit(l)
	default:
		ls.addr.produce(ls, d)
	}
}

// topUpCredit gives an anonymous-relay or $lwt producer its LinkCapacity
// back once half of it is used, like the broker's and the multicast
// producers: one flow frame per half window instead of one per message
// (each costs the producer a frame to decode and a wake-up; every MQTT
// client publishes through such a link).
func (r *Router) topUpCredit(l *transport.Link) {
	if cr, _ := l.Credit(); cr <= r.opts.LinkCapacity/2 {
		l.Flow(r.opts.LinkCapacity, false)
	}
}

// relay routes one message of the anonymous relay by its `to`.
func (r *Router) relay(ls *linkState, d *transport.Delivery) {
	raw, err := message.Parse(d.Payload())
	if err != nil {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrDecodeError, "%v", err)})
		return
	}
	to, ok, err := raw.To()
	if err != nil || !ok || to == "" {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrInvalidField, "message has no properties.to for the anonymous relay")})
		return
	}
	if to == LWTAddress {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrNotAllowed, "wills go on a sender link attached to %s", LWTAddress)})
		return
	}
	if !r.allowed(ls.conn, to, OpSend) {
		d.Settle(frames.Rejected{Error: unauthorized("send to", to)})
		return
	}
	sp := ls.conn.space
	a, ferr := r.resolve(ls.conn, to)
	if ferr != nil {
		d.Settle(frames.Rejected{Error: ferr})
		return
	}
	if a.typ.Brokered() {
		if pp, ok := r.opts.Broker.(ParsedProducer); ok {
			pp.ProduceParsed(sp.cfg().Name, to, d, raw)
		} else {
			r.opts.Broker.Produce(sp.cfg().Name, to, d)
		}
		return
	}
	a.relayed(d, &raw)
}

// OnDisposition passes a consumer's outcome back to the producer.
func (r *Router) OnDisposition(l *transport.Link, d *transport.Delivery) {
	ls := linkOf(l)
	switch {
	case ls == nil:
	case ls.brokered:
		r.opts.Broker.Disposition(l, d)
	case ls.addr != nil:
		ls.addr.outcome(ls, d)
	}
}

// OnDetach unbinds a link.
func (r *Router) OnDetach(l *transport.Link, err error) {
	ls := linkOf(l)
	if ls == nil {
		return
	}
	switch {
	case ls.brokered:
		r.opts.Broker.Detach(l, err)
	case ls.addr != nil:
		ls.addr.detach(ls)
	case ls.lwt != nil:
		r.lwtDetached(ls, err)
	}
	ls.release()
}

// OnClose removes the connection's temporary addresses.
func (r *Router) OnClose(c *transport.Conn, err error) {
	cs := connOf(c)
	if cs == nil {
		return
	}
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return
	}
	cs.closed = true
	temps := cs.temps
	cs.temps = nil
	cs.mu.Unlock()
	cs.space.releaseConn(cs.limitUser, cs.host)
	for _, a := range temps {
		cs.space.mu.Lock()
		if cs.space.addrs[a.name] == a {
			delete(cs.space.addrs, a.name)
		}
		cs.space.mu.Unlock()
		a.delete(frames.Errorf(frames.ErrResourceDeleted, "temporary address %q was removed with its connection", a.name))
	}
}

// Hold keeps the connection c counted against its address space's
// connection limits (maxConnections, per user, per host) after c closes,
// until the Admission is released; for a gateway that closes an idle client's
// AMQP connection while the client stays connected to it, and opens
// another when the client is busy again (package mqtt, Options.IdleRelease).
// The hold is granted whatever the limits, as it only carries on a count
// c already had. ok is false when c was not admitted by OnOpen or has
// already closed.
func (r *Router) Hold(c *transport.Conn) (Admission, bool) {
	cs := connOf(c)
	if cs == nil {
		return Admission{}, false
	}
	cs.mu.Lock()
	closed := cs.closed
	cs.mu.Unlock()
	if closed {
		return Admission{}, false
	}
	// Counted whatever the limits (admit without any refuses nothing);
	// the Admission keeps what it releases, not cs.
	s := cs.space
	s.conns.Add(1)
	s.admit(cs.limitUser, cs.host, Limits{})
	return s.admission(cs.limitUser, cs.host), true
}
