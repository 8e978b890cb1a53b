package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/enmasse-go/enmasse/internal/version"
)

// httpComponent serves the HTTP endpoint (health, readiness, and later the
// REST API, console and metrics) on one listener, over TLS if tlsConfig is
// set (--http-tls).
type httpComponent struct {
	addr      string
	handler   http.Handler
	logger    *slog.Logger
	tlsConfig *tls.Config

	ln   net.Listener
	srv  *http.Server
	done chan struct{} // closed when Serve has returned
}

func newHTTPComponent(addr string, handler http.Handler, logger *slog.Logger) *httpComponent {
	return &httpComponent{addr: addr, handler: handler, logger: logger.With("component", "http")}
}

// withTLS makes h serve HTTPS with cfg; nil keeps plain HTTP.
func (h *httpComponent) withTLS(cfg *tls.Config) *httpComponent {
	h.tlsConfig = cfg
	return h
}

// Name is "https" when serving TLS, else "http".
func (h *httpComponent) Name() string {
	if h.tlsConfig != nil {
		return "https"
	}
	return "http"
}

func (h *httpComponent) Addr() net.Addr {
	if h.ln == nil {
		return nil
	}
	return h.ln.Addr()
}

func (h *httpComponent) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", h.addr)
	if err != nil {
		return err
	}
	if h.tlsConfig != nil {
		ln = tls.NewListener(ln, h.tlsConfig) // HTTP/2 when the client offers h2
	}
	h.ln = ln
	h.srv = &http.Server{
		Handler:           h.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(h.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		if err := h.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			h.logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

func (h *httpComponent) Shutdown(ctx context.Context) error {
	if h.srv == nil {
		return nil
	}
	err := h.srv.Shutdown(ctx)
	if err != nil {
		h.srv.Close() // give up on the slow connections
	}
	<-h.done
	return err
}

// addBaseRoutes registers the endpoints every serve process has.
func addBaseRoutes(mux *http.ServeMux, ready *readiness) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, reason := ready.state(); !ok {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+reason+"\n")
			return
		}
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, fmt.Sprintf("%s\n\n"+
			"enmasse: EnMasse-compatible messaging-as-a-service, AMQP 1.0 native.\n\n"+
			"  /healthz  liveness (200 while the process runs)\n"+
			"  /readyz   readiness (200 once every component has started)\n",
			version.String()))
	})
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
