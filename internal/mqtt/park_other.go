//go:build !linux

package mqtt

// poller: parking needs epoll; elsewhere idle connections keep their
// goroutine.
type poller struct{}

func (s *Server) poller() *poller { return nil }

func (p *poller) add(int, *conn) error { return nil }

func (p *poller) remove(int) {}

func (s *Server) stopPoller() {}
