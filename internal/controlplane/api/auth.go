package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// Access is what one API request asks for.
type Access struct {
	// Verb is get, list, watch (reads) or create, update, patch, delete
	// (writes).
	Verb      string
	Kind      *model.KindInfo
	Namespace string // "" for all namespaces
	// Name is the resource's name; "" asks whether the caller may use the
	// verb on the collection at all, and then every object listed,
	// watched or created is checked with its own name.
	Name string
}

// IsWrite reports whether the verb changes resources.
func (a Access) IsWrite() bool {
	switch a.Verb {
	case "create", "update", "patch", "delete":
		return true
	}
	return false
}

// Caller is an authenticated client of the API.
type Caller interface {
	// Name is the user, for the audit log.
	Name() string
	// Allowed reports whether the caller may do a.
	Allowed(a Access) bool
}

// Authenticator checks the credentials of a request. ok false answers 401
// with WWW-Authenticate: Basic (and Bearer with Options.Bearer, with
// error="invalid_token" when the request carried a token, RFC 6750 §3). nil Options.Authenticate leaves the API
// open to everyone.
type Authenticator func(r *http.Request) (c Caller, ok bool)

type callerKey struct{}

func callerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// authenticate runs the Authenticator, if any: false means it answered
// 401 already. The caller and its name go into the request's context.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	if s.authn == nil {
		return r, true
	}
	c, ok := s.authn(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="enmasse", charset="UTF-8"`)
		msg := "authentication required: send HTTP basic credentials of a MessagingUser (user or user@addressspace)"
		if s.bearer {
			ch := `Bearer realm="enmasse"`
			if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
				ch += `, error="invalid_token"`
			}
			w.Header().Add("WWW-Authenticate", ch)
			msg += " or a bearer token of the OIDC issuer"
		}
		writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized", "%s", msg), nil, "")
		return r, false
	}
	ctx := context.WithValue(WithUser(r.Context(), c.Name()), callerKey{}, c)
	return r.WithContext(ctx), true
}

// allowed reports whether the request's caller may do a (true without an
// Authenticator).
func allowed(r *http.Request, a Access) bool {
	c := callerFrom(r.Context())
	return c == nil || c.Allowed(a)
}

// forbidden is the 403 for a refused access. It names only what the
// request itself named, so it never reveals whether a resource exists.
func forbidden(r *http.Request, a Access) error {
	what := a.Kind.Plural
	if a.Name != "" {
		what += " " + a.Name
	}
	ns := a.Namespace
	if ns == "" {
		ns = "all namespaces"
	} else {
		ns = "namespace " + ns
	}
	return errorf(http.StatusForbidden, "Forbidden", "user %q may not %s %s in %s",
		UserFrom(r.Context()), a.Verb, what, ns)
}

// verbOf is the Access verb of a resource request.
func verbOf(r *http.Request, rt route) string {
	collection := rt.name == ""
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if !collection {
			return "get"
		}
		if v := r.URL.Query().Get("watch"); v == "true" || v == "1" {
			return "watch"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return r.Method
}
