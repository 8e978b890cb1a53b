package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/mqtt"
	"github.com/enmasse-go/enmasse/internal/router"
)

// mqttComponent is the MQTT gateway of serve with its listeners: MQTT on
// --mqtt, MQTT over TLS on --mqtts, and MQTT over WebSocket on the HTTP
// listener's /mqtt (routed by addRoutes). One gateway serves all three, so
// a client identifier is one client whatever its transport (takeover).
// Its clients become AMQP connections to the router through in-process
// pipes (no socket), accepted with the same options as the AMQP listener,
// so authentication and address-space placement are the AMQP ones.
type mqttComponent struct {
	addrs   map[string]string // listener name ("mqtt", "mqtts") → HOST:PORT
	tls     *tls.Config       // of mqtts
	dp      *dataPlane
	closeDP bool // Shutdown closes the journal (no AMQP listener does)
	logger  *slog.Logger
	backend *mqttBackend
	gw      *mqtt.Server
	started atomic.Bool             // the WebSocket route serves once Start ran
	lns     map[string]net.Listener // by name, set by Start
	done    sync.WaitGroup
	dataDir string
	sess    *mqttSessions // its journal is opened by Start
}

func newMQTTComponent(opts serveOptions, dp *dataPlane, closeDP bool, logger *slog.Logger) *mqttComponent {
	logger = logger.With("component", "mqtt")
	amqpOpts := newAMQPComponent(opts, dp, logger).opts
	amqpOpts.TLSConfig = nil // the pipe is in process
	// Nor can it go quiet: no idle timeout, so neither side sends
	// heartbeats or arms a read deadline per read (the MQTT keep-alive
	// watches the client).
	amqpOpts.IdleTimeout = -1
	// MQTT logins fail through the same per-address backoff as AMQP and
	// HTTP (mqttClientAuthenticator gives it the MQTT client's address);
	// their audit lines say protocol=mqtt.
	guard := newGuardedAuthenticator(newSASLAuthenticator(opts, dp, false), dp.fails, logger)
	guard.protocol = "mqtt"
	amqpOpts.Authenticator = guard
	b := &mqttBackend{dp: dp, opts: amqpOpts, tokens: opts.tokens != nil}
	sess := &mqttSessions{dp: dp}
	m := &mqttComponent{
		addrs: map[string]string{}, dp: dp, closeDP: closeDP, logger: logger, backend: b,
		dataDir: opts.dataDir, sess: sess,
		gw: mqtt.NewServer(mqtt.Options{Backend: b, Logger: logger, Sessions: sess,
			MaxSessionExpiry: opts.mqttMaxSessionExpiry, MaxSessionsPerSpace: opts.mqttMaxSessions,
			IdleRelease: opts.mqttIdleRelease,
			// A storm of clients that connect and go idle leaves their
			// setup's memory as garbage: give it back to the OS now.
			AfterFreezeBurst: debug.FreeOSMemory}),
	}
	if opts.mqttAddr != "" {
		m.addrs["mqtt"] = opts.mqttAddr
	}
	if opts.mqttsAddr != "" {
		m.addrs["mqtts"] = opts.mqttsAddr
		m.tls = opts.amqpTLSConfig()
	}
	return m
}

// addRoutes serves MQTT over WebSocket on /mqtt (MQTT 5.0 §6): 503 until
// the component has started.
func (m *mqttComponent) addRoutes(mux *http.ServeMux) {
	ws := m.gw.WebSocketHandler()
	mux.HandleFunc("GET /mqtt", func(w http.ResponseWriter, r *http.Request) {
		if !m.started.Load() {
			writeText(w, http.StatusServiceUnavailable, "MQTT gateway not started\n")
			return
		}
		ws.ServeHTTP(w, r)
	})
}

func (m *mqttComponent) Name() string { return "mqtt" }

// Addr is the address of the mqtt listener, nil without one.
func (m *mqttComponent) Addr() net.Addr { return m.addr("mqtt") }

func (m *mqttComponent) addr(name string) net.Addr {
	if ln := m.lns[name]; ln != nil {
		return ln.Addr()
	}
	return nil
}

// extraAddrs names the listener Addr does not: mqtts.
func (m *mqttComponent) extraAddrs() map[string]net.Addr {
	if a := m.addr("mqtts"); a != nil {
		return map[string]net.Addr{"mqtts": a}
	}
	return nil
}

func (m *mqttComponent) Start(ctx context.Context) error {
	var lc net.ListenConfig
	if err := m.sess.open(m.dataDir, m.logger); err != nil {
		return err
	}
	if err := m.sess.start(m.gw, m.logger); err != nil {
		m.sess.Close()
		return err
	}
	m.lns = map[string]net.Listener{}
	for _, name := range []string{"mqtt", "mqtts"} {
		addr, ok := m.addrs[name]
		if !ok {
			continue
		}
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range m.lns {
				l.Close()
			}
			m.sess.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		if name == "mqtts" {
			ln = tls.NewListener(ln, m.tls) // the gateway finishes the handshake
		}
		m.lns[name] = ln
	}
	for _, ln := range m.lns {
		m.done.Add(1)
		go func() {
			defer m.done.Done()
			if err := m.gw.Serve(ln); err != nil {
				m.logger.Error("mqtt listener stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	m.started.Store(true)
	return nil
}

func (m *mqttComponent) Shutdown(ctx context.Context) error {
	err := m.gw.Shutdown(ctx) // also ends the WebSocket connections
	m.done.Wait()
	if m.sess.Log != nil {
		err = errors.Join(err, m.sess.Close())
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
	// tokens: an OIDC issuer is configured, so a password that is a JWT
	// logs in with SASL OAUTHBEARER (the username, if any, names the
	// space as [user]@space).
	tokens bool
	// servers maps the client side of each open pipe (Connect, Resume) to
	// its pipeClient, for Suspend.
	servers sync.Map
}

// pipeClient is what the backend knows of an MQTT client's AMQP
// connection: the server side, and the client's address and TLS state.
type pipeClient struct {
	server *transport.Conn
	cred   mqtt.Credentials
}

// Connect opens an AMQP connection over net.Pipe: the server side is
// accepted as if it came from the AMQP listener, the client side
// authenticates with SASL OAUTHBEARER (with --oidc-issuer, a password
// that is a JWT; the username, optional in MQTT 5, is the authorization
// identity `[user]@space`), PLAIN (MQTT username and password), EXTERNAL
// (no username, a verified TLS client certificate) or ANONYMOUS. The
// server side's authenticator sees the MQTT client's address and TLS
// state instead of the pipe's, so PLAIN is offered as it would be to that
// client over AMQP (TLS or loopback), EXTERNAL maps the certificate to a
// user as for AMQP, and failures count against the client's address.
func (b *mqttBackend) Connect(ctx context.Context, cred mqtt.Credentials) (*transport.Conn, error) {
	return b.open(ctx, cred, b.authenticator(cred), b.clientMech(cred))
}

// Login implements mqtt.Loginer: the client's credentials go through
// the AMQP listener's authenticator (with its audit and backoff) with
// the mechanism Connect would use, in process (sasl.Authenticate), and
// the router admits the identity (Router.Admit), all without a pipe.
func (b *mqttBackend) Login(ctx context.Context, cred mqtt.Credentials) (mqtt.Suspension, error) {
	id, err := sasl.Authenticate(b.authenticator(cred), sasl.ConnInfo{RemoteAddr: cred.RemoteAddr, TLS: cred.TLS}, b.clientMech(cred))
	if err != nil {
		return nil, fmt.Errorf("MQTT login: %w", err)
	}
	adm, err := b.dp.router.Admit(id, cred.RemoteAddr)
	if err != nil {
		return nil, err
	}
	return newPipeSuspension(b, cred, id, adm), nil
}

// authenticator is the AMQP listener's authenticator as it applies to
// the MQTT client of cred.
func (b *mqttBackend) authenticator(cred mqtt.Credentials) sasl.Authenticator {
	return mqttClientAuthenticator{inner: b.opts.Authenticator, remote: cred.RemoteAddr, tls: cred.TLS}
}

// clientMech is how an MQTT client's credentials authenticate (see
// Connect).
func (b *mqttBackend) clientMech(cred mqtt.Credentials) sasl.ClientMech {
	mech := sasl.NewAnonymousClient(cred.ClientID)
	switch {
	case b.tokens && cred.HasPassword && looksLikeJWT(cred.Password):
		mech = sasl.NewOAuthBearerClient(cred.Username, string(cred.Password))
	case cred.HasUsername:
		mech = sasl.NewPlainClient("", cred.Username, string(cred.Password))
	case cred.TLS != nil && len(cred.TLS.VerifiedChains) > 0:
		mech = sasl.NewExternalClient("")
	}
	return mech
}

// open runs one AMQP connection over net.Pipe, the server side accepted
// with auth as its authenticator, the client side authenticating with
// mech.
func (b *mqttBackend) open(ctx context.Context, cred mqtt.Credentials, auth sasl.Authenticator, mech sasl.ClientMech) (*transport.Conn, error) {
	var serverSide net.Conn
	serverSide, clientSide := net.Pipe()
	if cred.RemoteAddr != nil {
		// The router keys maxConnectionsPerHost (and logs) by the remote
		// address: the MQTT client's, as Router.Admit and Hold count it,
		// not "pipe" for every client.
		serverSide = remoteAddrConn{serverSide, cred.RemoteAddr}
	}
	opts := b.opts
	opts.Authenticator = auth
	opts.Gateway = broker.GatewayMQTT // its links may use the session subscription names
	type result struct {
		sc  *transport.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		sc, err := transport.Accept(context.Background(), serverSide, opts)
		if err != nil {
			b.opts.Logger.Debug("MQTT client's AMQP connection refused", "client_id", cred.ClientID, "err", err)
		}
		accepted <- result{sc, err}
	}()
	c, err := transport.NewClientConn(ctx, clientSide, transport.Options{
		ContainerID: "mqtt:" + cred.ClientID,
		SASL:        mech,
		IdleTimeout: -1, // see newMQTTComponent
	})
	if err != nil {
		clientSide.Close()
		return nil, err
	}
	// The client's handshake ended with the server's open, which came
	// after Accept returned.
	res := <-accepted
	if res.err != nil {
		c.Close(ctx, nil)
		return nil, res.err
	}
	sc := res.sc
	b.servers.Store(c, pipeClient{server: sc, cred: cred})
	c.AfterClose(func() { b.servers.Delete(c) })
	return c, nil
}

// remoteAddrConn is the server side of an MQTT client's pipe, with the
// client's address as its remote address.
type remoteAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteAddrConn) RemoteAddr() net.Addr { return c.remote }

// Suspend implements mqtt.Suspender: the router keeps counting the
// client's connection (Router.Hold), and Resume opens a pipe whose server
// side takes the identity the client authenticated with as it is, with
// no credentials to check again (the claim is a Go value only the
// gateway holds; nothing on any wire can present it).
func (b *mqttBackend) Suspend(c *transport.Conn) (mqtt.Suspension, bool) {
	v, ok := b.servers.Load(c)
	if !ok {
		return nil, false
	}
	pc := v.(pipeClient)
	adm, ok := b.dp.router.Hold(pc.server)
	if !ok {
		return nil, false
	}
	return newPipeSuspension(b, pc.cred, pc.server.Identity(), adm), true
}

// pipeSuspension is a suspended MQTT client's claim (mqtt.Suspension). A
// gateway keeps one for every idle client, so it is kept small (128
// bytes): the credentials are gone (a resumed connection is not
// authenticated again, and its pipe has no TLS state to show), and the
// client's address is the host its admission counts
// (router.Admission.Host) and a port.
type pipeSuspension struct {
	b        *mqttBackend
	clientID string
	id       sasl.Identity
	adm      router.Admission
	port     uint16 // with adm.Host(), the client's address; 0: not TCP
}

func newPipeSuspension(b *mqttBackend, cred mqtt.Credentials, id sasl.Identity, adm router.Admission) *pipeSuspension {
	p := &pipeSuspension{b: b, clientID: cred.ClientID, id: id, adm: adm}
	if ta, ok := cred.RemoteAddr.(*net.TCPAddr); ok {
		p.port = uint16(ta.Port)
	}
	return p
}

// Resume implements mqtt.Suspension. The admission is released first, so
// the new connection takes its place under the router's limits; should
// another connection take that place in between, Resume fails with
// amqp:resource-limit-exceeded.
func (p *pipeSuspension) Resume(ctx context.Context) (*transport.Conn, error) {
	p.adm.Release()
	if exp := p.id.Expires; !exp.IsZero() && !time.Now().Before(exp) {
		// Expired credentials open nothing (not even for the will).
		return nil, frames.Errorf(frames.ErrUnauthorizedAccess, "the credentials expired at %s", exp.UTC().Format(time.RFC3339))
	}
	cred := mqtt.Credentials{ClientID: p.clientID}
	if ip, err := netip.ParseAddr(p.adm.Host()); err == nil && p.port != 0 {
		cred.RemoteAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, p.port))
	}
	auth := resumedAuthenticator{id: p.id}
	return p.b.open(ctx, cred, auth, sasl.NewAnonymousClient(p.clientID))
}

// Release implements mqtt.Suspension.
func (p *pipeSuspension) Release() { p.adm.Release() }

// User is the user the client authenticated as (mqtt.UserBackend).
func (p *pipeSuspension) User() string { return p.id.User }

// Expires is when the client's credentials (a token) expire; the
// gateway ends the connection then, as the transport ends an AMQP one.
func (p *pipeSuspension) Expires() time.Time { return p.id.Expires }

// identity is what the server side of c's pipe authenticated.
func (b *mqttBackend) identity(c *transport.Conn) (sasl.Identity, bool) {
	v, ok := b.servers.Load(c)
	if !ok {
		return sasl.Identity{}, false
	}
	return v.(pipeClient).server.Identity(), true
}

// ExpiresOf implements mqtt.UserBackend.
func (b *mqttBackend) ExpiresOf(c *transport.Conn) time.Time {
	id, _ := b.identity(c)
	return id.Expires
}

// UserOf implements mqtt.UserBackend.
func (b *mqttBackend) UserOf(c *transport.Conn) (string, bool) {
	id, ok := b.identity(c)
	return id.User, ok
}

// resumedAuthenticator is the authenticator of a resumed client's pipe:
// it offers ANONYMOUS and answers it with the identity the client
// authenticated with before.
type resumedAuthenticator struct{ id sasl.Identity }

// Mechanisms implements sasl.Authenticator.
func (a resumedAuthenticator) Mechanisms(sasl.ConnInfo) []string { return []string{sasl.Anonymous} }

// Start implements sasl.Authenticator.
func (a resumedAuthenticator) Start(mech string, _ sasl.ConnInfo) (sasl.ServerMech, error) {
	if mech != sasl.Anonymous {
		return nil, sasl.ErrUnsupportedMechanism
	}
	return &resumedMech{id: a.id}, nil
}

type resumedMech struct {
	id   sasl.Identity
	done bool
}

// Step implements sasl.ServerMech.
func (m *resumedMech) Step([]byte) ([]byte, bool, error) {
	if m.done {
		return nil, true, sasl.ErrExchangeDone
	}
	m.done = true
	return nil, true, nil
}

// Identity implements sasl.ServerMech.
func (m *resumedMech) Identity() sasl.Identity { return m.id }

// mqttClientAuthenticator is the AMQP listener's authenticator for the
// pipe of one MQTT client: it sees the MQTT client's address and TLS state.
type mqttClientAuthenticator struct {
	inner  sasl.Authenticator
	remote net.Addr
	tls    *tls.ConnectionState
}

func (a mqttClientAuthenticator) info(info sasl.ConnInfo) sasl.ConnInfo {
	if a.remote != nil {
		info.RemoteAddr = a.remote
	}
	info.TLS = a.tls
	return info
}

// Mechanisms implements sasl.Authenticator.
func (a mqttClientAuthenticator) Mechanisms(info sasl.ConnInfo) []string {
	return a.inner.Mechanisms(a.info(info))
}

// Start implements sasl.Authenticator.
func (a mqttClientAuthenticator) Start(mech string, info sasl.ConnInfo) (sasl.ServerMech, error) {
	return a.inner.Start(mech, a.info(info))
}

// EnsureTopic creates the first level of name as a topic in an
// auto-creating address space (SPEC §4: MQTT auto-creates topics).
func (b *mqttBackend) EnsureTopic(user, name string) error {
	return b.dp.router.EnsureTopic(user, name)
}

// looksLikeJWT reports whether p has the shape of a JWS compact
// serialization with a JSON header: "eyJ" (base64url of `{"`), three
// base64url parts separated by dots.
func looksLikeJWT(p []byte) bool {
	if !bytes.HasPrefix(p, []byte("eyJ")) || bytes.Count(p, []byte(".")) != 2 {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
