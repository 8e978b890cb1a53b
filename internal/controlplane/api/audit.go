package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

type userKey struct{}

// WithUser returns ctx carrying the authenticated user of a request, for
// the audit log and authorization.
func WithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// UserFrom is the user WithUser stored in ctx, or "" (anonymous).
func UserFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// auditChange writes one audit line (audit=true) for a resource changed
// through the API: verb, kind, namespace, name, user and remote address.
func (s *Server) auditChange(r *http.Request, verb string, o model.Object) {
	m := o.GetMeta()
	s.audit.LogAttrs(r.Context(), slog.LevelInfo, "resource "+verb,
		slog.String("verb", verb), slog.String("kind", o.Info().Kind),
		slog.String("namespace", m.Namespace), slog.String("name", m.Name),
		slog.String("user", UserFrom(r.Context())), slog.String("remote", r.RemoteAddr))
}
