package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
)

// Failed authentications are slowed down per source address (issue 7): the
// n-th consecutive failure from one IP waits authFailBase·2^(n-1), at most
// authFailMax, before the client hears about it. A success resets it.
const (
	authFailBase = 100 * time.Millisecond
	authFailMax  = 4 * time.Second
	// authFailForget drops an address's count after this long without a
	// failure, and authFailMaxIPs bounds the table.
	authFailForget = 10 * time.Minute
	authFailMaxIPs = 10000
)

// authFailures counts consecutive authentication failures per remote IP.
// It is safe for concurrent use.
type authFailures struct {
	base, max time.Duration
	now       func() time.Time

	mu sync.Mutex
	m  map[netip.Addr]*failCount
}

type failCount struct {
	n    int
	last time.Time
}

func newAuthFailures() *authFailures {
	return &authFailures{base: authFailBase, max: authFailMax, now: time.Now, m: map[netip.Addr]*failCount{}}
}

// failed records a failure from ip and returns how long to delay it.
func (f *authFailures) failed(ip netip.Addr) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c := f.m[ip]
	if c == nil || now.Sub(c.last) > authFailForget {
		if len(f.m) >= authFailMaxIPs {
			f.prune(now)
		}
		c = &failCount{}
		f.m[ip] = c
	}
	c.n++
	c.last = now
	d := f.base
	for i := 1; i < c.n && d < f.max; i++ {
		d *= 2
	}
	return min(d, f.max)
}

// prune forgets stale addresses, and all of them if none is stale (a
// flood from very many addresses must not grow the table without bound).
func (f *authFailures) prune(now time.Time) {
	for ip, c := range f.m {
		if now.Sub(c.last) > authFailForget {
			delete(f.m, ip)
		}
	}
	if len(f.m) >= authFailMaxIPs {
		clear(f.m)
	}
}

// succeeded forgets ip's failures.
func (f *authFailures) succeeded(ip netip.Addr) {
	f.mu.Lock()
	delete(f.m, ip)
	f.mu.Unlock()
}

// remoteIP is addr's IP ("" address for anything that is not IP).
func remoteIP(addr net.Addr) netip.Addr {
	if addr == nil {
		return netip.Addr{}
	}
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// auditLogger is logger for audit lines: every one carries audit=true.
func auditLogger(logger *slog.Logger) *slog.Logger { return logger.With("audit", true) }

// guardedAuthenticator wraps a sasl.Authenticator: every failed exchange
// is written to the audit log (remote address, mechanism, user name, never
// the password) and its outcome is delayed by the source address's
// failure backoff. The transport stays unaware of both.
type guardedAuthenticator struct {
	protocol string // for the audit line: "amqp" or "mqtt"
	inner    sasl.Authenticator
	fails    *authFailures
	audit    *slog.Logger
	// sleep waits d; tests replace it.
	sleep func(d time.Duration)
}

func newGuardedAuthenticator(inner sasl.Authenticator, fails *authFailures, logger *slog.Logger) *guardedAuthenticator {
	return &guardedAuthenticator{protocol: "amqp", inner: inner, fails: fails, audit: auditLogger(logger), sleep: time.Sleep}
}

// Mechanisms implements sasl.Authenticator.
func (g *guardedAuthenticator) Mechanisms(info sasl.ConnInfo) []string {
	return g.inner.Mechanisms(info)
}

// Start implements sasl.Authenticator.
func (g *guardedAuthenticator) Start(mech string, info sasl.ConnInfo) (sasl.ServerMech, error) {
	m, err := g.inner.Start(mech, info)
	if err != nil {
		g.failed(info.RemoteAddr, mech, "", err)
		return nil, err
	}
	return &guardedMech{g: g, inner: m, mech: mech, remote: info.RemoteAddr}, nil
}

// failed audits one failure and waits the address's backoff.
func (g *guardedAuthenticator) failed(remote net.Addr, mech, user string, err error) {
	ip := remoteIP(remote)
	d := g.fails.failed(ip)
	rs := ""
	if remote != nil {
		rs = remote.String()
	}
	g.audit.LogAttrs(context.Background(), slog.LevelWarn, "authentication failed",
		slog.String("protocol", g.protocol), slog.String("remote", rs), slog.String("mechanism", mech),
		slog.String("user", user), slog.String("reason", err.Error()), slog.Duration("delay", d))
	g.sleep(d)
}

// guardedMech is one exchange of a guardedAuthenticator.
type guardedMech struct {
	g      *guardedAuthenticator
	inner  sasl.ServerMech
	mech   string
	remote net.Addr
	user   string // from the first client message, for the audit line
	steps  int
}

// Step implements sasl.ServerMech.
func (m *guardedMech) Step(response []byte) ([]byte, bool, error) {
	if m.steps == 0 {
		m.user = saslUser(m.mech, response)
	}
	m.steps++
	challenge, done, err := m.inner.Step(response)
	switch {
	case err != nil:
		m.g.failed(m.remote, m.mech, m.user, err)
	case done:
		m.g.fails.succeeded(remoteIP(m.remote))
	}
	return challenge, done, err
}

// Identity implements sasl.ServerMech.
func (m *guardedMech) Identity() sasl.Identity { return m.inner.Identity() }

// saslUser is the user name a mechanism's first client message claims,
// for the audit log: PLAIN's authcid (RFC 4616), SCRAM's n= (RFC 5802),
// OAUTHBEARER's a= (RFC 7628) and XOAUTH2's user=; "" for the others. It
// never returns the password or token.
func saslUser(mech string, first []byte) string {
	const maxUser = 256
	var user string
	switch mech {
	case sasl.Plain:
		parts := bytes.SplitN(first, []byte{0}, 3)
		if len(parts) == 3 {
			user = string(parts[1])
		}
	case sasl.OAuthBearer:
		// gs2-header "n,a=authzid," then the key/value pairs.
		if _, rest, ok := strings.Cut(string(first), ","); ok {
			az, _, _ := strings.Cut(rest, ",")
			if v, ok := strings.CutPrefix(az, "a="); ok {
				user = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(v)
			}
		}
	case sasl.XOAuth2:
		if v, ok := strings.CutPrefix(string(first), "user="); ok {
			user, _, _ = strings.Cut(v, "\x01")
		}
	case sasl.ScramSHA256, sasl.ScramSHA512:
		// gs2-header "n,," then "n=user,r=nonce".
		s := string(first)
		for i := 0; i < 2; i++ {
			_, s, _ = strings.Cut(s, ",")
		}
		if rest, ok := strings.CutPrefix(s, "n="); ok {
			user, _, _ = strings.Cut(rest, ",")
			user = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(user)
		}
	}
	if len(user) > maxUser {
		user = user[:maxUser]
	}
	return strings.ToValidUTF8(user, "\uFFFD")
}
