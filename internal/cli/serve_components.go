package cli

import (
	"log/slog"
	"net/http"
)

// buildComponents creates the components of `enmasse serve` from opts, in
// start order; serve stops them in reverse order. ready is the process's
// readiness, for /readyz.
//
// The HTTP component comes first so that it stops last: while the others
// drain, /readyz keeps answering 503 and /healthz 200. New components (the
// AMQP listener on opts.amqpAddr, then broker, MQTT, …) are appended after
// it, each skipped when its listen address is empty. Components that add
// HTTP routes register them on mux before the HTTP component is built.
func buildComponents(opts serveOptions, logger *slog.Logger, ready *readiness) ([]component, error) {
	var comps []component
	if opts.httpAddr != "" {
		mux := http.NewServeMux()
		addBaseRoutes(mux, ready)
		comps = append(comps, newHTTPComponent(opts.httpAddr, mux, logger))
	}
	if opts.amqpAddr != "" {
		dp, err := openDataPlane(opts, logger)
		if err != nil {
			return nil, err
		}
		comps = append(comps, newAMQPComponent(opts, dp, logger))
	}
	return comps, nil
}
