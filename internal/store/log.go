package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the Log. Compare with errors.Is.
var (
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("store: log closed")
	// ErrNotFound: Get of a key with no live record.
	ErrNotFound = errors.New("store: key not found")
	// ErrTooLarge: a record over MaxDataSize, or a batch over 1 GiB.
	ErrTooLarge = errors.New("store: record too large")
	// ErrCorrupt: Get found a record whose checksum does not match.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrLocked: another Log has the directory open.
	ErrLocked = errors.New("store: directory locked by another process")
	// ErrFailed wraps the write or fsync error that stopped the Log; every
	// write after it fails the same way. Close and Open again.
	ErrFailed = errors.New("store: log failed")
)

// Options configure a Log. The zero value of each field is a sane default.
type Options struct {
	// Dir holds the segment files; it is created if missing.
	Dir string
	// SegmentSize: the head rolls to a new segment when a write would take
	// it past this size. Default 64 MiB; at least 256 B, at most 1 GiB. A
	// record or batch larger than this gets a segment of its own.
	SegmentSize int64
	// NoSync skips every fsync. Only for tests and benchmarks: a process
	// crash loses nothing the kernel has, but a power loss or kernel crash
	// can lose acknowledged records, and Put no longer means durable.
	NoSync bool
	// SyncInterval bounds how long a DeleteAsync tombstone may wait for an
	// fsync when no synchronous write comes along. Default 200 ms.
	SyncInterval time.Duration
	// CompactInterval runs Compact in the background this often; 0 leaves
	// compaction to the caller.
	CompactInterval time.Duration
	// Logger receives recovery and compaction reports. Default: discard.
	Logger *slog.Logger

	// failpoint, when set (tests only), is called at the named injection
	// points; a non-nil error is returned as if the I/O there had failed.
	failpoint func(name string) error
}

// Record is one key and its data, for PutBatch.
type Record struct {
	Key  uint64
	Data []byte
}

// Stats describe the Log at one moment.
type Stats struct {
	Segments int   // segment files in use
	Bytes    int64 // bytes in use in them: headers and records, live or dead

	LiveRecords int    // keys with a live Put
	LiveBytes   int64  // on-disk bytes of those Puts, framing included
	Tombstones  int    // tombstones the index still tracks
	Syncs       uint64 // fsyncs of segment files since Open
	Commits     uint64 // batches written by the committer since Open
	Appended    uint64 // records written since Open (compaction copies included)
}

// Log is the journal. It is safe for concurrent use; doc.go describes the
// locking.
type Log struct {
	opts   Options
	log    *slog.Logger
	lockf  *os.File
	report RecoveryReport

	reqs      chan *request
	closing   chan struct{} // closed by Close
	stopped   chan struct{} // closed when the committer has exited
	closeOnce sync.Once
	closeErr  error

	compactMu   sync.Mutex    // one Compact at a time; taken before mu
	compactDone chan struct{} // closed when the background compactor exited

	mu     sync.RWMutex
	st     state
	head   *segment
	closed bool
	failed error // sticky write/fsync error, wrapped in ErrFailed

	// Owned by the committer goroutine.
	headOff int64  // write offset in head
	dirty   bool   // head has written bytes not yet fsync'd
	nextSeq uint64 // sequence number of the next segment
	buf     []byte
	pend    []update

	syncs    atomic.Uint64
	commits  atomic.Uint64
	appended atomic.Uint64
	unsynced atomic.Int64 // bytes written to the head and not fsync'd yet
}

// Open opens or creates the Log in opts.Dir and recovers its state (see
// Recovery for what was found). Bad content never makes Open fail; I/O
// errors and a locked directory do.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: Options.Dir is empty")
	}
	switch {
	case opts.SegmentSize == 0:
		opts.SegmentSize = 64 << 20
	case opts.SegmentSize < minSegmentSize || opts.SegmentSize > maxSegmentSize:
		return nil, fmt.Errorf("store: SegmentSize %d outside [%d, %d]", opts.SegmentSize, minSegmentSize, maxSegmentSize)
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.failpoint == nil {
		opts.failpoint = envFailpoint()
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	l := &Log{
		opts:    opts,
		log:     opts.Logger,
		reqs:    make(chan *request, 1024),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
		st:      newState(),
	}
	lockf, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	l.lockf = lockf
	if err := l.recover(); err != nil {
		l.releaseFiles()
		return nil, err
	}
	go l.run()
	if opts.CompactInterval > 0 {
		l.compactDone = make(chan struct{})
		go l.compactLoop(opts.CompactInterval)
	}
	return l, nil
}

// Recovery reports what Open found.
func (l *Log) Recovery() RecoveryReport { return l.report }

// Put appends a record for key and returns once it is durable (fsync'd).
// A later Put of the same key supersedes it. Concurrent calls share one
// fsync. If ctx is done before Put returns, the record may or may not be
// written; it was not acknowledged. data is not retained.
func (l *Log) Put(ctx context.Context, key uint64, data []byte) error {
	if len(data) > MaxDataSize {
		return ErrTooLarge
	}
	r := newRequest(ctx, 1, recSize(uint32(len(data))))
	r.add(typePut, key, data)
	return l.do(r)
}

// PutBatch appends recs so that recovery finds all of them or none, and
// returns once they are durable. An empty batch is a no-op.
func (l *Log) PutBatch(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	var size int64
	for _, rec := range recs {
		if len(rec.Data) > MaxDataSize {
			return ErrTooLarge
		}
		size += recSize(uint32(len(rec.Data)))
	}
	if size > maxBatchBytes {
		return ErrTooLarge
	}
	r := newRequest(ctx, len(recs), size)
	for i, rec := range recs {
		typ := byte(typePut)
		if i < len(recs)-1 {
			typ |= flagBatchMore
		}
		r.add(typ, rec.Key, rec.Data)
	}
	return l.do(r)
}

// Delete appends a tombstone for key and returns once it is durable.
// Deleting a key that has no live record is allowed and changes nothing.
func (l *Log) Delete(ctx context.Context, key uint64) error {
	r := newRequest(ctx, 1, recHeaderSize)
	r.add(typeDelete, key, nil)
	return l.do(r)
}

// DeleteAsync queues a tombstone for key without waiting for it to be
// durable; Get stops returning the key once the committer has written it.
// It becomes durable with the next fsync, at most Options.SyncInterval
// later. A crash before that brings the key back: a broker that acks
// with DeleteAsync delivers at least once. A DeleteAsync racing with Close
// may be dropped the same way.
func (l *Log) DeleteAsync(key uint64) error {
	if err := l.err(); err != nil {
		return err
	}
	r := newRequest(context.Background(), 1, recHeaderSize)
	r.add(typeDelete, key, nil)
	r.sync = false
	r.done = nil
	return l.submit(r)
}

// Sync returns once every record queued before the call, DeleteAsync
// tombstones included, is durable.
func (l *Log) Sync(ctx context.Context) error {
	return l.do(newRequest(ctx, 0, 0))
}

// do submits r and waits for the committer's answer.
func (l *Log) do(r *request) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if err := l.submit(r); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-r.ctx.Done():
		return r.ctx.Err()
	case <-l.stopped:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

func (l *Log) submit(r *request) error {
	select {
	case <-l.closing:
		return ErrClosed
	default:
	}
	select {
	case l.reqs <- r:
		return nil
	case <-l.closing:
		return ErrClosed
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// Get returns a copy of the data of key's live record, read from disk.
func (l *Log) Get(key uint64) ([]byte, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	e, ok := l.st.live[key]
	if !ok {
		l.mu.RUnlock()
		return nil, ErrNotFound
	}
	s := l.st.segs[e.seg]
	s.acquire()
	l.mu.RUnlock()
	defer s.release()
	buf := make([]byte, recSize(e.n))
	if _, err := s.f.ReadAt(buf, int64(e.off)); err != nil {
		return nil, fmt.Errorf("store: get %d from %s: %w", key, s.name(), err)
	}
	if err := checkRecord(buf, key, e.n); err != nil {
		return nil, fmt.Errorf("%w: key %d in %s at offset %d: %v", ErrCorrupt, key, s.name(), e.off, err)
	}
	return buf[recHeaderSize:], nil
}

// checkRecord verifies that rec is a valid Put of key with n data bytes.
func checkRecord(rec []byte, key uint64, n uint32) error {
	rh, err := decodeRecHeader(rec[:recHeaderSize])
	if err != nil {
		return err
	}
	if rh.typ != typePut || rh.key != key || rh.n != n {
		return fmt.Errorf("found type %d key %d length %d", rh.typ, rh.key, rh.n)
	}
	return rh.verify(rec[:recHeaderSize], rec[recHeaderSize:])
}

// Stats returns counters; see Stats.
func (l *Log) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	st := Stats{
		Segments:    len(l.st.segs),
		LiveRecords: len(l.st.live),
		LiveBytes:   l.st.liveBytes,
		Tombstones:  len(l.st.tombs),
		Syncs:       l.syncs.Load(),
		Commits:     l.commits.Load(),
		Appended:    l.appended.Load(),
	}
	for _, s := range l.st.segs {
		st.Bytes += s.size
	}
	return st
}

// Close writes what is queued, fsyncs, and releases the files. It waits
// for a running Compact to stop. Calls after Close return ErrClosed.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		close(l.closing)
		if l.compactDone != nil {
			<-l.compactDone
		}
		<-l.stopped
		l.compactMu.Lock()
		defer l.compactMu.Unlock()
		l.mu.Lock()
		l.closed = true
		l.closeErr = l.failed
		l.mu.Unlock()
		l.releaseFiles()
	})
	return l.closeErr
}

// releaseFiles drops the table's reference to every segment (files close
// once readers are done) and unlocks the directory.
func (l *Log) releaseFiles() {
	l.mu.Lock()
	for _, s := range l.st.segs {
		s.release()
	}
	l.st = newState()
	l.mu.Unlock()
	if l.lockf != nil {
		unlockDir(l.lockf)
		l.lockf = nil
	}
}

// err returns the sticky failure, if any.
func (l *Log) err() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.failed != nil {
		return l.failed
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

func (l *Log) inject(name string) error {
	if l.opts.failpoint == nil {
		return nil
	}
	return l.opts.failpoint(name)
}

// compactLoop compacts every interval until Close.
func (l *Log) compactLoop(every time.Duration) {
	defer close(l.compactDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.closing:
			return
		case <-t.C:
			// Close cancels a compaction in progress.
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-l.closing:
					cancel()
				case <-ctx.Done():
				}
			}()
			if err := l.Compact(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
				l.log.Warn("background compaction failed", "err", err)
			}
			cancel()
		}
	}
}
