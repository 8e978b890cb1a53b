package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocketSubprotocol is the WebSocket subprotocol of MQTT (MQTT 5.0
// §6 [MQTT-6.0.0-3], MQTT 3.1.1 §6).
const WebSocketSubprotocol = "mqtt"

// WebSocketHandler returns the HTTP handler of MQTT over WebSocket (MQTT
// 5.0 §6, RFC 6455): it upgrades a request that offers the subprotocol
// "mqtt" and serves the connection as ServeConn does. A request without
// that subprotocol is refused with 400 [MQTT-6.0.0-4]. Browser requests
// from another origin are refused with 403 (no cross-site WebSocket
// hijacking of an anonymous loopback server); clients that send no
// Origin header are served.
//
// MQTT packets travel in binary messages: a packet may span messages and
// one message may hold several packets [MQTT-6.0.0-2]; a text message
// closes the connection [MQTT-6.0.0-1]. Each write of the server (one
// packet, or a batch of PUBLISH packets) is one binary message.
func (s *Server) WebSocketHandler() http.Handler {
	up := &websocket.Upgrader{
		HandshakeTimeout: s.opts.ConnectTimeout,
		Subprotocols:     []string{WebSocketSubprotocol},
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(websocket.Subprotocols(r), WebSocketSubprotocol) {
			http.Error(w, "MQTT over WebSocket needs the subprotocol \"mqtt\" (Sec-WebSocket-Protocol)", http.StatusBadRequest)
			return
		}
		ws, err := up.Upgrade(w, r, nil) // answers the failed upgrades itself
		if err != nil {
			s.opts.Logger.Debug("WebSocket upgrade failed", "remote", r.RemoteAddr, "err", err)
			return
		}
		s.ServeConn(&wsConn{ws: ws, tls: r.TLS})
	})
}

// wsConn is a WebSocket as the byte stream net.Conn the gateway reads and
// writes. Read is called by one goroutine at a time, as gorilla/websocket
// requires; Writes are serialised by wmu; Close may come from any
// goroutine.
//
// wsConn is also a sync.Locker (pmu), for clients that write one packet
// as several Writes: paho.golang writes a packet's parts (fixed header,
// then body) one Write each unless the conn offers a sync.Locker, which
// it then holds across them. Over TCP its net.Buffers become one writev;
// over this conn, without the lock, another goroutine's packet (paho's
// first PINGREQ, sent at once after CONNACK) could land between a
// SUBSCRIBE's header and body, and the server sees a malformed packet.
type wsConn struct {
	ws  *websocket.Conn
	tls *tls.ConnectionState
	r   io.Reader // the current message, nil between messages

	wmu sync.Mutex // net.Conn writes may be concurrent (clients)
	pmu sync.Mutex // held by a writer across the Writes of one packet

	closeOnce sync.Once
}

// errTextMessage ends a connection that sent a text message.
var errTextMessage = errors.New("mqtt: WebSocket text message (MQTT needs binary messages)")

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			mt, r, err := c.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			if mt != websocket.BinaryMessage {
				c.closeWith(websocket.CloseUnsupportedData, "MQTT needs binary messages")
				return 0, errTextMessage
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Lock makes the caller's next Writes, until Unlock, one run that no
// other Lock holder's Writes interleave (paho.golang's packet writes).
func (c *wsConn) Lock() { c.pmu.Lock() }

// Unlock ends the run Lock started.
func (c *wsConn) Unlock() { c.pmu.Unlock() }

// Close sends a WebSocket close (best effort) and closes the socket.
func (c *wsConn) Close() error {
	c.closeWith(websocket.CloseNormalClosure, "")
	return nil
}

func (c *wsConn) closeWith(code int, text string) {
	c.closeOnce.Do(func() {
		// WriteControl may run beside a Write (gorilla/websocket).
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
		c.ws.NetConn().Close()
	})
}

func (c *wsConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
func (c *wsConn) SetDeadline(t time.Time) error {
	return errors.Join(c.ws.SetReadDeadline(t), c.ws.SetWriteDeadline(t))
}

// TLSState is the TLS state of the HTTPS request, nil over plain HTTP.
func (c *wsConn) TLSState() *tls.ConnectionState { return c.tls }

// DialWebSocket opens MQTT over WebSocket to url (ws:// or wss://, with
// tlsConfig for wss) offering the subprotocol "mqtt", and returns it as
// the byte stream an MQTT client reads and writes: each Write is one
// binary message. The conn is a sync.Locker, which paho.golang holds
// across the Writes of one packet.
func DialWebSocket(ctx context.Context, url string, tlsConfig *tls.Config) (net.Conn, error) {
	d := websocket.Dialer{
		Subprotocols:     []string{WebSocketSubprotocol},
		TLSClientConfig:  tlsConfig,
		HandshakeTimeout: 10 * time.Second,
	}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("mqtt: WebSocket %s: %w (HTTP %s)", url, err, resp.Status)
		}
		return nil, fmt.Errorf("mqtt: WebSocket %s: %w", url, err)
	}
	if ws.Subprotocol() != WebSocketSubprotocol {
		ws.Close()
		return nil, fmt.Errorf("mqtt: WebSocket %s: server chose subprotocol %q, not %q", url, ws.Subprotocol(), WebSocketSubprotocol)
	}
	var st *tls.ConnectionState
	if tc, ok := ws.NetConn().(*tls.Conn); ok {
		s := tc.ConnectionState()
		st = &s
	}
	return &wsConn{ws: ws, tls: st}, nil
}
