package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReloadInterval is how often, at most, the files are checked for
// changes when Options.ReloadInterval is zero.
const DefaultReloadInterval = 5 * time.Second

// Options says where the server's TLS material lives.
type Options struct {
	// CertFile and KeyFile hold the PEM certificate chain (leaf first) and
	// its private key. Both are required.
	CertFile, KeyFile string
	// ClientCAFile, if set, holds PEM CA certificates that client
	// certificates are verified against; clients may then present one
	// (tls.VerifyClientCertIfGiven). Empty: no client certificates.
	ClientCAFile string
	// ReloadInterval is how often, at most, a handshake re-reads the files.
	// Zero means DefaultReloadInterval; negative checks at every handshake.
	ReloadInterval time.Duration
	// Logger receives reload successes (info) and failures (error).
	// Default: discard.
	Logger *slog.Logger
}

// Reloader serves the current certificate and client CAs from files,
// picking up changes without a restart (see the package doc). It is safe
// for concurrent use.
type Reloader struct {
	interval time.Duration
	logger   *slog.Logger
	pair     *watched[tls.Certificate]
	cas      *watched[x509.CertPool] // nil without a client CA file

	lastCheck atomic.Int64 // unix nanos of the last check
	checkMu   sync.Mutex   // one check at a time; handshakes never wait for it
}

// New loads the files named by opts and returns a Reloader serving them.
// An error names the file and what is wrong with it.
func New(opts Options) (*Reloader, error) {
	if opts.CertFile == "" || opts.KeyFile == "" {
		return nil, errors.New("tls: a certificate file and a key file are both required")
	}
	if opts.ReloadInterval == 0 {
		opts.ReloadInterval = DefaultReloadInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{interval: opts.ReloadInterval, logger: opts.Logger}
	r.pair = &watched[tls.Certificate]{
		what: "certificate", paths: []string{opts.CertFile, opts.KeyFile}, parse: parsePair,
		describe: describePair,
	}
	if err := r.pair.load(); err != nil {
		return nil, err
	}
	if leaf := r.pair.current().Leaf; leaf != nil && time.Now().After(leaf.NotAfter) {
		r.logger.Warn("TLS certificate has expired; clients will refuse it", "cert", opts.CertFile,
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if opts.ClientCAFile != "" {
		r.cas = &watched[x509.CertPool]{
			what: "client CA", paths: []string{opts.ClientCAFile}, parse: parseCAs,
			describe: func(files [][]byte, _ *x509.CertPool) []any {
				return []any{"certs", countCerts(files[0])}
			},
		}
		if err := r.cas.load(); err != nil {
			return nil, err
		}
	}
	r.lastCheck.Store(time.Now().UnixNano())
	return r, nil
}

// ServerConfig returns a TLS configuration for a listener (tls.NewListener,
// tls.Server). Each handshake gets the current certificate and client
// CAs, with TLS 1.2 as the minimum and nextProtos offered for ALPN. The
// returned value must not be modified; it may be shared.
func (r *Reloader) ServerConfig(nextProtos ...string) *tls.Config {
	nextProtos = append([]string(nil), nextProtos...)
	var last atomic.Pointer[issued]
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.handshakeConfig(nextProtos, &last), nil
		},
	}
}

// issued is the configuration handshakes get while the certificate and
// client CAs stay the same: one for all of them (every TLS connection
// keeps its configuration for its life).
type issued struct {
	cert *tls.Certificate
	cas  *x509.CertPool
	cfg  *tls.Config
}

// ClientAuth reports whether client certificates are requested, i.e.
// whether a client CA file is configured.
func (r *Reloader) ClientAuth() bool { return r.cas != nil }

// Certificate returns the certificate currently served.
func (r *Reloader) Certificate() *tls.Certificate {
	r.maybeReload()
	return r.pair.current()
}

// Reload re-reads the files now, whatever the interval. It returns the
// errors of the files that did not load; their previous contents stay in
// use.
func (r *Reloader) Reload() error {
	r.checkMu.Lock()
	defer r.checkMu.Unlock()
	r.lastCheck.Store(time.Now().UnixNano())
	return r.checkLocked()
}

func (r *Reloader) handshakeConfig(nextProtos []string, last *atomic.Pointer[issued]) *tls.Config {
	r.maybeReload()
	cert := r.pair.current()
	var cas *x509.CertPool
	if r.cas != nil {
		cas = r.cas.current()
	}
	if is := last.Load(); is != nil && is.cert == cert && is.cas == cas {
		return is.cfg
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
		NextProtos:   nextProtos,
	}
	if cas != nil {
		cfg.ClientCAs = cas
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	last.Store(&issued{cert: cert, cas: cas, cfg: cfg})
	return cfg
}

// maybeReload checks the files if the interval has passed and no other
// handshake is checking them already.
func (r *Reloader) maybeReload() {
	now := time.Now().UnixNano()
	if now-r.lastCheck.Load() < int64(r.interval) {
		return
	}
	if !r.checkMu.TryLock() {
		return // another handshake is checking; use what we have
	}
	defer r.checkMu.Unlock()
	if now-r.lastCheck.Load() < int64(r.interval) {
		return
	}
	r.lastCheck.Store(now)
	_ = r.checkLocked() // logged by check
}

func (r *Reloader) checkLocked() error {
	err := r.pair.check(r.logger)
	if r.cas != nil {
		err = errors.Join(err, r.cas.check(r.logger))
	}
	return err
}

// watched is a value parsed from files, reloaded when their bytes change.
// check is serialized by Reloader.checkMu; current may be called anytime.
type watched[T any] struct {
	what     string   // for logs: "certificate", "client CA"
	paths    []string // files read together
	parse    func(files [][]byte) (*T, error)
	describe func(files [][]byte, v *T) []any // log attributes of a loaded value

	cur    atomic.Pointer[T]
	loaded [][]byte // the bytes cur was parsed from
	failed string   // the files and error of the last failure, logged already
}

func (w *watched[T]) current() *T { return w.cur.Load() }

// load reads and parses the files for the first time.
func (w *watched[T]) load() error {
	files, err := w.read()
	if err == nil {
		var v *T
		if v, err = w.parse(files); err == nil {
			w.cur.Store(v)
			w.loaded = files
			return nil
		}
	}
	return w.errorf(err)
}

// check reloads the files if their bytes changed. A failure keeps the
// current value and is logged once per distinct file contents and error.
func (w *watched[T]) check(logger *slog.Logger) error {
	files, err := w.read()
	if err == nil && sameFiles(files, w.loaded) {
		w.failed = ""
		return nil
	}
	var v *T
	if err == nil {
		v, err = w.parse(files)
	}
	if err != nil {
		err = w.errorf(err)
		key := err.Error()
		if files != nil {
			key = string(bytes.Join(files, []byte{0})) + "\x00" + key
		}
		if key != w.failed {
			logger.Error("TLS "+w.what+" reload failed; still serving the previous one", "err", err)
			w.failed = key
		}
		return err
	}
	w.cur.Store(v)
	w.loaded, w.failed = files, ""
	logger.Info("TLS "+w.what+" reloaded", append([]any{"file", w.paths[0]}, w.describe(files, v)...)...)
	return nil
}

func (w *watched[T]) read() ([][]byte, error) {
	files := make([][]byte, len(w.paths))
	for i, p := range w.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files[i] = b
	}
	return files, nil
}

func (w *watched[T]) errorf(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("tls: %s: %w", w.what, err) // names the file already
	}
	if len(w.paths) == 2 {
		return fmt.Errorf("tls: %s %s with key %s: %w", w.what, w.paths[0], w.paths[1], err)
	}
	return fmt.Errorf("tls: %s %s: %w", w.what, w.paths[0], err)
}

func sameFiles(a, b [][]byte) bool {
	if len(a) != len(b) || a == nil {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// parsePair parses a PEM certificate chain and its key, checking that they
// match.
func parsePair(files [][]byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(files[0], files[1])
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &cert, nil
}

func describePair(_ [][]byte, c *tls.Certificate) []any {
	return []any{"subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339)}
}

// CAPool reads a file of PEM CA certificates into a pool, for clients
// that verify a server against it (enmasse bench --ca, mqtt-gateway
// --router-ca); a file without a certificate is an error.
func CAPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := parseCAs([][]byte{data})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return pool, nil
}

// parseCAs parses a file of PEM certificates into a pool; a file without
// any certificate is an error (it would refuse every client certificate).
func parseCAs(files [][]byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest, n := files[0], 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return pool, nil
}

func countCerts(data []byte) int {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return n
		}
		if block.Type == "CERTIFICATE" {
			n++
		}
	}
}
