package registry

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// Errors returned by the registry. Wrapped errors name the object.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrConflict means the resourceVersion given with a write is not the
	// object's current one.
	ErrConflict = errors.New("the object has been modified")
	// ErrGone means a watch asked for changes older than the history kept.
	ErrGone = errors.New("resource version too old")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("registry closed")
)

// EventType is the kind of change of a watch event (Kubernetes names).
type EventType string

// Event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one committed change. For Deleted, Object is the last state.
type Event struct {
	Type   EventType
	Object model.Object
	RV     uint64
}

// Item is a stored object with the revision it was created at, which
// orders objects by creation exactly.
type Item struct {
	Object  model.Object
	Created uint64
}

type entry struct {
	obj     model.Object
	created uint64
	secret  []byte
}

type key struct {
	kind      *model.KindInfo
	namespace string
	name      string
}

// Options configure a Registry.
type Options struct {
	// Path is the bbolt file; empty keeps everything in memory.
	Path string
	// History is the number of recent events kept for watches that resume
	// from a resourceVersion. Default 16384.
	History int
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Registry is the control plane's versioned object store. Its methods are
// safe for concurrent use.
//
// Registry.mu guards the object table, the revision counter and the
// pending batch; Registry.wmu guards watchers, subscribers and the event
// history. Order: mu → wmu (commit takes only wmu). The writer goroutine
// owns the database.
type Registry struct {
	opts Options
	db   *boltStore // nil in memory

	mu      sync.RWMutex
	objects map[*model.KindInfo]map[string]map[string]*entry // kind → namespace → name
	rv      uint64
	pending *batch
	closed  bool
	fatal   error // sticky storage failure
	fresh   bool
	// publishedBase is the revision at Open: the event history starts
	// after it.
	publishedBase uint64

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	wmu      sync.Mutex
	watchers map[*Watcher]struct{}
	subs     map[int]func([]Event)
	nextSub  int
	history  []Event // ring of the latest events, oldest first after wrap
	histNext int
	histFull bool
}

type batch struct {
	changes []change
	events  []Event
	done    chan struct{}
	err     error
}

type change struct {
	key key
	e   *entry // nil deletes
	rv  uint64
}

// Open opens (creating if needed) the registry at opts.Path and loads
// every object into memory.
func Open(opts Options) (*Registry, error) {
	if opts.History <= 0 {
		opts.History = 16384
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		opts:     opts,
		objects:  map[*model.KindInfo]map[string]map[string]*entry{},
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		watchers: map[*Watcher]struct{}{},
		subs:     map[int]func([]Event){},
		history:  make([]Event, opts.History),
		fresh:    true,
	}
	if opts.Path != "" {
		db, err := openBolt(opts.Path)
		if err != nil {
			return nil, err
		}
		r.db = db
		if err := db.load(r, opts.Logger); err != nil {
			db.close()
			return nil, err
		}
		r.publishedBase = r.rv
	}
	go r.writer()
	return r, nil
}

// Fresh reports whether the store was empty when opened (first start).
func (r *Registry) Fresh() bool { return r.fresh }

// Close flushes pending writes, stops watches and closes the database.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	<-r.done
	r.wmu.Lock()
	for w := range r.watchers {
		w.closeLocked(nil)
	}
	r.wmu.Unlock()
	if r.db != nil {
		return r.db.close()
	}
	return nil
}

// ResourceVersion is the latest revision.
func (r *Registry) ResourceVersion() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.rv
}

// Get returns an object; the result is shared and must not be modified.
func (r *Registry) Get(k *model.KindInfo, namespace, name string) (model.Object, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.objects[k][namespace][name]; e != nil {
		return e.obj, true
	}
	return nil, false
}

// Secret returns the opaque secret stored with an object (a user's
// credentials).
func (r *Registry) Secret(k *model.KindInfo, namespace, name string) ([]byte, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.objects[k][namespace][name]; e != nil {
		return e.secret, len(e.secret) > 0
	}
	return nil, false
}

// List returns the objects of a kind in a namespace ("" for all), sorted
// by namespace and name, and the revision the list is current at.
func (r *Registry) List(k *model.KindInfo, namespace string) ([]model.Object, uint64) {
	r.mu.RLock()
	items := r.itemsLocked(k, namespace)
	rv := r.rv
	r.mu.RUnlock()
	out := make([]model.Object, len(items))
	for i, it := range items {
		out[i] = it.Object
	}
	return out, rv
}

// Items returns the objects of a kind in a namespace with their creation
// revision, sorted by namespace and name.
func (r *Registry) Items(k *model.KindInfo, namespace string) []Item {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.itemsLocked(k, namespace)
}

func (r *Registry) itemsLocked(k *model.KindInfo, namespace string) []Item {
	var out []Item
	add := func(m map[string]*entry) {
		for _, e := range m {
			out = append(out, Item{Object: e.obj, Created: e.created})
		}
	}
	if namespace != "" {
		out = make([]Item, 0, len(r.objects[k][namespace]))
		add(r.objects[k][namespace])
	} else {
		for _, m := range r.objects[k] {
			add(m)
		}
	}
	slices.SortFunc(out, func(a, b Item) int {
		am, bm := a.Object.GetMeta(), b.Object.GetMeta()
		if c := strings.Compare(am.Namespace, bm.Namespace); c != 0 {
			return c
		}
		return strings.Compare(am.Name, bm.Name)
	})
	return out
}

// Namespaces lists the namespaces that hold objects of any kind.
func (r *Registry) Namespaces() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	seen := map[string]bool{}
	for _, byNS := range r.objects {
		for ns, m := range byNS {
			if len(m) > 0 {
				seen[ns] = true
			}
		}
	}
	return slices.Sorted(func(yield func(string) bool) {
		for ns := range seen {
			if !yield(ns) {
				return
			}
		}
	})
}

// Update runs fn with exclusive access to the registry and commits its
// writes atomically; it returns once they are durable (or ctx ends, in
// which case the writes may still become durable). If fn returns an error
// nothing is written.
func (r *Registry) Update(ctx context.Context, fn func(tx *Tx) error) error {
	r.mu.Lock()
	if err := r.usableLocked(); err != nil {
		r.mu.Unlock()
		return err
	}
	tx := &Tx{r: r, overlay: map[key]*entry{}}
	if err := fn(tx); err != nil {
		r.mu.Unlock()
		return err
	}
	b := r.applyLocked(tx)
	r.mu.Unlock()
	if b == nil {
		return nil
	}
	r.signal()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Registry) usableLocked() error {
	if r.closed {
		return ErrClosed
	}
	return r.fatal
}

// StatusFunc returns obj with a new status (or metadata), built with
// model.Shallow, or nil to leave obj alone.
type StatusFunc func(obj model.Object) model.Object

// UpdateStatus replaces the status of existing objects without touching
// their spec or generation, without waiting for durability. fns maps
// object names (in namespace ns) to their update. Objects that no longer
// exist are skipped.
func (r *Registry) UpdateStatus(k *model.KindInfo, namespace string, fns map[string]StatusFunc) error {
	r.mu.Lock()
	if err := r.usableLocked(); err != nil {
		r.mu.Unlock()
		return err
	}
	tx := &Tx{r: r, overlay: map[key]*entry{}}
	for name, fn := range fns {
		cur := r.objects[k][namespace][name]
		if cur == nil {
			continue
		}
		next := fn(cur.obj)
		if next == nil {
			continue
		}
		tx.overlay[key{k, namespace, name}] = &entry{obj: next, created: cur.created, secret: cur.secret}
		tx.order = append(tx.order, key{k, namespace, name})
	}
	b := r.applyLocked(tx)
	r.mu.Unlock()
	if b != nil {
		r.signal()
	}
	return nil
}

// applyLocked makes tx's writes visible, assigns revisions and queues them
// for the writer. It returns the batch the writes joined, or nil.
func (r *Registry) applyLocked(tx *Tx) *batch {
	if len(tx.order) == 0 {
		return nil
	}
	if r.pending == nil {
		r.pending = &batch{done: make(chan struct{})}
	}
	b := r.pending
	for _, k := range tx.order {
		e := tx.overlay[k]
		old := r.objects[k.kind][k.namespace][k.name]
		if e == nil && old == nil {
			continue
		}
		r.rv++
		rv := r.rv
		if e == nil {
			delete(r.objects[k.kind][k.namespace], k.name)
			// The deleted object is reported at the revision of its deletion.
			last := model.Shallow(old.obj)
			last.GetMeta().ResourceVersion = strconv.FormatUint(rv, 10)
			b.events = append(b.events, Event{Type: Deleted, Object: last, RV: rv})
			b.changes = append(b.changes, change{key: k, rv: rv})
			continue
		}
		e.obj.GetMeta().ResourceVersion = strconv.FormatUint(rv, 10)
		byNS := r.objects[k.kind]
		if byNS == nil {
			byNS = map[string]map[string]*entry{}
			r.objects[k.kind] = byNS
		}
		if byNS[k.namespace] == nil {
			byNS[k.namespace] = map[string]*entry{}
		}
		byNS[k.namespace][k.name] = e
		typ := Modified
		if old == nil {
			typ = Added
			e.created = rv
		}
		b.events = append(b.events, Event{Type: typ, Object: e.obj, RV: rv})
		b.changes = append(b.changes, change{key: k, e: e, rv: rv})
	}
	return b
}

func (r *Registry) signal() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// writer commits pending batches, one database transaction each, then
// publishes their events. Batches grow while a commit is in progress, so
// concurrent writers share one fsync (group commit).
func (r *Registry) writer() {
	defer close(r.done)
	for {
		select {
		case <-r.kick:
		case <-r.stop:
			r.flush()
			return
		}
		r.flush()
	}
}

func (r *Registry) flush() {
	r.mu.Lock()
	b := r.pending
	r.pending = nil
	r.mu.Unlock()
	if b == nil {
		return
	}
	if r.db != nil {
		b.err = r.db.commit(b.changes, r.lastRV(b))
	}
	if b.err != nil {
		r.opts.Logger.Error("registry: writing to the store failed; refusing further writes", "err", b.err)
		r.mu.Lock()
		r.fatal = fmt.Errorf("registry store failed: %w", b.err)
		r.mu.Unlock()
		close(b.done)
		return
	}
	// Watchers hear of a change before its writer returns.
	r.publish(b.events)
	close(b.done)
}

func (r *Registry) lastRV(b *batch) uint64 {
	if n := len(b.changes); n > 0 {
		return b.changes[n-1].rv
	}
	return 0
}

func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
