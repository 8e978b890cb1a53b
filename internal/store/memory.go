package store

import (
	"context"
	"slices"
	"sync"
)

// Memory is a Store that keeps records in memory: nothing survives the
// process. Safe for concurrent use.
type Memory struct {
	mu     sync.RWMutex
	recs   map[uint64][]byte
	closed bool
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{recs: map[uint64][]byte{}} }

func (m *Memory) check(ctx context.Context) error {
	if m.closed {
		return ErrClosed
	}
	if ctx != nil {
		return ctx.Err()
	}
	return nil
}

// Put stores a copy of data under key.
func (m *Memory) Put(ctx context.Context, key uint64, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	if len(data) > MaxDataSize {
		return ErrTooLarge
	}
	m.recs[key] = slices.Clone(data)
	return nil
}

// PutBatch stores all records or none.
func (m *Memory) PutBatch(ctx context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	for _, r := range recs {
		if len(r.Data) > MaxDataSize {
			return ErrTooLarge
		}
	}
	for _, r := range recs {
		m.recs[r.Key] = slices.Clone(r.Data)
	}
	return nil
}

// Delete removes key.
func (m *Memory) Delete(ctx context.Context, key uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(ctx); err != nil {
		return err
	}
	delete(m.recs, key)
	return nil
}

// DeleteAsync removes key.
func (m *Memory) DeleteAsync(key uint64) error { return m.Delete(context.Background(), key) }

// Sync does nothing: there is nothing to make durable.
func (m *Memory) Sync(ctx context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.check(ctx)
}

// Get returns a copy of key's data.
func (m *Memory) Get(key uint64) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	d, ok := m.recs[key]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(d), nil
}

// Replay calls fn for every record in ascending key order, on a snapshot.
func (m *Memory) Replay(fn func(key uint64, data []byte) error) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	keys := make([]uint64, 0, len(m.recs))
	for k := range m.recs {
		keys = append(keys, k)
	}
	snap := make(map[uint64][]byte, len(m.recs))
	for k, v := range m.recs {
		snap[k] = v
	}
	m.mu.RUnlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := fn(k, snap[k]); err != nil {
			return err
		}
	}
	return nil
}

// Compact does nothing: deleted records take no space.
func (m *Memory) Compact(ctx context.Context) error { return m.Sync(ctx) }

// Close releases the records.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed, m.recs = true, nil
	return nil
}
