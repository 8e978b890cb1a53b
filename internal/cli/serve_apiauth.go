package cli

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/api"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// apiAuth authenticates REST API requests with HTTP basic credentials of
// a MessagingUser (SPEC §2, §4), or a bearer token of the OIDC issuer
// (RFC 6750) mapped to one, when anonymous access is off. Failures are
// audited and slowed down per source address like SASL failures.
type apiAuth struct {
	admin  *adminCredential // nil: no administrator
	users  *messagingUsers
	tokens *tokenUsers // nil without --oidc-issuer
	fails  *authFailures
	audit  *slog.Logger
	sleep  func(time.Duration)
}

func newAPIAuth(admin *adminCredential, users *messagingUsers, tokens *tokenUsers, fails *authFailures, logger *slog.Logger) *apiAuth {
	return &apiAuth{admin: admin, users: users, tokens: tokens, fails: fails, audit: auditLogger(logger), sleep: time.Sleep}
}

// authenticate implements api.Authenticator.
func (a *apiAuth) authenticate(r *http.Request) (api.Caller, bool) {
	if scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
		return a.bearer(r, strings.TrimLeft(token, " "))
	}
	if r.Header.Get("Authorization") == "" && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return a.certificate(r, r.TLS.VerifiedChains[0][0].Subject.CommonName)
	}
	user, pass, ok := r.BasicAuth()
	if ok && user == adminUser && a.admin != nil {
		if a.admin.creds.VerifyPassword(pass) {
			a.fails.succeeded(remoteIP(tcpAddr(r.RemoteAddr)))
			return adminCaller{}, true
		}
	} else if ok {
		if c, found := a.caller(user, pass); found {
			a.fails.succeeded(remoteIP(tcpAddr(r.RemoteAddr)))
			return c, true
		}
	}
	reason := "no credentials"
	if ok {
		reason = "wrong user name or password"
	}
	// A client without credentials is asked for them at once.
	return a.refuse(r, "basic", user, reason, ok)
}

// refuse counts a failed authentication against the client's address,
// audits it, and with delay waits for the backoff.
func (a *apiAuth) refuse(r *http.Request, mech, user, reason string, delay bool) (api.Caller, bool) {
	d := a.fails.failed(remoteIP(tcpAddr(r.RemoteAddr)))
	a.audit.LogAttrs(context.Background(), slog.LevelWarn, "authentication failed",
		slog.String("protocol", "http"), slog.String("remote", r.RemoteAddr), slog.String("mechanism", mech),
		slog.String("user", user), slog.String("reason", reason), slog.Duration("delay", d))
	if delay {
		a.sleep(d)
	}
	return nil, false
}

// bearer authenticates a request with a bearer token (RFC 6750 §2.1).
func (a *apiAuth) bearer(r *http.Request, token string) (api.Caller, bool) {
	remote := remoteIP(tcpAddr(r.RemoteAddr))
	reason := "bearer tokens are not accepted: no --oidc-issuer"
	if a.tokens != nil {
		ctx, cancel := context.WithTimeout(r.Context(), tokenTimeout)
		defer cancel()
		id, mu, err := a.tokens.resolveHTTP(ctx, token)
		if err == nil {
			a.fails.succeeded(remote)
			return newAPICaller(id, mu), true
		}
		reason = err.Error()
	}
	return a.refuse(r, "bearer", "", reason, true)
}

// certificate authenticates an HTTPS request by its verified client
// certificate (--tls-client-ca): the subject common name is the
// MessagingUser (`user` or `user@space[.namespace]`), as for AMQP SASL
// EXTERNAL and MQTT. Credentials in an Authorization header win.
func (a *apiAuth) certificate(r *http.Request, cn string) (api.Caller, bool) {
	if mu, ok := a.users.user(cn); ok {
		a.fails.succeeded(remoteIP(tcpAddr(r.RemoteAddr)))
		return newAPICaller(cn, mu), true
	}
	return a.refuse(r, "client-certificate", cn, "client certificate names no MessagingUser", true)
}

func tcpAddr(hostport string) net.Addr {
	ap, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return nil
	}
	return ap
}

// caller checks user's password and returns its rights.
func (a *apiAuth) caller(user, pass string) (*apiCaller, bool) {
	creds, ok := a.users.Lookup(user)
	if !ok {
		decoyVerify(pass)
		return nil, false
	}
	if !creds.VerifyPassword(pass) {
		return nil, false
	}
	mu, ok := a.users.user(user)
	if !ok {
		return nil, false
	}
	return newAPICaller(user, mu), true
}

// newAPICaller is the caller user (`name[@space[.namespace]]`) with mu's
// view and manage rights.
func newAPICaller(user string, mu *model.MessagingUser) *apiCaller {
	_, space, ns, _ := splitUser(user)
	c := &apiCaller{user: user, space: space, namespace: ns}
	for _, rule := range mu.Spec.Authorization {
		c.view = c.view || slices.Contains(rule.Operations, "view")
		c.manage = c.manage || slices.Contains(rule.Operations, "manage")
	}
	c.view = c.view || c.manage // who may change resources may read them
	return c
}

// apiCaller is an authenticated MessagingUser of space in namespace.
type apiCaller struct {
	user             string
	space, namespace string
	view, manage     bool
}

func (c *apiCaller) Name() string { return c.user }

// Allowed implements api.Caller: reads need view, writes manage; a user
// sees and changes only its own address space, the Addresses and
// MessagingUsers named `{space}.…` in its namespace, and reads plans
// (which nobody changes while anonymous access is off).
func (c *apiCaller) Allowed(a api.Access) bool {
	if a.IsWrite() && !c.manage || !a.IsWrite() && !c.view {
		return false
	}
	if a.Kind == model.AddressSpacePlanKind || a.Kind == model.AddressPlanKind {
		return !a.IsWrite()
	}
	if a.Namespace != c.namespace {
		// Only reads of a collection across all namespaces, filtered
		// object by object.
		return a.Namespace == "" && a.Name == "" && !a.IsWrite()
	}
	if a.Name == "" {
		return true // the collection; each object is checked by name
	}
	if a.Kind == model.AddressSpaceKind {
		return a.Name == c.space
	}
	return strings.HasPrefix(a.Name, c.space+".")
}
