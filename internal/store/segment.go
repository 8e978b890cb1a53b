package store

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

const (
	segSuffix     = ".seg"
	tmpSuffix     = ".seg.tmp"
	corruptSuffix = ".seg.corrupt"
)

// segment is one segment file. size, live and livePuts are guarded by
// Log.mu; the file itself is immutable below size.
type segment struct {
	seq  uint32
	path string
	f    *os.File

	size     int64 // bytes in use: header plus valid, committed records
	live     int64 // bytes of live records (puts and tombstones) in it
	livePuts int   // live Put records in it
	damaged  bool  // recovery found corruption past size

	// refs counts the segment table's reference plus one per reader
	// (Get, Replay, Compact). The file is closed when it drops to zero.
	refs atomic.Int32
}

func newSegment(seq uint32, path string, f *os.File, size int64) *segment {
	s := &segment{seq: seq, path: path, f: f, size: size}
	s.refs.Store(1)
	return s
}

func (s *segment) name() string { return filepath.Base(s.path) }

func (s *segment) acquire() { s.refs.Add(1) }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

func segName(seq uint32) string { return fmt.Sprintf("%016x%s", seq, segSuffix) }

// parseSegName returns the sequence number in a file name of the form
// NNNNNNNNNNNNNNNN<suffix>.
func parseSegName(name, suffix string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, suffix)
	if !ok || len(base) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(base, 16, 64)
	return seq, err == nil
}

// createSegment makes segment seq durably: header into a .tmp file, fsync,
// rename, fsync of the directory. It returns the file opened for writing.
func (l *Log) createSegment(seq uint32) (*segment, error) {
	path := filepath.Join(l.opts.Dir, segName(seq))
	tmp := path[:len(path)-len(segSuffix)] + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: create segment: %w", err)
	}
	fail := func(err error) (*segment, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("store: create segment %s: %w", segName(seq), err)
	}
	if _, err := f.WriteAt(segHeader(uint64(seq)), 0); err != nil {
		return fail(err)
	}
	if err := l.syncFile(f); err != nil {
		return fail(err)
	}
	if err := l.inject("store/beforeSegmentRename"); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if err := l.inject("store/afterRenameBeforeDirSync"); err != nil {
		f.Close()
		return nil, err
	}
	if err := l.syncDir(); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: create segment %s: %w", segName(seq), err)
	}
	return newSegment(seq, path, f, segHeaderSize), nil
}

// syncFile fsyncs f unless Options.NoSync, and counts it.
func (l *Log) syncFile(f *os.File) error {
	if l.opts.NoSync {
		return nil
	}
	l.syncs.Add(1)
	return f.Sync()
}

// syncDir fsyncs the directory, making creations, renames and deletions
// in it durable.
func (l *Log) syncDir() error {
	if l.opts.NoSync {
		return nil
	}
	d, err := os.Open(l.opts.Dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// scanned is one valid record found by scanSegment.
type scanned struct {
	typ byte
	key uint64
	off int64
	n   uint32
}

// scanSegment reads the records of f between the header and size and
// calls fn once per complete unit: a single record, or a whole batch. It
// returns the end of the last complete unit and, if it stopped before size,
// why: a *corruptError for bad content, or the I/O error. It reads the data
// only to check the CRC and never allocates per record.
func scanSegment(f io.ReaderAt, size int64, fn func([]scanned)) (end int64, err error) {
	end = segHeaderSize
	br := bufio.NewReaderSize(io.NewSectionReader(f, segHeaderSize, size-segHeaderSize), int(min(max(size, 4096), 256<<10)))
	var pending []scanned
	var h [recHeaderSize]byte
	off := int64(segHeaderSize)
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			if err == io.EOF {
				if len(pending) > 0 {
					return end, corruptf("offset %d: batch of %d records without its last record", end, len(pending))
				}
				return end, nil
			}
			if err == io.ErrUnexpectedEOF {
				return end, corruptf("offset %d: record header cut short", off)
			}
			return end, err
		}
		rh, err := decodeRecHeader(h[:])
		if err != nil {
			return end, corruptf("offset %d: %v", off, err)
		}
		if off+recHeaderSize+int64(rh.n) > size {
			return end, corruptf("offset %d: record of %d data bytes runs past the end of the file", off, rh.n)
		}
		crc := crc32.Update(0, castagnoli, h[:13])
		for rem := int(rh.n); rem > 0; {
			p, err := br.Peek(min(rem, br.Size()))
			if len(p) == 0 {
				if err == io.EOF {
					return end, corruptf("offset %d: file ends inside the record", off)
				}
				return end, err
			}
			crc = crc32.Update(crc, castagnoli, p)
			br.Discard(len(p))
			rem -= len(p)
		}
		if crc != rh.crc {
			return end, corruptf("offset %d: record CRC mismatch", off)
		}
		pending = append(pending, scanned{typ: rh.typ, key: rh.key, off: off, n: rh.n})
		off += recHeaderSize + int64(rh.n)
		if !rh.more {
			fn(pending)
			pending = pending[:0]
			end = off
		}
	}
}

// errSegmentsExhausted: sequence numbers are kept in 32 bits in the index.
var errSegmentsExhausted = errors.New("store: segment sequence numbers exhausted")

func checkSeq(seq uint64) (uint32, error) {
	if seq == 0 || seq > math.MaxUint32 {
		return 0, errSegmentsExhausted
	}
	return uint32(seq), nil
}

// corruptError describes bad content found in a segment (as opposed to an
// I/O error while reading it).
type corruptError struct{ msg string }

func (e *corruptError) Error() string { return e.msg }

func corruptf(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}
