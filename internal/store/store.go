package store

import (
	"context"
)

// Store is what the broker needs from a message store. *Log is the
// implementation for data on disk; Memory keeps everything in memory (for
// a server without a data dir, and for tests). Both pass the conformance
// suite in package storetest.
//
// The journal was chosen over pebble and bbolt from measurements on this
// project's machines (../shared/research/libraries.md Q3): a journal
// matched pebble's group commit (49k vs 48k durable messages/s with 16
// concurrent producers, where bbolt managed 5.4k), reclaims disk by
// deleting whole segments once their messages are acknowledged (bbolt's
// file never shrinks; pebble keeps tombstones that slow scans of empty
// queues until compaction), and needs no dependencies. pebble/v2 is the
// fallback should the journal fall short.
type Store interface {
	// Put stores data under key (superseding an older Put of it) and
	// returns once it is durable.
	Put(ctx context.Context, key uint64, data []byte) error
	// PutBatch stores several records, durable together (all or none).
	PutBatch(ctx context.Context, recs []Record) error
	// Delete removes key and returns once that is durable.
	Delete(ctx context.Context, key uint64) error
	// DeleteAsync removes key; it becomes durable with a later sync.
	DeleteAsync(key uint64) error
	// Sync makes everything queued so far durable.
	Sync(ctx context.Context) error
	// Get returns a copy of the data of a live key, or ErrNotFound.
	Get(key uint64) ([]byte, error)
	// Replay calls fn for every live record in ascending key order; data
	// is valid only during the call.
	Replay(fn func(key uint64, data []byte) error) error
	// Compact reclaims space taken by deleted and superseded records.
	Compact(ctx context.Context) error
	// Close releases the store; later calls fail with ErrClosed.
	Close() error
}

var _ Store = (*Log)(nil)
