package router

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// LWTAddress is the last-will service of every address space (EnMasse's
// `$lwt`, research/enmasse.md §6): a client attaches a sender to it and
// sends its will, a message whose properties.to names where to publish
// it. The router keeps the latest will per link and publishes it when
// the link ends abnormally; see the package documentation.
const LWTAddress = "$lwt"

// WillClearSubject is the subject of a message on LWTAddress that clears
// the link's will instead of replacing it.
const WillClearSubject = "will-clear"

// lwtTimeout bounds the publication of one will.
const lwtTimeout = 10 * time.Second

// lwtWill is the will stored for one $lwt link. Only the link's
// connection goroutine touches it (OnMessage, OnDetach).
type lwtWill struct {
	payload []byte // the message as received; nil: no will
	to      string
}

// bindLWT binds a sender link of the client to the last-will service.
// Anyone who may connect may attach; rights are checked per will, on its
// properties.to.
func (r *Router) bindLWT(l *transport.Link, ls *linkState) error {
	ls.lwt = &lwtWill{}
	l.CompleteAttach(nil)
	l.Flow(r.opts.LinkCapacity, false)
	return transport.ErrAttachLater
}

// lwtMessage stores, replaces or clears the will of an $lwt link and
// settles the delivery: accepted, or rejected with the reason.
func (r *Router) lwtMessage(ls *linkState, d *transport.Delivery) {
	m, err := message.Unmarshal(d.Payload())
	if err != nil {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrDecodeError, "%v", err)})
		return
	}
	var to, subject string
	if m.Properties != nil {
		to, subject = m.Properties.To, m.Properties.Subject
	}
	if subject == WillClearSubject {
		ls.lwt.payload, ls.lwt.to = nil, ""
		d.Settle(frames.Accepted{})
		return
	}
	if to == "" {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrInvalidField, "a will needs properties.to, the address to publish it to")})
		return
	}
	if !r.allowed(ls.conn, to, OpSend) {
		d.Settle(frames.Rejected{Error: unauthorized("send to", to)})
		return
	}
	ls.lwt.payload = append([]byte(nil), d.Payload()...)
	ls.lwt.to = to
	d.Settle(frames.Accepted{})
}

// lwtDetached handles the end of an $lwt link: its will is published
// when the link ended with an error (a detach or session end with an
// error, a connection closed with an error, lost or timed out) and
// dropped after a clean detach, end or close.
func (r *Router) lwtDetached(ls *linkState, err error) {
	w := ls.lwt
	if w.payload == nil {
		return
	}
	payload, to := w.payload, w.to
	w.payload = nil
	if err == nil || errors.Is(err, transport.ErrConnClosed) {
		return
	}
	cs := ls.conn
	space := cs.space.cfg().Name
	// The user's rights may have changed since the will was stored.
	if r.opts.Authorizer != nil && cs.user != "" && !r.opts.Authorizer.Allowed(cs.user, space, to, OpSend) {
		r.opts.Logger.Warn("will not published: the user may no longer send to its address",
			"space", space, "user", cs.user, "to", to)
		return
	}
	go r.publishWill(space, to, payload, err)
}

// publishWill sends a will through the anonymous relay of an in-process
// connection to the router, placed in space by its open hostname. It
// runs on its own goroutine: OnDetach must not wait for it.
func (r *Router) publishWill(space, to string, payload []byte, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), lwtTimeout)
	defer cancel()
	log := r.opts.Logger.With("space", space, "to", to)
	serverSide, clientSide := net.Pipe()
	go transport.Accept(ctx, serverSide, transport.Options{
		ContainerID: "enmasse", Handler: r, OnOpen: r.OnOpen, Logger: r.opts.Logger,
	})
	c, err := transport.NewClientConn(ctx, clientSide, transport.Options{ContainerID: "enmasse-lwt", Hostname: space})
	if err != nil {
		clientSide.Close()
		log.Warn("will not published", "err", err)
		return
	}
	defer c.Close(ctx, nil)
	s, err := c.NewSession(ctx)
	if err != nil {
		log.Warn("will not published", "err", err)
		return
	}
	snd, err := s.NewSender(ctx, "", transport.SenderOptions{})
	if err != nil {
		log.Warn("will not published", "err", err)
		return
	}
	d, err := snd.SendAsync(ctx, payload, transport.SendOptions{})
	if err != nil {
		log.Warn("will not published", "err", err)
		return
	}
	select {
	case <-d.Done():
	case <-ctx.Done():
		log.Warn("will not published: no outcome", "err", ctx.Err())
		return
	}
	if st, _ := d.RemoteState(); st != nil {
		if _, ok := st.(frames.Accepted); !ok {
			if _, ok := st.(*frames.Accepted); !ok {
				log.Warn("will refused", "outcome", st)
				return
			}
		}
	}
	log.Debug("will published", "cause", cause)
}
