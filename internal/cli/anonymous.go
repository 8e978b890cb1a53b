package cli

import (
	"log/slog"
	"net"
	"strings"
)

// anonymousAllowed applies the SPEC §2 rule: an explicit --allow-anonymous
// wins; otherwise anonymous clients are allowed exactly when every enabled
// listener is on loopback.
func anonymousAllowed(flagValue optionalBool, listeners []string) bool {
	if flagValue.set {
		return flagValue.value
	}
	for _, l := range listeners {
		if l != "" && !isLoopbackListen(l) {
			return false
		}
	}
	return true
}

// isLoopbackListen reports whether binding addr (HOST:PORT) listens only on
// loopback. An empty host ("":5672) binds every interface; host names other
// than localhost are not trusted to resolve to loopback.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// logAnonymous says at start whether anonymous clients get in.
func logAnonymous(logger *slog.Logger, opts serveOptions) {
	switch {
	case !opts.anonymous:
		logger.Info("anonymous access is off; clients must authenticate")
	case opts.allowAnonymous.set && !allLoopback(opts.listeners()):
		logger.Warn("anonymous access is on (--allow-anonymous) on non-loopback listeners: " +
			"anyone who can reach them gets all rights in the default address space")
	default:
		logger.Warn("anonymous access is on: clients without credentials get all rights in the default address space " +
			"(listeners are loopback only; --allow-anonymous=false turns this off)")
	}
}

func allLoopback(listeners []string) bool {
	return anonymousAllowed(optionalBool{}, listeners)
}
