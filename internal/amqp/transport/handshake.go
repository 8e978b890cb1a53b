package transport

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ErrProtocolHeader: the peer's protocol header was not acceptable.
var ErrProtocolHeader = errors.New("amqp: protocol header refused")

// Accept runs the server side of the connection handshake on nc (protocol
// headers, TLS, SASL, open) and returns the open connection, whose frames are
// then processed in the background. A handshake that fails or does not
// finish within Options.HandshakeTimeout closes nc and returns the error.
func Accept(ctx context.Context, nc net.Conn, opts Options) (*Conn, error) {
	if tc, ok := nc.(*tls.Conn); ok {
		// amqps: the listener wrapped the socket in TLS. Finish the TLS
		// handshake first so the peer's certificate is known to SASL
		// EXTERNAL (AMQP 1.0 §5.2.1 "alternative establishment").
		o := opts
		o.setDefaults()
		hctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("amqp: TLS handshake: %w", err)
		}
	}
	c := newConn(nc, opts, true)
	fr, err := c.serverHandshake(ctx)
	if err != nil {
		c.nc.Close()
		return nil, err
	}
	c.start(fr)
	return c, nil
}

// Dial connects to addr ("host:port") and runs the client handshake.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if opts.TLSConfig != nil && !opts.TLSInBand {
		cfg := opts.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = opts.Hostname
			if cfg.ServerName == "" {
				cfg.ServerName, _, _ = net.SplitHostPort(addr)
			}
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("amqp: TLS handshake: %w", err)
		}
		nc = tc
	}
	return NewClientConn(ctx, nc, opts)
}

// NewClientConn runs the client handshake over an established connection.
func NewClientConn(ctx context.Context, nc net.Conn, opts Options) (*Conn, error) {
	c := newConn(nc, opts, false)
	fr, err := c.clientHandshake(ctx)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.start(fr)
	return c, nil
}

func (c *Conn) start(fr *frameReader) {
	c.nc.SetDeadline(time.Time{})
	if c.opts.IdleTimeout > 0 {
		fr.idle = c.opts.IdleTimeout
	}
	go c.writer()
	go c.reader(fr)
	if exp := c.identity.Expires; c.server && !exp.IsZero() {
		// The credentials expire (a bearer token): so does the
		// connection, with amqp:unauthorized-access.
		t := time.AfterFunc(time.Until(exp), func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.HandshakeTimeout)
			defer cancel()
			c.Close(ctx, frames.Errorf(frames.ErrUnauthorizedAccess, "the credentials expired at %s", exp.UTC().Format(time.RFC3339)))
		})
		c.AfterClose(func() { t.Stop() })
	}
}

func (c *Conn) deadline(ctx context.Context) func() {
	dl := time.Now().Add(c.opts.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.nc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	return func() { stop() }
}

// writeRaw writes directly to the socket during the handshake, before the
// writer goroutine runs.
func (c *Conn) writeRaw(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

func (c *Conn) writeFrameRaw(typ byte, body frames.Body) error {
	return c.writeRaw(frames.AppendFrame(nil, typ, 0, body))
}

func (c *Conn) serverHandshake(ctx context.Context) (*frameReader, error) {
	defer c.deadline(ctx)()
	fr := newFrameReader(c.nc, c.opts.MaxFrameSize)
	authenticated := c.opts.Authenticator == nil
	for {
		h, err := fr.protoHeader()
		if err != nil {
			return nil, fmt.Errorf("amqp: reading protocol header: %w", err)
		}
		id, err := frames.ParseProtoHeader(h)
		if err != nil {
			c.refuseHeader(authenticated)
			return nil, fmt.Errorf("%w: %v (got %q)", ErrProtocolHeader, err, h)
		}
		switch id {
		case frames.ProtoTLS:
			if c.opts.TLSConfig == nil || c.tlsState != nil {
				c.refuseHeader(authenticated)
				return nil, fmt.Errorf("%w: TLS not offered", ErrProtocolHeader)
			}
			ph := frames.ProtoHeader(frames.ProtoTLS)
			if err := c.writeRaw(ph[:]); err != nil {
				return nil, err
			}
			tc := tls.Server(&prefixConn{Conn: c.nc, prefix: append([]byte{}, fr.buffered()...)}, c.opts.TLSConfig)
			if err := tc.HandshakeContext(ctx); err != nil {
				return nil, fmt.Errorf("amqp: TLS handshake: %w", err)
			}
			st := tc.ConnectionState()
			c.nc, c.tlsState = tc, &st
			fr = newFrameReader(c.nc, c.opts.MaxFrameSize)
		case frames.ProtoSASL:
			if c.opts.Authenticator == nil || authenticated {
				c.refuseHeader(true)
				return nil, fmt.Errorf("%w: SASL not offered here", ErrProtocolHeader)
			}
			if err := c.serverSASL(fr); err != nil {
				return nil, err
			}
			authenticated = true
		case frames.ProtoAMQP:
			if !authenticated && !c.opts.AllowNoSASL {
				c.refuseHeader(false)
				return nil, fmt.Errorf("%w: SASL is required", ErrProtocolHeader)
			}
			if !authenticated {
				c.identity = sasl.Identity{Anonymous: true}
			}
			ph := frames.ProtoHeader(frames.ProtoAMQP)
			if err := c.writeRaw(ph[:]); err != nil {
				return nil, err
			}
			return fr, c.serverOpen(fr)
		}
	}
}

// refuseHeader answers an unacceptable header with the header we want and
// hangs up (AMQP 1.0 §2.2).
func (c *Conn) refuseHeader(authenticated bool) {
	id := frames.ProtoAMQP
	if !authenticated {
		id = frames.ProtoSASL
	}
	ph := frames.ProtoHeader(id)
	c.writeRaw(ph[:])
}

func (c *Conn) serverSASL(fr *frameReader) error {
	ph := frames.ProtoHeader(frames.ProtoSASL)
	info := sasl.ConnInfo{TLS: c.tlsState, RemoteAddr: c.nc.RemoteAddr(), LocalAddr: c.nc.LocalAddr()}
	mechs := c.opts.Authenticator.Mechanisms(info)
	if len(mechs) == 0 {
		// sasl-server-mechanisms may not be empty (AMQP 1.0 §5.3.3.1):
		// with nothing to offer this client, hang up.
		c.writeRaw(ph[:])
		return errors.New("amqp: SASL: no mechanism can be offered to this client")
	}
	syms := make([]types.Symbol, len(mechs))
	for i, m := range mechs {
		syms[i] = types.Symbol(m)
	}
	out := frames.AppendFrame(ph[:], frames.TypeSASL, 0, &frames.SASLMechanisms{Mechanisms: syms})
	if err := c.writeRaw(out); err != nil {
		return err
	}
	body, err := c.readSASL(fr)
	if err != nil {
		return err
	}
	init, ok := body.(*frames.SASLInit)
	if !ok {
		return fmt.Errorf("amqp: expected sasl-init, got %v", body)
	}
	info.Hostname = init.Hostname
	outcome := func(code sasl.Code, data []byte) error {
		return c.writeFrameRaw(frames.TypeSASL, &frames.SASLOutcome{Code: uint8(code), AdditionalData: data})
	}
	mech, err := c.opts.Authenticator.Start(string(init.Mechanism), info)
	if err != nil {
		outcome(codeOf(err), nil)
		return fmt.Errorf("amqp: SASL %s: %w", init.Mechanism, err)
	}
	resp := init.InitialResponse
	for {
		challenge, done, err := mech.Step(resp)
		if err != nil {
			outcome(codeOf(err), nil)
			return fmt.Errorf("amqp: SASL %s: %w", init.Mechanism, err)
		}
		if done {
			c.identity = mech.Identity()
			return outcome(sasl.CodeOK, challenge)
		}
		if err := c.writeFrameRaw(frames.TypeSASL, &frames.SASLChallenge{Challenge: challenge}); err != nil {
			return err
		}
		body, err := c.readSASL(fr)
		if err != nil {
			return err
		}
		r, ok := body.(*frames.SASLResponse)
		if !ok {
			return fmt.Errorf("amqp: expected sasl-response, got %v", body)
		}
		resp = r.Response
	}
}

func codeOf(err error) sasl.Code {
	var se *sasl.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return sasl.CodeAuth
}

func (c *Conn) readSASL(fr *frameReader) (frames.Body, error) {
	f, err := fr.next()
	if err != nil {
		return nil, fmt.Errorf("amqp: SASL: %w", err)
	}
	if f.Type != frames.TypeSASL {
		return nil, fmt.Errorf("amqp: SASL: frame of type %d during SASL", f.Type)
	}
	return frames.Decode(frames.TypeSASL, f.Body)
}

func (c *Conn) readOpen(fr *frameReader) (*frames.Open, error) {
	for {
		f, err := fr.next()
		if err != nil {
			if errors.Is(err, frames.ErrFrameTooLarge) || errors.Is(err, frames.ErrMalformedFrame) {
				c.writeFrameRaw(frames.TypeAMQP, c.localOpen())
				c.writeFrameRaw(frames.TypeAMQP, &frames.Close{Error: frames.Errorf(frames.ErrFramingError, "%v", err)})
			}
			return nil, fmt.Errorf("amqp: reading open: %w", err)
		}
		if len(f.Body) == 0 {
			continue // heartbeat
		}
		body, err := frames.Decode(f.Type, f.Body)
		if err == nil && f.Type != frames.TypeAMQP {
			err = fmt.Errorf("frame type %d", f.Type)
		}
		if err != nil {
			c.writeFrameRaw(frames.TypeAMQP, c.localOpen())
			c.writeFrameRaw(frames.TypeAMQP, &frames.Close{Error: frames.Errorf(frames.ErrDecodeError, "%v", err)})
			return nil, fmt.Errorf("amqp: reading open: %w", err)
		}
		o, ok := body.(*frames.Open)
		if !ok {
			c.writeFrameRaw(frames.TypeAMQP, c.localOpen())
			c.writeFrameRaw(frames.TypeAMQP, &frames.Close{Error: frames.Errorf(frames.ErrIllegalState, "expected open, got %v", body)})
			return nil, fmt.Errorf("amqp: expected open, got %v", body)
		}
		return o, nil
	}
}

func (c *Conn) serverOpen(fr *frameReader) error {
	o, err := c.readOpen(fr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.applyRemoteOpenLocked(o)
	c.mu.Unlock()
	if c.opts.OnOpen != nil {
		if err := c.opts.OnOpen(c, o); err != nil {
			var fe *frames.Error
			if !errors.As(err, &fe) {
				fe = frames.Errorf(frames.ErrNotAllowed, "%v", err)
			}
			c.writeFrameRaw(frames.TypeAMQP, c.localOpen())
			c.writeFrameRaw(frames.TypeAMQP, &frames.Close{Error: fe})
			return fmt.Errorf("amqp: open refused: %w", err)
		}
	}
	c.opened = true
	return c.writeFrameRaw(frames.TypeAMQP, c.localOpen())
}

func (c *Conn) clientHandshake(ctx context.Context) (*frameReader, error) {
	defer c.deadline(ctx)()
	fr := newFrameReader(c.nc, c.opts.MaxFrameSize)
	if c.opts.TLSConfig != nil && c.opts.TLSInBand && c.tlsState == nil {
		// AMQP 1.0 §5.2.1: negotiate the TLS layer with its protocol
		// header, then run TLS over the same socket.
		ph := frames.ProtoHeader(frames.ProtoTLS)
		if err := c.writeRaw(ph[:]); err != nil {
			return nil, err
		}
		if err := c.expectHeader(fr, frames.ProtoTLS); err != nil {
			return nil, err
		}
		cfg := c.opts.TLSConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = c.opts.Hostname
		}
		tc := tls.Client(c.nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("amqp: TLS handshake: %w", err)
		}
		st := tc.ConnectionState()
		c.nc, c.tlsState = tc, &st
		fr = newFrameReader(c.nc, c.opts.MaxFrameSize)
	}
	if c.opts.SASL != nil {
		if err := c.clientSASL(fr); err != nil {
			return nil, err
		}
	}
	ph := frames.ProtoHeader(frames.ProtoAMQP)
	out := frames.AppendFrame(ph[:], frames.TypeAMQP, 0, c.localOpen())
	if err := c.writeRaw(out); err != nil {
		return nil, err
	}
	if err := c.expectHeader(fr, frames.ProtoAMQP); err != nil {
		return nil, err
	}
	o, err := c.readOpen(fr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.applyRemoteOpenLocked(o)
	c.opened = true
	c.mu.Unlock()
	return fr, nil
}

func (c *Conn) expectHeader(fr *frameReader, id byte) error {
	h, err := fr.protoHeader()
	if err != nil {
		return fmt.Errorf("amqp: reading protocol header: %w", err)
	}
	got, err := frames.ParseProtoHeader(h)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocolHeader, err)
	}
	if got != id {
		return fmt.Errorf("%w: server answered with protocol id %d, wanted %d", ErrProtocolHeader, got, id)
	}
	return nil
}

// SASLError is a SASL exchange that ended with a failure outcome.
type SASLError struct {
	Code sasl.Code
	// Detail is the server's error response before the outcome, for the
	// mechanisms that have one (OAUTHBEARER, XOAUTH2); "" otherwise.
	Detail string
}

// Unauthorized reports whether the server refused the credentials
// (outcome auth), rather than failing for another reason.
func (e *SASLError) Unauthorized() bool { return e.Code == sasl.CodeAuth }

func (e *SASLError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("amqp: SASL authentication failed (outcome %s): %s", e.Code, e.Detail)
	}
	return fmt.Sprintf("amqp: SASL authentication failed (outcome %s)", e.Code)
}

func (c *Conn) clientSASL(fr *frameReader) error {
	ph := frames.ProtoHeader(frames.ProtoSASL)
	if err := c.writeRaw(ph[:]); err != nil {
		return err
	}
	if err := c.expectHeader(fr, frames.ProtoSASL); err != nil {
		return err
	}
	body, err := c.readSASL(fr)
	if err != nil {
		return err
	}
	mechs, ok := body.(*frames.SASLMechanisms)
	if !ok {
		return fmt.Errorf("amqp: expected sasl-mechanisms, got %v", body)
	}
	offered := make([]string, len(mechs.Mechanisms))
	for i, m := range mechs.Mechanisms {
		offered[i] = string(m)
	}
	mech, err := sasl.SelectClient(offered, c.opts.SASL)
	if err != nil {
		return err
	}
	ir, err := mech.InitialResponse()
	if err != nil {
		return err
	}
	if ir == nil {
		ir = []byte{}
	}
	if err := c.writeFrameRaw(frames.TypeSASL, &frames.SASLInit{Mechanism: types.Symbol(mech.Name()), InitialResponse: ir, Hostname: c.opts.Hostname}); err != nil {
		return err
	}
	for {
		body, err := c.readSASL(fr)
		if err != nil {
			return err
		}
		switch b := body.(type) {
		case *frames.SASLChallenge:
			resp, err := mech.Step(b.Challenge)
			if err != nil {
				return err
			}
			if err := c.writeFrameRaw(frames.TypeSASL, &frames.SASLResponse{Response: resp}); err != nil {
				return err
			}
		case *frames.SASLOutcome:
			if b.Code != 0 {
				se := &SASLError{Code: sasl.Code(b.Code)}
				if d, ok := mech.(interface{ FailureDetail() string }); ok {
					se.Detail = d.FailureDetail()
				}
				return se
			}
			if err := mech.Verify(b.AdditionalData); err != nil {
				return err
			}
			c.identity = sasl.Identity{Mechanism: mech.Name()}
			return nil
		default:
			return fmt.Errorf("amqp: unexpected SASL frame %v", body)
		}
	}
}
