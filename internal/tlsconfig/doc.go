// Package tlsconfig builds the server-side TLS configuration of enmasse's
// listeners (amqps, the in-band AMQP TLS upgrade, https) from files, and
// creates a development PKI for `enmasse serve --tls-self-signed`.
//
// # Rotation without restart
//
// New loads a certificate/key pair (and optionally a file of client CA
// certificates) and returns a Reloader. Its ServerConfig hands every TLS
// handshake a configuration built from the files' current contents: at most
// once per Options.ReloadInterval (default 5 s) a handshake re-reads the
// files, and if their bytes changed, parses them again. So a certificate
// renewed in place (cert-manager, certbot, a Kubernetes secret's symlink
// swap) is served to new connections within a few seconds; connections
// already established keep the certificate they negotiated.
//
// A new pair that does not load (half-written rotation, a key that does
// not match the certificate, garbage) is logged once as an error and the
// previous pair keeps being served; the files are retried at every check,
// so finishing the rotation (writing the matching key) takes effect
// without further action. The same holds for the client CA file.
//
// # Policy
//
// TLS 1.2 is the minimum version; cipher suites are Go's defaults. When a
// client CA file is configured, clients may present a certificate
// (tls.VerifyClientCertIfGiven): one that does not chain to those CAs fails
// the handshake, one that does is what SASL EXTERNAL authenticates with
// (internal/amqp/sasl Config.ExternalUser); clients without a certificate
// authenticate with SASL as usual.
//
// # Development PKI
//
// SelfSigned writes a development CA (ca.crt, ca.key) and a server
// certificate signed by it (server.crt, server.key) into a directory, keys
// mode 0600, ECDSA P-256. The server certificate names localhost,
// 127.0.0.1, ::1 and the given hosts. On the next start the files are
// reused, so clients keep trusting the same CA; the server certificate
// alone is issued again when it expires within 30 days, does not name
// every requested host, or was not signed by the CA. Files are replaced
// atomically (write and rename), so a Reloader watching them never reads a
// half-written file.
package tlsconfig
