package mqtt

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// poller is the epoll instance of a server's parked connections
// (park.go), and the goroutine waiting on it.
type poller struct {
	epfd  int
	mu    sync.Mutex // guards conns
	conns map[int]*conn
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
		s.pollr = &poller{epfd: epfd, conns: map[int]*conn{}}
		go s.pollr.run()
	})
	return s.pollr
}

// add watches fd, once, for c.
func (p *poller) add(fd int, c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	p.conns[fd] = c
	return nil
}

// remove stops watching fd; the connection's parkState.mu is held.
func (p *poller) remove(fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, fd)
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// run wakes the connections whose sockets become readable. It runs for
// the life of the process: parked connections are woken and closed by
// Shutdown, and an idle epoll instance costs nothing.
func (p *poller) run() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			p.mu.Lock()
			c := p.conns[int(ev.Fd)]
			p.mu.Unlock()
			if c != nil {
				// A stale event (the connection was woken otherwise and
				// its descriptor reused by another parked one) wakes that
				// one for nothing: it parks again.
				c.wake()
			}
		}
	}
}

// parked returns the number of parked connections (tests).
func (s *Server) parked() int {
	p := s.poller()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}
