//go:build !linux

package mqtt

// poller: parking needs epoll; elsewhere idle connections keep their
// goroutine.
type poller struct{}

func (s *Server) poller() *poller { return nil }

func (p *poller) add(int, *conn, uint32) error { return nil }

func (p *poller) remove(int, *conn) {}

func (s *Server) stopPoller() {}
