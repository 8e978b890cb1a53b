package mqtt

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Parking: a suspended client (idle.go) that is still silent needs no
// goroutine either. Its packet loop, about to block for the next packet
// with nothing buffered, hands the socket to the server's poller
// (park_linux.go: one epoll instance and one goroutine for all parked
// connections) and returns; the goroutine's stack goes with it. The
// connection is woken, and its loop run again on a new goroutine, by the
// first of:
//
//   - the socket becoming readable (data, EOF or an error);
//   - its keep-alive deadline (a timer), so the loop finds it passed;
//   - takeover or shutdown (stopParking), which wake it before they
//     write their DISCONNECT and close the socket, so that the loop reads
//     the close and ends the connection as it would have had it been
//     blocked in a read, and a closed descriptor never stays in the
//     poller.
//
// TCP and TLS connections park; WebSocket ones are never suspended. A
// TLS connection may hold a whole record it read from the socket along
// with an earlier one, which epoll would never report: tlsHolds reads
// with a deadline in the past first, and such a record keeps the
// connection awake.
// parkState.mu orders parking against the wake-ups: a connection parks
// only while closing is false, and every wake-up clears parked under the
// lock, so exactly one of them runs the loop again; each parking has a
// generation (parkState.gen, also in its epoll event and its timer), and a
// wake-up meant for an earlier one — a timer that fired as it was
// stopped, an event read for a descriptor since closed and reused — wakes
// nobody. Lock order: parkState.mu, then the poller's lock.

// parkState is a connection's parking state, guarded by mu.
type parkState struct {
	mu      sync.Mutex
	parked  bool
	closing bool   // takeover or shutdown: never park again
	gen     uint32 // counts parkings; a wake-up for an earlier one is stale
	fd      int
	timer   *time.Timer
}

// park parks the connection if it can: suspended, plain TCP, and a
// poller available. It reports whether it did; the caller returns then.
// Loop goroutine only.
func (c *conn) park() bool {
	if c.amqp != nil || c.susp == nil || !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		return false
	}
	var tc *net.TCPConn
	switch nc := c.nc.(type) {
	case *net.TCPConn:
		if c.freeze(nc) {
			return true
		}
		tc = nc
	case *tls.Conn:
		raw, ok := nc.NetConn().(*net.TCPConn)
		if !ok || c.tlsHolds() {
			return false
		}
		tc = raw
	default:
		return false // WebSocket
	}
	p := c.s.poller()
	if p == nil {
		return false
	}
	ps := &c.park_
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closing {
		return false
	}
	fd, err := socketFD(tc)
	if err != nil {
		return false // closed meanwhile: the read will tell
	}
	ps.gen++
	gen := ps.gen
	if err := p.add(fd, c, gen); err != nil {
		c.log.Debug("cannot park", "err", err)
		return false
	}
	ps.parked, ps.fd = true, fd
	if !c.deadline.IsZero() {
		ps.timer = time.AfterFunc(time.Until(c.deadline), func() { c.wake(gen) })
	}
	c.cr.park()
	c.r.Release()
	return true
}

// tlsHolds reports whether a TLS connection holds bytes that its socket
// no longer shows, which epoll would never report: a record read from
// the socket together with an earlier one. A read that may not wait
// decrypts such a record (now buffered in cr: true); a timeout means
// nothing is held, or only part of a record whose rest will make the
// socket readable (false). An error is left for the loop's read, which
// gets it again (true).
func (c *conn) tlsHolds() bool {
	c.nc.SetReadDeadline(time.Unix(1, 0))
	return !isTimeout(c.cr.wait())
}

// wake runs the packet loop of a connection again if it is still in the
// parking gen; a stale wake-up (a timer that fired as it was stopped, an
// event for a descriptor since reused) does nothing.
func (c *conn) wake(gen uint32) {
	ps := &c.park_
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.gen == gen {
		c.unparkLocked()
	}
}

func (c *conn) unparkLocked() {
	ps := &c.park_
	if !ps.parked {
		return
	}
	ps.parked = false
	c.s.poller().remove(ps.fd, c)
	if ps.timer != nil {
		ps.timer.Stop()
		ps.timer = nil
	}
	go c.loop(true)
}

// stopParking wakes the connection if it is parked and keeps it from
// parking again: takeover and shutdown, before anything (their
// DISCONNECT's failed write) may close the socket, so that a closed
// descriptor is never left in the poller, where its number could be
// reused.
func (c *conn) stopParking() {
	ps := &c.park_
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.closing = true
	c.unparkLocked()
}

// socketFD returns the descriptor of a TCP connection; it stays valid
// until the connection is closed, which a parked connection's never is
// before it is woken.
func socketFD(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, err
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		return 0, err
	}
	return fd, nil
}
