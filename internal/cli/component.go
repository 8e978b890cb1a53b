package cli

import (
	"context"
	"net"
	"sync/atomic"
)

// component is one part of `enmasse serve` (HTTP endpoint, AMQP listener,
// broker, …) as the serve lifecycle sees it. buildComponents
// (serve_components.go) creates them; serve starts them in order and shuts
// them down in reverse order.
type component interface {
	// Name is a short lower-case name, used as the proto= key of the
	// "listening" log line and as the key of serveOptions.ready's map
	// ("http", "amqp").
	Name() string
	// Start binds the component's listener and starts serving in the
	// background, returning once Addr is valid. ctx lives until after
	// Shutdown has returned, so it may be the lifetime of the component's
	// goroutines; it is not the stop signal — Shutdown is.
	Start(ctx context.Context) error
	// Addr is the address the component really listens on (the chosen
	// port when configured with port 0), or nil if it has no listener.
	Addr() net.Addr
	// Shutdown stops accepting, finishes in-flight work and releases
	// everything Start acquired. It returns ctx.Err() if it had to give up
	// when ctx ended.
	Shutdown(ctx context.Context) error
}

// Readiness phases of a serve process, reported by GET /readyz.
const (
	phaseStarting int32 = iota
	phaseReady
	phaseStopping
)

// readiness is the serve process's phase; safe for concurrent use.
type readiness struct{ phase atomic.Int32 }

func (r *readiness) set(phase int32) { r.phase.Store(phase) }

// state returns whether the process is ready and, if not, why.
func (r *readiness) state() (ready bool, reason string) {
	switch r.phase.Load() {
	case phaseReady:
		return true, "ready"
	case phaseStopping:
		return false, "shutting down"
	default:
		return false, "starting"
	}
}
