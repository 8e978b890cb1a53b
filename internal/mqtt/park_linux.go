package mqtt

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// poller is the epoll instance of a server's parked connections
// (park.go), and the goroutine waiting on it.
type poller struct {
	s       *Server
	epfd    int
	stopped atomic.Bool
	mu      sync.Mutex // guards conns
	conns   map[int]parked
}

// parked is a watched descriptor's connection and its parking (the
// event's Pad carries it too, so that an event read before the
// descriptor was removed and reused wakes nobody).
type parked struct {
	c   *conn
	gen uint32
}

// pollInterval bounds how long the poller takes to notice stopPoller:
// closing an epoll descriptor does not end a wait on it.
const pollInterval = time.Second

// stopPoller ends the poller's goroutine (within pollInterval), which
// closes the epoll descriptor, once no connection is parked; a server
// that parked nothing has none.
func (s *Server) stopPoller() {
	if p := s.pollr; p != nil {
		p.stopped.Store(true)
	}
}

// poller returns the server's poller, starting it on first use; nil if
// epoll is not available.
func (s *Server) poller() *poller {
	s.pollOnce.Do(func() {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			s.opts.Logger.Warn("MQTT: no epoll, idle connections keep their goroutine", "err", err)
			return
		}
		s.pollr = &poller{s: s, epfd: epfd, conns: map[int]parked{}}
		go s.pollr.run()
	})
	return s.pollr
}

// add watches fd, once, for c's parking gen.
func (p *poller) add(fd int, c *conn, gen uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.watch(fd, gen); err != nil {
		return err
	}
	p.conns[fd] = parked{c, gen}
	return nil
}

// watch watches fd, once, for the parking or freezing generation gen
// (a frozen connection's: Server.mu is held; a parked one's: add).
func (p *poller) watch(fd int, gen uint32) error {
	if p.stopped.Load() {
		return errors.New("poller stopped")
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(gen)}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// unwatch stops watching a frozen connection's fd; Server.mu is held.
func (p *poller) unwatch(fd int) {
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// dupSocket returns a duplicate of a TCP connection's descriptor, which
// keeps the socket open once the connection is closed (freeze.go).
func dupSocket(tc *net.TCPConn) (int, error) {
	fd, err := socketFD(tc)
	if err != nil {
		return -1, err
	}
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// socketConn returns a net.Conn for the socket of fd, which it closes.
func socketConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	return net.FileConn(f)
}

func closeFD(fd int) { unix.Close(fd) }

// remove stops watching fd for c; the connection's parkState.mu is held.
func (p *poller) remove(fd int, c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns[fd].c != c {
		return // not c's (any more)
	}
	delete(p.conns, fd)
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// run wakes the connections whose sockets become readable, until
// stopPoller.
func (p *poller) run() {
	defer unix.Close(p.epfd)
	events := make([]unix.EpollEvent, 128)
	for !p.stopped.Load() {
		n, err := unix.EpollWait(p.epfd, events, int(pollInterval/time.Millisecond))
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			// Not expected; parked connections must not wait forever:
			// wake them all, and park no more.
			p.stopped.Store(true)
			p.mu.Lock()
			all := make([]parked, 0, len(p.conns))
			for _, w := range p.conns {
				all = append(all, w)
			}
			p.mu.Unlock()
			p.s.opts.Logger.Warn("MQTT poller failed; idle connections keep their goroutine", "err", err, "woken", len(all))
			for _, w := range all {
				w.c.wake(w.gen)
			}
			p.s.mu.Lock()
			p.s.thawAllLocked(false)
			p.s.mu.Unlock()
			return
		}
		for _, ev := range events[:n] {
			if gen := uint32(ev.Pad); gen&frozenGenBit != 0 {
				p.s.thawEvent(ev.Fd, gen)
				continue
			}
			p.mu.Lock()
			w := p.conns[int(ev.Fd)]
			p.mu.Unlock()
			if w.c != nil && w.gen == uint32(ev.Pad) {
				w.c.wake(w.gen)
			}
		}
	}
}
