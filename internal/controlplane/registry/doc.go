// Package registry is the control plane's versioned object store: every
// resource of the model, kept in memory for reads and persisted in an
// embedded bbolt database in the data dir (DATA-DIR/controlplane.db).
//
// # Revisions
//
// Every change gets the next revision of one global counter, like etcd's:
// it is the object's metadata.resourceVersion, orders watch events, and is
// what optimistic concurrency compares (a write naming a resourceVersion
// that is no longer current fails with ErrConflict). The revision at which
// an object was created orders objects by creation exactly (Items), which
// the agent uses to admit addresses first-come first-served.
//
// # Writes
//
// Update runs a function with exclusive access (reads see the function's
// own writes) and applies its writes atomically: all or nothing. The
// writes are visible to readers at once and handed to the writer
// goroutine, which commits everything pending in one bbolt transaction,
// one fsync, and only then wakes the writers and publishes the events to
// watchers and subscribers (group commit: concurrent writers share an
// fsync, which costs milliseconds on ordinary disks). Update returns once
// its writes are durable. UpdateStatus changes status without waiting. If
// the database fails, the registry refuses further writes rather than let
// memory and disk diverge silently.
//
// # Storage layout
//
//	bucket meta:    format   = "1"
//	                revision = uint64 big-endian, last committed revision
//	bucket objects: one sub-bucket per kind, named by its plural
//	                (addresses, addressspaces, messagingusers,
//	                addressplans, addressspaceplans);
//	                key "{namespace}/{name}" → JSON record
//	                {"created": rev, "secret": base64, "object": {…}}
//
// The object is stored as the API returns it, status included. Secret is
// opaque data kept beside the object and never returned with it (a
// MessagingUser's SCRAM credentials). On open every record is loaded; a
// record that cannot be decoded is logged and skipped, not deleted.
//
// # Watches
//
// Watch streams committed changes of one kind in revision order. Without
// a starting revision it first sends the current objects as ADDED; from a
// revision it replays the kept history (the last Options.History events)
// or fails with ErrGone. A watcher whose reader falls WatchBuffer events
// behind is closed with ErrOverflow, so that no reader can hold up the
// writer. Subscribe gives in-process consumers (the agent) every batch.
//
// Locks: Registry.mu (objects, revision, pending batch) is taken before
// Registry.wmu (watchers, subscribers, history); publishing takes only
// wmu. Objects handed out are shared and must not be modified.
package registry
