//go:build !linux

package mqtt

import (
	"errors"
	"net"
)

// poller: parking needs epoll; elsewhere idle connections keep their
// goroutine.
type poller struct{}

func (s *Server) poller() *poller { return nil }

func (p *poller) add(int, *conn, uint32) error { return nil }

func (p *poller) remove(int, *conn) {}

func (s *Server) stopPoller() {}

func (p *poller) watch(int, uint32) error { return errors.ErrUnsupported }

func (p *poller) unwatch(int) {}

func dupSocket(*net.TCPConn) (int, error) { return -1, errors.ErrUnsupported }

func socketConn(int) (net.Conn, error) { return nil, errors.ErrUnsupported }

func closeFD(int) {}
