package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// errClosed: the MQTT connection ended before the exchange completed.
var errClosed = errors.New("bench: MQTT connection closed")

// client311 is a minimal MQTT 3.1.1 client on the project's own codec, for
// servers paho.golang (MQTT 5 only) cannot talk to: CONNECT, SUBSCRIBE,
// PUBLISH at QoS 0/1/2 in both directions, no keep-alive, no session
// resumption.
type client311 struct {
	conn    net.Conn
	wmu     sync.Mutex
	wbuf    []byte
	mu      sync.Mutex
	nextID  uint16
	pending map[uint16]chan error // PUBLISH or SUBSCRIBE awaiting its answer
	inQoS2  map[uint16]bool       // received QoS 2 ids awaiting PUBREL
	granted byte                  // QoS of the last SUBACK
	resumed bool                  // the CONNACK said the server had a session for us
	done    chan struct{}
	err     error
	onMsg   func(payload []byte)
}

func dial311(ctx context.Context, cfg *Config, id string, persistent bool, onMsg func([]byte)) (*client311, error) {
	conn, err := cfg.target.dialTCP(ctx)
	if err != nil {
		return nil, err
	}
	c := &client311{conn: conn, pending: map[uint16]chan error{}, inQoS2: map[uint16]bool{}, done: make(chan struct{}), onMsg: onMsg}
	cp := &packets.Connect{ProtocolVersion: packets.Version311, CleanStart: !persistent, ClientID: id}
	if t := cfg.target; t.user != "" {
		cp.HasUsername, cp.Username = true, t.user
		cp.HasPassword, cp.Password = true, []byte(t.password)
	}
	if err := c.write(cp); err != nil {
		conn.Close()
		return nil, err
	}
	r := packets.NewReader(conn, 0)
	r.Version = packets.Version311
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	p, err := r.ReadPacket()
	stop()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connack: %w", err)
	}
	ca, ok := p.(*packets.Connack)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("got %v instead of CONNACK", p.Type())
	}
	if ca.ReasonCode != 0 {
		conn.Close()
		return nil, fmt.Errorf("connect refused: %v", ca.ReasonCode)
	}
	c.resumed = ca.SessionPresent
	go c.readLoop(r)
	return c, nil
}

func (c *client311) write(p packets.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b, err := packets.Append(c.wbuf[:0], p, packets.Version311)
	if err != nil {
		return err
	}
	c.wbuf = b
	_, err = c.conn.Write(b)
	return err
}

func (c *client311) readLoop(r *packets.Reader) {
	err := c.read(r)
	c.conn.Close()
	c.mu.Lock()
	c.err = err
	for id, ch := range c.pending {
		ch <- errClosed
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
}

func (c *client311) complete(id uint16, err error) {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- err
	}
}

func (c *client311) read(r *packets.Reader) error {
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return err
		}
		switch p := p.(type) {
		case *packets.Publish:
			switch p.QoS {
			case 0:
				c.onMsg(p.Payload)
			case 1:
				c.onMsg(p.Payload)
				err = c.write(&packets.Puback{PacketID: p.PacketID})
			case 2:
				c.mu.Lock()
				seen := c.inQoS2[p.PacketID]
				c.inQoS2[p.PacketID] = true
				c.mu.Unlock()
				if !seen {
					c.onMsg(p.Payload)
				}
				err = c.write(&packets.Pubrec{PacketID: p.PacketID})
			}
		case *packets.Pubrel:
			c.mu.Lock()
			delete(c.inQoS2, p.PacketID)
			c.mu.Unlock()
			err = c.write(&packets.Pubcomp{PacketID: p.PacketID})
		case *packets.Puback:
			c.complete(p.PacketID, nil)
		case *packets.Pubrec:
			err = c.write(&packets.Pubrel{PacketID: p.PacketID})
		case *packets.Pubcomp:
			c.complete(p.PacketID, nil)
		case *packets.Suback:
			var e error
			for _, rc := range p.ReasonCodes {
				if rc >= 0x80 {
					e = fmt.Errorf("subscription refused: %v", rc)
				}
			}
			if e == nil && len(p.ReasonCodes) == 1 {
				c.mu.Lock()
				c.granted = byte(p.ReasonCodes[0]) // [MQTT-3.9.3]: the granted QoS
				c.mu.Unlock()
			}
			c.complete(p.PacketID, e)
		}
		if err != nil {
			return err
		}
	}
}

// exchange sends p with a fresh packet id (set by setID) and waits for the
// answer that completes it.
func (c *client311) exchange(ctx context.Context, p packets.Packet, setID func(uint16)) error {
	ch := make(chan error, 1)
	c.mu.Lock()
	if c.err != nil || c.pending == nil {
		c.mu.Unlock()
		return errClosed
	}
	for {
		c.nextID++
		if c.nextID != 0 && c.pending[c.nextID] == nil {
			break
		}
	}
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	setID(id)
	if err := c.write(p); err != nil {
		c.complete(id, err)
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		select {
		case err := <-ch:
			return err
		default:
			return errClosed
		}
	}
}

func (c *client311) subscribe(ctx context.Context, filter string, qos byte) (byte, error) {
	s := &packets.Subscribe{Subscriptions: []packets.Subscription{{Filter: filter, QoS: qos}}}
	if err := c.exchange(ctx, s, func(id uint16) { s.PacketID = id }); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.granted, nil
}

func (c *client311) publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	p := &packets.Publish{Topic: topic, QoS: qos, Payload: payload}
	if qos == 0 {
		return c.write(p)
	}
	return c.exchange(ctx, p, func(id uint16) { p.PacketID = id })
}

func (c *client311) sessionPresent() bool { return c.resumed }

func (c *client311) close() {
	c.write(&packets.Disconnect{})
	c.conn.Close()
	<-c.done
}
