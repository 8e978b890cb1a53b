package mqtt

import (
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
//   - takeover or shutdown (closeParked), which wake it before they
//     close the socket, so that the loop reads the close and ends the
//     connection as it would have had it been blocked in a read.
//
// Only plain TCP connections park (a TLS connection may hold decrypted
// bytes the socket no longer shows; WebSocket ones are never suspended).
// parkState.mu orders parking against the wake-ups: a connection parks
// only while closing is false, and every wake-up clears parked under the
// lock, so exactly one of them runs the loop again. Lock order:
// parkState.mu, then the poller's lock.

// parkState is a connection's parking state, guarded by mu.
type parkState struct {
	mu      sync.Mutex
	parked  bool
	closing bool // takeover or shutdown: never park again
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
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return false
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
	if err := p.add(fd, c); err != nil {
		c.log.Debug("cannot park", "err", err)
		return false
	}
	ps.parked, ps.fd = true, fd
	if !c.deadline.IsZero() {
		ps.timer = time.AfterFunc(time.Until(c.deadline), c.wake)
	}
	c.cr.park()
	return true
}

// wake runs the packet loop of a parked connection again; it does
// nothing for one that is not parked.
func (c *conn) wake() {
	ps := &c.park_
	ps.mu.Lock()
	defer ps.mu.Unlock()
	c.unparkLocked()
}

func (c *conn) unparkLocked() {
	ps := &c.park_
	if !ps.parked {
		return
	}
	ps.parked = false
	c.s.poller().remove(ps.fd)
	if ps.timer != nil {
		ps.timer.Stop()
		ps.timer = nil
	}
	go c.loop(true)
}

// closeParked closes the socket for takeover or shutdown, waking the
// connection first if it is parked.
func (c *conn) closeParked() {
	ps := &c.park_
	ps.mu.Lock()
	ps.closing = true
	c.unparkLocked()
	ps.mu.Unlock()
	c.nc.Close()
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
