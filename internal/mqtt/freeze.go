package mqtt

import (
	"container/heap"
	"hash/maphash"
	"net"
	"time"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// Freezing: a parked connection (park.go) over plain TCP goes one step
// further and keeps no conn at all. Its socket leaves Go's network poller
// (a duplicate of the descriptor stays open in the server's epoll set,
// and the net.Conn is closed, which frees the runtime's poll descriptor
// and the net package's socket objects), and what the connection must
// remember — client identifier, user, address space, keep-alive, protocol
// version and negotiated limits, the claim to its AMQP connection — is
// kept in one frozen record. Rare state (a will, topic aliases, QoS 2
// exchanges waiting for PUBREL) goes along in frozenExtra; most idle
// clients have none. A frozen connection costs a few hundred bytes where
// a parked one costs kilobytes.
//
// A frozen connection is thawed — a new conn built from the record on a
// new net.Conn for the same socket, its packet loop run on a new
// goroutine, as a parked connection is woken — by the first of: the
// socket becoming readable (an epoll event), its deadline (keep-alive or
// credentials expiry; one timer for all frozen connections, over a heap
// of deadlines), a takeover of its client identifier (register), or
// Shutdown. Server.mu guards the frozen tables and the heap; the
// connection's own tables (conns, clients) hold a connection either live
// or frozen, never both, and thawing moves it back under the same lock.
// Each freezing has a generation (the epoll event's and the heap entry's),
// so a wake-up for an earlier freezing of a descriptor number thaws
// nobody. TLS connections park but do not freeze: crypto/tls keeps its
// state inside its Conn.

// frozenGenBit marks the generation of a frozen connection in an epoll
// event; a parked connection's generations stay below it.
const frozenGenBit = 1 << 31

// frozen is a frozen connection's state, kept small (128 bytes): the
// deadline is in nanoseconds since Server.epoch, on the monotonic clock
// as a parked connection's is (a step of the wall clock must not end
// every frozen connection at once), the credentials' expiry in Unix
// nanoseconds (it is a wall-clock time), 0 for none; the keep-alive is in
// seconds (as CONNECT and CONNACK give it); what only a will needs is in
// extra.
type frozen struct {
	deadline        int64
	expires         int64
	clientID        string
	user            string
	space           string
	susp            Suspension
	extra           *frozenExtra // nil: none of it
	fd              int32
	gen             uint32
	connectExpiry   uint32
	clientMaxPacket uint32
	semCap          uint32 // in-flight window to the client (cap of conn.sem)
	noLocalSubs     int32
	keepAlive       uint16
	window          uint16 // link credit of a subscription (conn.window, at most maxCredit)
	aliasMax        uint16
	nextID          uint16
	version         byte
	flags           uint8
}

const (
	frozenCleanStart = 1 << iota
	frozenNoProblemInfo
)

// frozenExtra is the state few idle connections have.
type frozenExtra struct {
	will       *packets.Publish
	cred       Credentials // the will's own connection (will.go)
	aliases    map[uint16]string
	outAliases map[string]uint16
	qos2In     map[uint16]*qos2State
}

// freezeMemoryBurst is how many connections must freeze before
// Options.AfterFreezeBurst is called, once freezing has paused for
// freezeSettle, and no sooner than freezeBurstGap after the last call: a
// server with a steady churn of clients (and perhaps a large heap, which
// a forced collection walks) calls it at most once a minute.
const (
	freezeMemoryBurst = 1000
	freezeSettle      = 500 * time.Millisecond
	freezeBurstGap    = time.Minute
)

// freeze freezes c, parked-to-be over plain TCP, if it can; it reports
// whether it did (the caller returns then: c is finished). Loop goroutine
// only, with park's conditions checked.
func (c *conn) freeze(tc *net.TCPConn) bool {
	if c.session != nil {
		return false
	}
	c.mu.Lock()
	busy := len(c.subs) > 0 || len(c.inflight) > 0
	c.mu.Unlock()
	// wbuf under wmu: Shutdown's DISCONNECT may be being written from
	// another goroutine (freeze then fails on s.closed below).
	c.wmu.Lock()
	busy = busy || len(c.wbuf) > 0
	c.wmu.Unlock()
	if busy {
		return false
	}
	s := c.s
	p := s.poller()
	if p == nil {
		return false
	}
	f := c.frozenState()
	ps := &c.park_
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closing {
		return false
	}
	fd, err := dupSocket(tc)
	if err != nil {
		return false // closed meanwhile, or out of descriptors: park instead
	}
	id := sessionID{c.space, c.clientID}
	s.mu.Lock()
	if s.closed || s.clients[id] != c {
		// Shutting down, or being taken over: takeOver or shutdown
		// follows, and must find c.
		s.mu.Unlock()
		closeFD(fd)
		return false
	}
	if !s.frozen.add(f) {
		// Another frozen connection's key (a hash collision, or a
		// connection that has not ended yet): park instead.
		s.mu.Unlock()
		closeFD(fd)
		return false
	}
	s.frozenGen = (s.frozenGen + 1) &^ frozenGenBit
	f.fd, f.gen = int32(fd), s.frozenGen|frozenGenBit
	if err := p.watch(fd, f.gen); err != nil {
		s.frozen.remove(f)
		s.mu.Unlock()
		closeFD(fd)
		c.log.Debug("cannot freeze", "err", err)
		return false
	}
	delete(s.conns, c)
	delete(s.clients, id)
	s.setFrozenFD(f.fd, f)
	if f.deadline != 0 {
		s.scheduleThawLocked(f)
	}
	s.freezesSinceBurst++
	if s.freezesSinceBurst == s.freezeBurst && s.opts.AfterFreezeBurst != nil {
		s.burstTimer = time.AfterFunc(freezeSettle, s.burstSettled)
	}
	s.lastFreeze = time.Now()
	s.mu.Unlock()
	// c is finished: nothing else holds it. Its socket stays open
	// through fd.
	ps.closing = true
	c.cr.park()
	c.r.Release()
	c.cancel()
	c.nc.Close()
	return true
}

// frozenState is c's record.
func (c *conn) frozenState() *frozen {
	f := &frozen{
		clientID: c.clientID, user: c.user, space: c.space, susp: c.susp,
		connectExpiry: c.connectExpiry, clientMaxPacket: uint32(c.clientMaxPacket), semCap: uint32(cap(c.sem)),
		noLocalSubs: c.noLocalSubs.Load(), keepAlive: uint16(c.keepAlive / time.Second), window: uint16(c.window),
		aliasMax: c.aliasMax, nextID: c.nextID, version: c.version,
	}
	if !c.deadline.IsZero() {
		f.deadline = max(int64(c.deadline.Sub(c.s.epoch)), 1)
	}
	if !c.expires.IsZero() {
		f.expires = c.expires.UnixNano()
	}
	if c.cleanStart {
		f.flags |= frozenCleanStart
	}
	if c.noProblemInfo {
		f.flags |= frozenNoProblemInfo
	}
	if c.will != nil || len(c.aliases) > 0 || len(c.outAliases) > 0 || len(c.qos2In) > 0 {
		f.extra = &frozenExtra{will: c.will, cred: c.cred, aliases: c.aliases, outAliases: c.outAliases, qos2In: c.qos2In}
	}
	return f
}

// thawLocked turns f back into a connection, on a new net.Conn for its
// socket, and runs its packet loop on a new goroutine; closing: it is
// being taken over or shut down, and never parks again. Server.mu held.
func (s *Server) thawLocked(f *frozen, closing bool) *conn {
	id := sessionID{f.space, f.clientID}
	s.frozen.remove(f)
	s.frozenFD[f.fd] = nil
	s.pollr.unwatch(int(f.fd))
	nc, err := socketConn(int(f.fd))
	if err != nil {
		// Out of descriptors, say: the connection ends as if its
		// socket had failed (the will goes out).
		nc = brokenConn{err}
	}
	c := f.conn(s, nc)
	c.park_.closing = closing
	s.conns[c] = struct{}{}
	s.clients[id] = c
	go c.loop(true)
	return c
}

// conn is the connection f was frozen from, on nc.
func (f *frozen) conn(s *Server, nc net.Conn) *conn {
	c := newConn(s, nc, "client_id", f.clientID)
	c.version, c.clientID, c.user, c.space = f.version, f.clientID, f.user, f.space
	c.keepAlive, c.susp, c.connectExpiry = time.Duration(f.keepAlive)*time.Second, f.susp, f.connectExpiry
	c.clientMaxPacket, c.window, c.aliasMax, c.nextID = int(f.clientMaxPacket), uint32(f.window), f.aliasMax, f.nextID
	c.noLocalSubs.Store(f.noLocalSubs)
	c.cleanStart = f.flags&frozenCleanStart != 0
	c.noProblemInfo = f.flags&frozenNoProblemInfo != 0
	c.cred = Credentials{ClientID: f.clientID, RemoteAddr: nc.RemoteAddr()}
	if x := f.extra; x != nil {
		c.will, c.aliases, c.outAliases, c.qos2In = x.will, x.aliases, x.outAliases, x.qos2In
		c.cred = x.cred
	}
	if f.deadline != 0 {
		c.deadline = s.epoch.Add(time.Duration(f.deadline))
	}
	if f.expires != 0 {
		c.expires = time.Unix(0, f.expires)
	}
	c.releasing, c.released = true, true
	c.connacked = true // not shared yet
	c.sem = make(chan struct{}, f.semCap)
	c.cr = newConnReader(nc)
	c.r = packets.NewReader(c.cr, s.opts.MaxPacketSize)
	c.r.Version = f.version
	return c
}

// thawEvent thaws the connection frozen on fd in generation gen, if it
// still is: the poller saw its socket become readable.
func (s *Server) thawEvent(fd int32, gen uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.frozenAt(fd); f != nil && f.gen == gen {
		s.thawLocked(f, false)
	}
}

// frozenAt is the connection frozen on fd, or nil. Server.mu held.
func (s *Server) frozenAt(fd int32) *frozen {
	if int(fd) < len(s.frozenFD) {
		return s.frozenFD[fd]
	}
	return nil
}

// setFrozenFD records f as frozen on fd. Server.mu held.
func (s *Server) setFrozenFD(fd int32, f *frozen) {
	if n := int(fd) + 1; n > len(s.frozenFD) {
		s.frozenFD = append(s.frozenFD, make([]*frozen, max(n-len(s.frozenFD), len(s.frozenFD)/2))...)
	}
	s.frozenFD[fd] = f
}

// thawAllLocked thaws every frozen connection; closing as for
// thawLocked. Server.mu held.
func (s *Server) thawAllLocked(closing bool) {
	for _, f := range s.frozen.m {
		s.thawLocked(f, closing)
	}
}

// frozenIndex finds frozen connections by address space and client
// identifier. Its keys are a hash of the two, 16 bytes a slot where a
// sessionID key would take 40; the record itself tells whose it is, and
// a second connection whose hash is taken does not freeze.
type frozenIndex struct {
	seed maphash.Seed
	m    map[uint64]*frozen
}

func newFrozenIndex() frozenIndex {
	return frozenIndex{seed: maphash.MakeSeed(), m: map[uint64]*frozen{}}
}

func (x *frozenIndex) key(space, clientID string) uint64 {
	return maphash.Comparable(x.seed, sessionID{space, clientID})
}

// get returns the connection frozen with id, or nil.
func (x *frozenIndex) get(id sessionID) *frozen {
	if f := x.m[x.key(id.space, id.clientID)]; f != nil && f.space == id.space && f.clientID == id.clientID {
		return f
	}
	return nil
}

// add indexes f, unless its key is taken.
func (x *frozenIndex) add(f *frozen) bool {
	k := x.key(f.space, f.clientID)
	if x.m[k] != nil {
		return false
	}
	x.m[k] = f
	return true
}

func (x *frozenIndex) remove(f *frozen) {
	if k := x.key(f.space, f.clientID); x.m[k] == f {
		delete(x.m, k)
	}
}

// thawEntry is a frozen connection's deadline in the heap.
type thawEntry struct {
	at  int64
	fd  int32
	gen uint32
}

// thawHeap orders deadlines, earliest first. Entries of connections
// thawed since stay until they come up, or until the heap is rebuilt
// (scheduleThawLocked).
type thawHeap []thawEntry

func (h thawHeap) Len() int           { return len(h) }
func (h thawHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h thawHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *thawHeap) Push(x any)        { *h = append(*h, x.(thawEntry)) }
func (h *thawHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// scheduleThawLocked thaws f at its deadline. Server.mu held.
func (s *Server) scheduleThawLocked(f *frozen) {
	if len(s.thawAt) > 2*len(s.frozen.m)+64 {
		// Mostly stale entries (clients that keep waking up before their
		// deadline): keep the live ones.
		live := s.thawAt[:0]
		for _, e := range s.thawAt {
			if g := s.frozenAt(e.fd); g != nil && g.gen == e.gen {
				live = append(live, e)
			}
		}
		clear(s.thawAt[len(live):])
		s.thawAt = live
		heap.Init(&s.thawAt)
	}
	heap.Push(&s.thawAt, thawEntry{at: f.deadline, fd: f.fd, gen: f.gen})
	if s.thawAt[0].gen != f.gen || s.thawAt[0].fd != f.fd {
		return // an earlier deadline has the timer
	}
	d := time.Duration(f.deadline) - time.Since(s.epoch)
	if s.thawTimer == nil {
		s.thawTimer = time.AfterFunc(d, s.thawDue)
	} else {
		s.thawTimer.Reset(d)
	}
}

// thawDue thaws the frozen connections whose deadline has come (their
// loop finds it passed), and sets the timer for the next one.
func (s *Server) thawDue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return // Shutdown thawed them all
	}
	now := int64(time.Since(s.epoch))
	for len(s.thawAt) > 0 && s.thawAt[0].at <= now {
		e := heap.Pop(&s.thawAt).(thawEntry)
		if f := s.frozenAt(e.fd); f != nil && f.gen == e.gen {
			s.thawLocked(f, false)
		}
	}
	if len(s.thawAt) > 0 {
		s.thawTimer.Reset(time.Duration(s.thawAt[0].at - now))
	}
}

// burstSettled calls Options.AfterFreezeBurst once freezing has paused
// for freezeSettle after a burst of freezeMemoryBurst connections.
func (s *Server) burstSettled() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	wait := freezeSettle - time.Since(s.lastFreeze)
	if !s.lastBurst.IsZero() {
		wait = max(wait, s.burstGap-time.Since(s.lastBurst))
	}
	if wait > 0 {
		s.burstTimer.Reset(wait)
		s.mu.Unlock()
		return
	}
	s.freezesSinceBurst = 0
	s.lastBurst = time.Now()
	s.mu.Unlock()
	s.opts.AfterFreezeBurst()
}

// brokenConn stands for a socket that could not be taken back from the
// poller: every read and write fails with err.
type brokenConn struct{ err error }

func (b brokenConn) Read([]byte) (int, error)         { return 0, b.err }
func (b brokenConn) Write([]byte) (int, error)        { return 0, b.err }
func (b brokenConn) Close() error                     { return nil }
func (b brokenConn) LocalAddr() net.Addr              { return brokenAddr{} }
func (b brokenConn) RemoteAddr() net.Addr             { return brokenAddr{} }
func (b brokenConn) SetDeadline(time.Time) error      { return nil }
func (b brokenConn) SetReadDeadline(time.Time) error  { return nil }
func (b brokenConn) SetWriteDeadline(time.Time) error { return nil }

type brokenAddr struct{}

func (brokenAddr) Network() string { return "tcp" }
func (brokenAddr) String() string  { return "unknown" }
