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
	var dp *dataPlane
	if opts.amqpAddr != "" || opts.amqpsAddr != "" || opts.mqttAddr != "" || opts.mqttsAddr != "" {
		var err error
		if dp, err = openDataPlane(opts, logger); err != nil {
			return nil, err
		}
	}
	// The control plane (resources_serve.go) converges the router before
	// the AMQP listener starts, and serves its REST API on mux.
	cp, err := newControlPlane(opts, dp, logger)
	if err != nil {
		if dp != nil {
			dp.Close()
		}
		return nil, err
	}
	// The MQTT gateway runs with the data plane: on --mqtt, --mqtts and
	// the HTTP listener's /mqtt (WebSocket).
	var mq *mqttComponent
	if dp != nil {
		// Stops before the AMQP listeners; closes the journal when there
		// is none.
		mq = newMQTTComponent(opts, dp, opts.amqpAddr == "" && opts.amqpsAddr == "", logger)
	}
	if opts.httpAddr != "" {
		mux := http.NewServeMux()
		addBaseRoutes(mux, ready)
		cp.addRoutes(mux)
		if mq != nil {
			mq.addRoutes(mux)
		}
		comps = append(comps, newHTTPComponent(opts.httpAddr, mux, logger).withTLS(opts.httpTLSConfig()))
	}
	comps = append(comps, cp)
	if dp != nil && opts.amqpAddr != "" {
		amqp := newAMQPComponent(opts, dp, logger)
		comps = append(comps, amqp, endpointPublisher{cp, amqp})
	}
	if dp != nil && opts.amqpsAddr != "" {
		// Stops before the amqp listener, which then closes the journal;
		// without one, amqps closes it.
		comps = append(comps, newAMQPSComponent(opts, dp, opts.amqpAddr == "", logger))
	}
	if mq != nil {
		comps = append(comps, mq)
	}
	return comps, nil
}
