package store

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// RecoveryReport says what Open found on disk.
type RecoveryReport struct {
	Segments    int // segments in use after recovery, a new head included
	Records     int // valid records read
	LiveRecords int // keys with a live Put
	// TruncatedBytes were cut off the end of the newest segment: a torn
	// write, or an incomplete batch. TruncatedSegment names the file.
	TruncatedBytes   int64
	TruncatedSegment string
	// Corrupt lists damaged and quarantined segments (see doc.go).
	Corrupt []Corruption
	// RemovedTemp lists leftover *.seg.tmp files that were deleted.
	RemovedTemp []string
}

// Clean reports whether recovery lost nothing.
func (r RecoveryReport) Clean() bool { return r.TruncatedBytes == 0 && len(r.Corrupt) == 0 }

// Corruption is bad content found in a segment other than a torn tail.
type Corruption struct {
	Segment     string // file name, e.g. 0000000000000003.seg
	Offset      int64  // end of the valid prefix that is kept
	LostBytes   int64  // bytes from Offset to the end of the file, not used
	Quarantined bool   // the file was renamed to *.seg.corrupt (bad header)
	Reason      string
}

// recover rebuilds the index from the segment files and opens the head.
func (l *Log) recover() error {
	dir := l.opts.Dir
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var seqs []uint64
	var maxSeq uint64
	// New segments get numbers above every name in use, quarantined ones
	// included; numbers past 32 bits are never ours (they get quarantined)
	// and cannot collide.
	taken := func(seq uint64) {
		if seq <= math.MaxUint32 {
			maxSeq = max(maxSeq, seq)
		}
	}
	dirChanged := false
	for _, e := range ents {
		name := e.Name()
		if seq, ok := parseSegName(name, tmpSuffix); ok {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			l.report.RemovedTemp = append(l.report.RemovedTemp, name)
			dirChanged = true
			taken(seq)
		} else if seq, ok := parseSegName(name, corruptSuffix); ok {
			taken(seq)
		} else if seq, ok := parseSegName(name, segSuffix); ok {
			seqs = append(seqs, seq)
			taken(seq)
		}
	}
	slices.Sort(seqs)
	var last *segment
	for i, seq := range seqs {
		s, quarantined, err := l.loadSegment(seq, i == len(seqs)-1)
		if err != nil {
			return err
		}
		dirChanged = dirChanged || quarantined
		if i == len(seqs)-1 {
			last = s
		}
	}
	l.nextSeq = maxSeq + 1
	if last != nil {
		l.head, l.headOff = last, last.size
	} else {
		seq, err := checkSeq(l.nextSeq)
		if err != nil {
			return err
		}
		s, err := l.createSegment(seq)
		if err != nil {
			return err
		}
		l.nextSeq++
		l.st.addSeg(s)
		l.head, l.headOff = s, s.size
		dirChanged = false // createSegment synced the directory
	}
	if dirChanged {
		if err := l.syncDir(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	l.report.Segments = len(l.st.segs)
	l.report.LiveRecords = len(l.st.live)
	l.log.Info("store: recovered", "dir", dir, "segments", l.report.Segments,
		"records", l.report.Records, "live", l.report.LiveRecords)
	return nil
}

// loadSegment opens segment seq, checks its header and applies its
// records to the index. A bad header quarantines the file (s == nil). The
// newest segment is opened for writing and its torn tail truncated.
func (l *Log) loadSegment(seq uint64, newest bool) (s *segment, quarantined bool, err error) {
	name := fmt.Sprintf("%016x%s", seq, segSuffix) // seq may not fit segName's uint32
	path := filepath.Join(l.opts.Dir, name)
	flag := os.O_RDONLY
	if newest {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, false, fmt.Errorf("store: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("store: %w", err)
	}
	size := fi.Size()
	hdr := make([]byte, segHeaderSize)
	n, err := f.ReadAt(hdr, 0)
	if n < segHeaderSize && err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, false, fmt.Errorf("store: read %s: %w", name, err)
	}
	seq32, serr := checkSeq(seq)
	herr := checkSegHeader(hdr[:n], seq)
	if serr != nil || herr != nil {
		f.Close()
		reason := herr
		if reason == nil {
			reason = serr
		}
		return nil, true, l.quarantine(name, size, reason)
	}
	s = newSegment(seq32, path, f, segHeaderSize)
	l.st.addSeg(s)
	end, err := scanSegment(f, size, func(recs []scanned) {
		l.st.applyScanned(seq32, recs)
		l.report.Records += len(recs)
	})
	s.size = end
	if err == nil {
		return s, false, nil
	}
	var ce *corruptError
	if !errors.As(err, &ce) {
		return nil, false, fmt.Errorf("store: read %s: %w", name, err)
	}
	if !newest {
		s.damaged = true
		l.report.Corrupt = append(l.report.Corrupt, Corruption{
			Segment: name, Offset: end, LostBytes: size - end, Reason: ce.msg,
		})
		l.log.Warn("store: corrupt segment; keeping its valid prefix", "segment", name,
			"offset", end, "lost_bytes", size-end, "reason", ce.msg)
		return s, false, nil
	}
	if err := f.Truncate(end); err != nil {
		return nil, false, fmt.Errorf("store: truncate %s: %w", name, err)
	}
	if err := l.syncFile(f); err != nil {
		return nil, false, fmt.Errorf("store: fsync %s: %w", name, err)
	}
	l.report.TruncatedBytes, l.report.TruncatedSegment = size-end, name
	l.log.Warn("store: truncated torn tail", "segment", name, "offset", end,
		"bytes", size-end, "reason", ce.msg)
	return s, false, nil
}

// quarantine renames a segment with a bad header to *.seg.corrupt.
func (l *Log) quarantine(name string, size int64, reason error) error {
	path := filepath.Join(l.opts.Dir, name)
	if err := os.Rename(path, path+".corrupt"); err != nil {
		return fmt.Errorf("store: quarantine %s: %w", name, err)
	}
	l.report.Corrupt = append(l.report.Corrupt, Corruption{
		Segment: name, LostBytes: size, Quarantined: true, Reason: reason.Error(),
	})
	l.log.Warn("store: quarantined segment", "segment", name, "file", name+".corrupt",
		"bytes", size, "reason", reason)
	return nil
}
