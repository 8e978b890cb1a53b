// Package store is the broker's durable message journal: an append-only,
// segmented, checksummed log of opaque records keyed by uint64, with group
// commit, crash recovery and compaction.
//
// The broker stores enqueues, acknowledgements, delivery counts and
// subscription state as records. A record is a Put (key, data) or a Delete
// (key) tombstone. The newest record for a key decides its state: a Put
// supersedes every older Put of the same key, a Delete removes the key.
//
// # Directory layout
//
// Options.Dir holds:
//
//	LOCK                   flock(2)ed while a Log is open (ErrLocked otherwise)
//	0000000000000001.seg   segment files, named by a 64-bit sequence number
//	0000000000000002.seg   in 16 lower-case hex digits; higher = newer
//	000000000000000N.seg   the newest segment is the head; appends go here
//	*.seg.tmp              a segment being created; removed by recovery
//	*.seg.corrupt          a quarantined segment; ignored, kept for an operator
//
// Sequence numbers only grow and are never reused, even after a segment is
// deleted. The position (segment number, byte offset) of a record therefore
// totally orders all records ever written: that is append order.
//
// # Segment file
//
// Every segment starts with a 32-byte header. Integers are little-endian.
//
//	off size field
//	  0    8 magic "ENMJRNL\x00"
//	  8    2 format version, 1
//	 10    2 header size, 32
//	 12    4 flags, 0 (reserved)
//	 16    8 sequence number; must equal the one in the file name
//	 24    4 CRC32-C (Castagnoli) of bytes 0..23
//	 28    4 zero
//
// Records follow back to back, without padding, up to the end of the file.
//
// # Record framing
//
//	off size field
//	  0    4 data length n (at most MaxDataSize)
//	  4    1 type: 1 = put, 2 = delete; bit 0x80 = "batch continues"
//	  5    8 key
//	 13    4 CRC32-C over bytes 0..12 followed by the n data bytes
//	 17    n data (empty for a delete)
//
// A PutBatch of n records is written as n consecutive records of which the
// first n-1 carry the 0x80 bit. Recovery applies such a run only when its
// closing record (bit clear) is valid too, so a batch is all or nothing. A
// batch never spans two segments. Records written by group commit for
// different callers are independent and never carry the bit.
//
// A record is valid when its type is known, its length fits in the file and
// its CRC matches. A run of zero bytes is never valid (CRC32-C of 13 zero
// bytes is not zero, and type 0 is unknown).
//
// # Durability protocol
//
// Only the committer goroutine writes segment files. Put, PutBatch and
// Delete queue a request and wait; the committer takes everything queued,
// writes it with one write(2) per segment touched, calls fsync(2) once and
// then releases every waiter of that batch (group commit). A caller is told
// "durable" only after the fsync returned. The in-memory index is updated
// after the fsync, so Get and Replay never return a record that is not
// durable yet. Two exceptions: DeleteAsync tombstones (below), and
// compaction copies, whose originals are still on disk until the copies
// are fsync'd.
//
// DeleteAsync queues a tombstone without waiting. The committer writes it
// with the next batch, and it becomes durable with the next fsync: that of
// a later synchronous request, of Sync, of a segment roll, of Close, or of
// the periodic flush (Options.SyncInterval). Until then a crash may lose it,
// so an acknowledged (deleted) message can reappear after a crash: delivery
// is at least once.
//
// A new segment is made by writing its header to NNN.seg.tmp, fsync'ing the
// file, renaming it to NNN.seg and fsync'ing the directory. Before the
// committer rolls to a new segment it fsyncs the old head, so every
// segment except the head is completely on disk before its successor
// exists, and applies the old head's records to the index, so that
// compaction never judges a sealed segment by a partial count. Such a
// segment is sealed: it is never written again.
//
// Compaction (Log.Compact) works in this order:
//
//  1. choose victims among sealed segments: those with no live bytes,
//     those whose live bytes are under 25% of their size, and damaged ones;
//  2. read the live records of the victims, verify their CRCs, and append
//     copies to the head through the committer (a copy is dropped if its
//     key got a newer record meanwhile); then fsync the head, so that the
//     copies and every earlier write, DeleteAsync tombstones included, are
//     durable;
//  3. delete the victim files oldest first, fsync'ing the directory after
//     each deletion. A damaged victim (see recovery) is renamed to
//     *.seg.corrupt instead of being deleted.
//
// A crash between 2 and 3 leaves the same record twice; the newer copy wins
// and carries the same data. Deleting oldest first is what makes dropping
// tombstones safe (next section).
//
// # Tombstones
//
// A tombstone for key k in segment B must stay on disk while any segment
// older than B still holds a Put of k, superseded or not: without it,
// recovery would resurrect that Put. For every key the index keeps the
// range of segment numbers [minSeg, maxSeg] that may hold a Put of it
// (minSeg is a conservative lower bound). A tombstone is live while some
// existing segment lies in its range. Compaction copies live tombstones of
// a victim to the head, and drops the others: their range only holds
// segments that are victims too, older than B, so they are deleted first.
// A tombstone whose key has a newer Put is dead.
//
// # Recovery
//
// Open lists the directory, removes *.seg.tmp files, and reads every
// segment in sequence order, applying valid records to the index:
//
//   - A segment whose header is invalid (bad magic, version, CRC, or a
//     sequence number that differs from its name, or a file shorter than
//     the header) is renamed to *.seg.corrupt and reported; none of its
//     records are used.
//   - In the newest segment, the first invalid record starts a torn tail
//     (a write the crash interrupted). The file is truncated there and
//     fsync'd, an incomplete batch at the end included, and the number of
//     bytes dropped is reported in RecoveryReport.TruncatedBytes.
//   - In an older (sealed) segment an invalid record is corruption, since
//     sealed segments were fsync'd whole. It is reported with the segment
//     name and offset; the valid prefix is kept and used, the rest of that
//     segment is ignored (records after a damaged length field cannot be
//     found reliably) and the file is left as it is for inspection. Such a
//     segment is damaged; compaction quarantines it once its live records
//     have been copied out.
//
// Recovery never panics on the content of a file and never fails because
// of a bad record; Open fails only on I/O errors and on a directory it
// cannot lock.
//
// # What survives a crash
//
// After kill -9 of the process or a power loss, the Log holds:
//
//   - every record whose Put, PutBatch or Delete returned nil (they were
//     fsync'd), unless Options.NoSync was set;
//   - possibly some records whose call had not returned yet, or returned an
//     error such as a cancelled context (a batch: all or none of it);
//   - possibly not a DeleteAsync tombstone written in the last
//     Options.SyncInterval before the crash (the key comes back);
//   - nothing a completed Delete removed, also after compaction at any
//     point of a crash.
//
// With Options.NoSync, data written before a process crash survives (the
// kernel still has it) but a power loss or kernel crash can lose any
// record, acknowledged or not, and reorder what reaches the disk. NoSync is
// for tests and benchmarks only.
//
// If a write or fsync fails, the Log stops: the failing batch and every
// later call return the error (wrapped in ErrFailed). After a failed
// fsync the page cache can no longer be trusted to match the disk, so the
// only recovery is Close and Open, which re-reads the files.
//
// # Invariants
//
// Log.Check verifies them; the tests run it after every scenario.
//
//   - Every segment file has a valid header whose number matches its name.
//   - Every sealed segment consists of valid records up to its end (or up to
//     its reported damage); the head, up to the committed size.
//   - The index equals the state obtained by replaying all segments in
//     order: for every live key, the position and length of its newest Put.
//   - Per-segment live byte counts equal the sum over index entries in that
//     segment.
//   - Every tombstone that still guards a Put in an older segment is in
//     the index.
//
// # Failpoints
//
// The write path calls named injection points: store/beforeWrite,
// store/beforeSegmentSync, store/beforeSegmentRename,
// store/afterRenameBeforeDirSync, store/compactBeforeRemove and
// store/compactAfterRemove. Tests in this package set a hook through an
// unexported Options field; a binary built with -tags failpoints reads
// ENMASSE_STORE_FAILPOINTS (for example
// "store/compactBeforeRemove=kill@2", see failpoint_on.go), which the
// kill -9 tests use to crash the crashtest helper at exact points.
// Production builds have no failpoints.
//
// # Memory
//
// The index keeps, per live key, its segment number, offset, data length
// and minSeg: 24 bytes of key and value in a Go map, 37 to 56 bytes of heap
// per key with the map's overhead (measured at 0.3 to 1.5 million keys by
// TestStoreIndexMemory), never the data. Get reads the data from disk with
// one pread. Tombstones that still guard a Put in an older segment take
// another map entry each until compaction finds them dead; one whose key's
// every Put is in its own segment takes none (a record deleted soon after
// it was written, as a queue's message usually is: replaying the segment
// deletes the key, and compacting it drops both).
//
// # Concurrency
//
// A Log is safe for concurrent use. Log.mu guards the index and the segment
// table; the committer goroutine owns the head file's write offset and does
// its I/O without holding mu. Compact runs one at a time (compactMu). Lock
// order: compactMu, then mu. Segment files are reference-counted so that
// Get and Replay can read a segment that compaction deletes concurrently
// (the file is unlinked but stays readable until the last reader is done).
// Byte slices passed to Put are not retained after it returns; slices
// returned by Get belong to the caller; slices passed to the Replay
// callback are valid only until it returns.
package store
