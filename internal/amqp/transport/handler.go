package transport

import "github.com/enmasse-go/enmasse/internal/amqp/frames"

// Handler receives the events of a connection. All methods run on the
// connection's reader goroutine, one at a time, without any lock held; they
// may call any method of this package. They should not block for long: the
// connection reads no frames meanwhile.
type Handler interface {
	// OnBegin is called when the peer begins a session. Returning an error
	// ends the session with it.
	OnBegin(s *Session) error
	// OnAttach is called when the peer attaches a link. The handler may
	// adjust the local terminus (l.SetLocalSource/SetLocalTarget, settle
	// modes, max message size) and returns nil to accept, or an error
	// (preferably a *frames.Error) to refuse: the engine then answers with
	// a null terminus and detaches with the error (AMQP 1.0 §2.6.3). A
	// handler may also return ErrAttachLater and call l.CompleteAttach
	// itself later.
	OnAttach(l *Link) error
	// OnFlow is called when the peer changes a link's flow state. For a
	// link where we send, credit may have arrived (l.Credit) or the peer
	// asks to drain; for a link where we receive, a drain has completed
	// or the peer reports available messages.
	OnFlow(l *Link)
	// OnMessage is called on a link where we receive, with a complete
	// message. The handler settles it now or later (Delivery.Settle).
	OnMessage(l *Link, d *Delivery)
	// OnDisposition is called on a link where we send, when the peer
	// updates the state of d or settles it (d.RemoteState,
	// d.RemoteSettled).
	OnDisposition(l *Link, d *Delivery)
	// OnDetach is called when a link is detached, by the peer or because
	// of an error; err is nil for a clean detach. Unsettled deliveries of
	// the link are reported through their RemoteSettled being false.
	OnDetach(l *Link, err error)
	// OnEnd is called when a session has ended.
	OnEnd(s *Session, err error)
	// OnClose is called once, when the connection has ended.
	OnClose(c *Conn, err error)
}

// NopHandler accepts sessions, refuses links the peer attaches and ignores
// everything else. Embed it to implement only some events.
type NopHandler struct{}

func (NopHandler) OnBegin(*Session) error { return nil }
func (NopHandler) OnAttach(l *Link) error {
	return frames.Errorf(frames.ErrNotImplemented, "this endpoint does not accept links")
}
func (NopHandler) OnFlow(*Link)                   {}
func (NopHandler) OnMessage(*Link, *Delivery)     {}
func (NopHandler) OnDisposition(*Link, *Delivery) {}
func (NopHandler) OnDetach(*Link, error)          {}
func (NopHandler) OnEnd(*Session, error)          {}
func (NopHandler) OnClose(*Conn, error)           {}
