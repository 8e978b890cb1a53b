package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/enmasse-go/enmasse/internal/tlsconfig"
)

// target is where and how a run connects, resolved once from Config.URL,
// the TLS flags and the credentials.
type target struct {
	addr     string      // HOST:PORT
	tls      *tls.Config // nil: plain TCP
	user     string      // empty: anonymous
	password string
}

// Default ports when a URL names none.
var defaultPorts = map[string]string{"amqp": "5672", "amqps": "5671", "mqtt": "1883", "mqtts": "8883"}

// resolveTarget parses a server URL: HOST:PORT or
// SCHEME://[USER[:PASSWORD]@]HOST[:PORT]. The schemes amqps, mqtts, ssl and
// tls (and cfg.TLS) mean TLS from the first byte; amqp, mqtt and tcp plain
// TCP. Credentials in the URL are used unless cfg.User is set. proto is
// "amqp" or "mqtt", for the default port.
func resolveTarget(cfg *Config, proto string) (*target, error) {
	raw := cfg.URL
	t := &target{user: cfg.User, password: cfg.Password}
	useTLS := cfg.TLS
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("--url %q: %w", raw, err)
		}
		switch u.Scheme {
		case "amqp", "mqtt", "tcp":
		case "amqps", "mqtts", "ssl", "tls":
			useTLS = true
		default:
			return nil, fmt.Errorf("--url %q: unknown scheme %q (amqp, amqps, mqtt, mqtts)", raw, u.Scheme)
		}
		if u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("--url %q: want SCHEME://[USER[:PASSWORD]@]HOST[:PORT]", raw)
		}
		if u.User != nil && t.user == "" {
			t.user = u.User.Username()
			t.password, _ = u.User.Password()
		}
		t.addr = u.Host
		if u.Port() == "" {
			scheme := proto
			if useTLS {
				scheme += "s"
			}
			t.addr = net.JoinHostPort(u.Hostname(), defaultPorts[scheme])
		}
	} else {
		t.addr = raw
	}
	if _, _, err := net.SplitHostPort(t.addr); err != nil {
		return nil, fmt.Errorf("--url %q: %w", raw, err)
	}
	if cfg.CAFile != "" || cfg.Insecure {
		useTLS = true
	}
	if useTLS {
		tc := &tls.Config{InsecureSkipVerify: cfg.Insecure}
		if cfg.CAFile != "" {
			pool, err := tlsconfig.CAPool(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("--ca: %w", err)
			}
			tc.RootCAs = pool
		}
		tc.ServerName, _, _ = net.SplitHostPort(t.addr)
		t.tls = tc
	}
	return t, nil
}

// dialTCP opens a TCP connection to the target, with the TLS handshake done
// when the target wants TLS.
func (t *target) dialTCP(ctx context.Context) (net.Conn, error) {
	if t.tls == nil {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", t.addr)
	}
	d := tls.Dialer{Config: t.tls}
	return d.DialContext(ctx, "tcp", t.addr)
}

// readBuffered is a TCP connection read through a buffer. paho.golang
// reads straight from its connection: a packet's first byte, each byte of
// its remaining length and its body are reads of their own, a system call
// each, which makes a paho subscriber, not the server, the bottleneck of a
// run. Writes stay the TCPConn's own, so that paho's net.Buffers still go
// out in one writev (the embedded *net.TCPConn's writeBuffers) and
// packets written from several goroutines do not interleave.
type readBuffered struct {
	*net.TCPConn
	r *bufio.Reader
}

func newReadBuffered(c *net.TCPConn) *readBuffered {
	return &readBuffered{TCPConn: c, r: bufio.NewReaderSize(c, 32<<10)}
}

func (c *readBuffered) Read(p []byte) (int, error) { return c.r.Read(p) }

// WriteTo goes through the buffer too (the TCPConn's would skip it).
func (c *readBuffered) WriteTo(w io.Writer) (int64, error) { return c.r.WriteTo(w) }

// bridgeTCP returns one end of a fresh loopback TCP connection whose other
// end is copied to and from c; closing either side closes both.
func bridgeTCP(c net.Conn) (net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.Close()
		return nil, err
	}
	defer ln.Close()
	near, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		c.Close()
		return nil, err
	}
	far, err := ln.Accept()
	if err != nil {
		c.Close()
		near.Close()
		return nil, err
	}
	go func() { io.Copy(c, far); c.Close() }()
	go func() { io.Copy(far, c); far.Close() }()
	return near, nil
}
