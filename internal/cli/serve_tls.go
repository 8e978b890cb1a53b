package cli

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/enmasse-go/enmasse/internal/tlsconfig"
)

// tlsDirName is where --tls-self-signed keeps its CA and certificate,
// inside the data dir.
const tlsDirName = "tls"

// tlsConfigured reports whether serve has a certificate: --tls-cert and
// --tls-key, or --tls-self-signed.
func (o *serveOptions) tlsConfigured() bool {
	return o.tlsSelfSigned || o.tlsCert != ""
}

// checkTLSOptions applies the TLS flag rules once flags and config file are
// parsed: cert and key go together, exclude --tls-self-signed, and every
// TLS-only flag needs one of them. amqpsGiven (mqttsGiven) says whether
// --amqps (--mqtts) was set, on the command line or in the file; otherwise
// it defaults to :5671 (:8883, or 127.0.0.1:8883 when every other listener
// is on loopback) with TLS and stays off without.
func checkTLSOptions(o *serveOptions, amqpsGiven, mqttsGiven bool) error {
	const need = "give --tls-cert and --tls-key, or --tls-self-signed"
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return usageErrorf("--tls-cert and --tls-key must be given together")
	case o.tlsSelfSigned && o.tlsCert != "":
		return usageErrorf("--tls-self-signed and --tls-cert/--tls-key exclude each other")
	}
	if !o.tlsConfigured() {
		switch {
		case amqpsGiven && o.amqpsAddr != "":
			return usageErrorf("--amqps needs a TLS certificate: %s", need)
		case mqttsGiven && o.mqttsAddr != "":
			return usageErrorf("--mqtts needs a TLS certificate: %s", need)
		case o.tlsClientCA != "":
			return usageErrorf("--tls-client-ca needs a TLS certificate: %s", need)
		case o.httpTLS:
			return usageErrorf("--http-tls needs a TLS certificate: %s", need)
		}
		o.amqpsAddr, o.mqttsAddr = "", ""
		return nil
	}
	if !amqpsGiven {
		o.amqpsAddr = defaultAMQPSAddr
	}
	if !mqttsGiven {
		// Like amqps, unless the other listeners (amqps included) are all
		// on loopback: then a default mqtts must not be what opens the
		// server to the network.
		o.mqttsAddr = defaultMQTTSAddr
		if allLoopback([]string{o.amqpAddr, o.amqpsAddr, o.httpAddr, o.mqttAddr}) {
			o.mqttsAddr = loopbackMQTTSAddr
		}
	}
	return nil
}

// setupTLS loads the certificate the options name, creating the development
// PKI in DATA-DIR/tls first for --tls-self-signed, whose CA path it logs and,
// with text logs, also prints as a plain line on logOut (stderr) for users to
// point their clients at. The data dir must be locked.
func setupTLS(opts serveOptions, logger *slog.Logger, logOut io.Writer) (*tlsconfig.Reloader, error) {
	certFile, keyFile := opts.tlsCert, opts.tlsKey
	if opts.tlsSelfSigned {
		pki, err := tlsconfig.SelfSigned(filepath.Join(opts.dataDir, tlsDirName), selfSignedHosts(opts))
		if err != nil {
			return nil, err
		}
		certFile, keyFile = pki.ServerCert, pki.ServerKey
		logger.Info("TLS with a development certificate; clients verify the server with the CA certificate",
			"ca", pki.CACert, "ca_created", pki.CACreated, "cert", pki.ServerCert, "cert_created", pki.ServerCreated,
			"hosts", pki.Hosts, "not_after", pki.NotAfter.Format(time.RFC3339))
		if opts.logFormat != "json" { // keep a JSON log stream pure
			fmt.Fprintf(logOut, "Development CA certificate (trust it in TLS clients): %s\n", pki.CACert)
		}
	}
	r, err := tlsconfig.New(tlsconfig.Options{
		CertFile: certFile, KeyFile: keyFile, ClientCAFile: opts.tlsClientCA,
		ReloadInterval: opts.tlsReloadInterval, Logger: logger.With("component", "tls"),
	})
	if err != nil {
		return nil, err
	}
	leaf := r.Certificate().Leaf
	logger.Info("TLS certificate loaded (reloaded when its files change)", "cert", certFile,
		"subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339),
		"client_ca", opts.tlsClientCA)
	return r, nil
}

// selfSignedHosts are the names the development server certificate gets
// besides localhost and the loopback addresses: this machine's host name
// and the hosts the TLS listeners bind.
func selfSignedHosts(opts serveOptions) []string {
	var hosts []string
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	for _, l := range []string{opts.amqpsAddr, opts.amqpAddr, opts.httpAddr, opts.mqttAddr, opts.mqttsAddr} {
		if host, _, err := net.SplitHostPort(l); err == nil && host != "" {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

// amqpTLSConfig is the TLS configuration of the amqps and mqtts listeners
// and of the in-band upgrade on the plain AMQP listener; nil without TLS.
func (o *serveOptions) amqpTLSConfig() *tls.Config {
	if o.tls == nil {
		return nil
	}
	return o.tls.ServerConfig()
}

// httpTLSConfig is the TLS configuration of the HTTP listener: nil (plain
// HTTP) unless --http-tls.
func (o *serveOptions) httpTLSConfig() *tls.Config {
	if o.tls == nil || !o.httpTLS {
		return nil
	}
	return o.tls.ServerConfig("h2", "http/1.1")
}
