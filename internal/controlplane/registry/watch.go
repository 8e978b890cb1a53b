package registry

import (
	"errors"
	"sync"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// ErrOverflow closes a watch whose reader fell too far behind; the reader
// should list again and watch from the list's resourceVersion.
var ErrOverflow = errors.New("watch closed: the client did not keep up with the changes")

// WatchBuffer is the number of events a watcher may have unread before it
// is closed with ErrOverflow.
const WatchBuffer = 8192

// Watcher delivers the committed changes of one kind in one namespace
// ("" for all), in revision order.
type Watcher struct {
	r      *Registry
	kind   *model.KindInfo
	ns     string
	filter func(model.Object) bool
	ch     chan Event
	after  uint64 // events at or below this revision are not sent

	mu     sync.Mutex // guards err, closed; taken under Registry.wmu
	err    error
	closed bool
}

// Events is closed when the watch ends (Stop, Close or ErrOverflow).
func (w *Watcher) Events() <-chan Event { return w.ch }

// Err says why Events was closed: nil after Stop or Close, ErrOverflow.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stop ends the watch.
func (w *Watcher) Stop() {
	w.r.wmu.Lock()
	defer w.r.wmu.Unlock()
	w.closeLocked(nil)
}

func (w *Watcher) closeLocked(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed, w.err = true, err
	close(w.ch)
	delete(w.r.watchers, w)
}

func (w *Watcher) matches(ev Event) bool {
	m := ev.Object.GetMeta()
	return ev.Object.Info() == w.kind && (w.ns == "" || m.Namespace == w.ns) &&
		ev.RV > w.after && (w.filter == nil || w.filter(ev.Object))
}

// sendLocked delivers ev without blocking; a full buffer closes the watch.
func (w *Watcher) sendLocked(ev Event) {
	if w.closed || !w.matches(ev) {
		return
	}
	select {
	case w.ch <- ev:
	default:
		w.closeLocked(ErrOverflow)
	}
}

// Watch starts a watch. With fromRV 0 it first sends an ADDED event for
// every existing object (as Kubernetes does for a watch without
// resourceVersion), then the changes after them. With fromRV > 0 it sends
// the changes after that revision, or fails with ErrGone when they are
// older than the history kept. filter, if not nil, selects objects.
func (r *Registry) Watch(k *model.KindInfo, namespace string, fromRV uint64, filter func(model.Object) bool) (*Watcher, error) {
	w := &Watcher{r: r, kind: k, ns: namespace, filter: filter, ch: make(chan Event, WatchBuffer)}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return nil, ErrClosed
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if fromRV == 0 {
		items := r.itemsLocked(k, namespace)
		if len(items) > WatchBuffer {
			w.ch = make(chan Event, len(items)+WatchBuffer)
		}
		// Everything up to r.rv is in the snapshot, including writes not
		// yet published; their events are skipped when they come.
		w.after = r.rv
		for _, it := range items {
			if filter == nil || filter(it.Object) {
				rv, _ := ParseResourceVersion(it.Object.GetMeta().ResourceVersion)
				w.ch <- Event{Type: Added, Object: it.Object, RV: rv}
			}
		}
	} else {
		if fromRV < r.historyBaseLocked() {
			return nil, ErrGone
		}
		w.after = fromRV
		for _, ev := range r.historyLocked() {
			w.sendLocked(ev)
		}
		if w.closed {
			return nil, ErrGone
		}
		if n := len(r.historyLocked()); n > 0 {
			if last := r.historyLocked()[n-1].RV; last > w.after {
				w.after = last
			}
		}
	}
	r.watchers[w] = struct{}{}
	return w, nil
}

// historyBaseLocked is the revision the history starts after: a watch
// from an older revision would miss changes.
func (r *Registry) historyBaseLocked() uint64 {
	h := r.historyLocked()
	if len(h) == 0 {
		return r.publishedBase
	}
	if !r.histFull {
		return r.publishedBase
	}
	return h[0].RV - 1
}

// historyLocked returns the kept events, oldest first.
func (r *Registry) historyLocked() []Event {
	if !r.histFull {
		return r.history[:r.histNext]
	}
	out := make([]Event, 0, len(r.history))
	out = append(out, r.history[r.histNext:]...)
	return append(out, r.history[:r.histNext]...)
}

// Subscribe calls fn with every committed batch of events, in order, on
// the registry's writer goroutine: fn must not block or call back into
// the registry's write methods synchronously. The returned function
// unsubscribes.
func (r *Registry) Subscribe(fn func([]Event)) (cancel func()) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	id := r.nextSub
	r.nextSub++
	r.subs[id] = fn
	return func() {
		r.wmu.Lock()
		defer r.wmu.Unlock()
		delete(r.subs, id)
	}
}

// publish hands committed events to the history, watchers and subscribers.
func (r *Registry) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	for _, ev := range events {
		r.history[r.histNext] = ev
		r.histNext++
		if r.histNext == len(r.history) {
			r.histNext, r.histFull = 0, true
		}
	}
	for w := range r.watchers {
		for _, ev := range events {
			w.sendLocked(ev)
		}
	}
	for _, fn := range r.subs {
		fn(events)
	}
}
