package registry

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// Tx is the view of the registry inside Update: reads see the
// transaction's own writes. A Tx must not be used after its function
// returns.
type Tx struct {
	r       *Registry
	overlay map[key]*entry // nil entry: deleted in this transaction
	order   []key
}

func (tx *Tx) entry(k key) *entry {
	if e, ok := tx.overlay[k]; ok {
		return e
	}
	return tx.r.objects[k.kind][k.namespace][k.name]
}

// Get returns an object as the transaction sees it (shared, read-only).
func (tx *Tx) Get(k *model.KindInfo, namespace, name string) (model.Object, bool) {
	if e := tx.entry(key{k, namespace, name}); e != nil {
		return e.obj, true
	}
	return nil, false
}

// Items lists a kind in a namespace ("" for all) as the transaction sees
// it, in no particular order.
func (tx *Tx) Items(k *model.KindInfo, namespace string) []Item {
	var out []Item
	for kk, e := range tx.overlay {
		if e != nil && kk.kind == k && (namespace == "" || kk.namespace == namespace) {
			out = append(out, Item{Object: e.obj, Created: e.created})
		}
	}
	visit := func(ns string, m map[string]*entry) {
		for name, e := range m {
			if _, ok := tx.overlay[key{k, ns, name}]; !ok {
				out = append(out, Item{Object: e.obj, Created: e.created})
			}
		}
	}
	if namespace != "" {
		visit(namespace, tx.r.objects[k][namespace])
	} else {
		for ns, m := range tx.r.objects[k] {
			visit(ns, m)
		}
	}
	return out
}

func (tx *Tx) put(k key, e *entry) {
	if _, ok := tx.overlay[k]; !ok {
		tx.order = append(tx.order, k)
	} else {
		// Keep the position of the first write; the last value wins.
		tx.order = slices.DeleteFunc(tx.order, func(x key) bool { return x == k })
		tx.order = append(tx.order, k)
	}
	tx.overlay[k] = e
}

func keyOf(o model.Object) key {
	m := o.GetMeta()
	return key{o.Info(), m.Namespace, m.Name}
}

func notFound(k key) error {
	return fmt.Errorf("%s %q: %w", k.kind.Kind, k.name, ErrNotFound)
}

// Create stores a new object, which the registry then owns. It sets uid,
// creationTimestamp, generation 1 and the apiVersion and kind; secret is
// kept beside the object and never returned with it.
func (tx *Tx) Create(obj model.Object, secret []byte) error {
	k := keyOf(obj)
	if tx.entry(k) != nil {
		return fmt.Errorf("%s %q: %w", k.kind.Kind, k.name, ErrExists)
	}
	m := obj.GetMeta()
	m.UID = newUID()
	m.Generation = 1
	m.CreationTimestamp = tx.r.opts.Now().UTC().Format(time.RFC3339)
	m.ResourceVersion = ""
	tm := obj.GetTypeMeta()
	tm.APIVersion, tm.Kind = k.kind.APIVersion(), k.kind.Kind
	tx.put(k, &entry{obj: obj, secret: secret}) // applyLocked sets created

	return nil
}

// Replace stores obj as the new version of an existing object. If
// obj.metadata.resourceVersion is set it must be the current one. The
// server-owned metadata (uid, creationTimestamp) is kept; generation
// grows when the spec changed. If keepStatus, the current status is kept
// (callers pass objects whose status came from the current one). secret
// nil keeps the stored one.
func (tx *Tx) Replace(obj model.Object, secret []byte) error {
	k := keyOf(obj)
	cur := tx.entry(k)
	if cur == nil {
		return notFound(k)
	}
	m, cm := obj.GetMeta(), cur.obj.GetMeta()
	if m.ResourceVersion != "" && m.ResourceVersion != cm.ResourceVersion {
		return fmt.Errorf("Operation cannot be fulfilled on %s %q: %w; please apply your changes to the latest version (resourceVersion %s) and try again",
			k.kind.Plural, k.name, ErrConflict, cm.ResourceVersion)
	}
	m.UID, m.CreationTimestamp, m.Generation = cm.UID, cm.CreationTimestamp, cm.Generation
	if !sameJSON(obj.SpecOf(), cur.obj.SpecOf()) {
		m.Generation++
	}
	tm := obj.GetTypeMeta()
	tm.APIVersion, tm.Kind = k.kind.APIVersion(), k.kind.Kind
	if secret == nil {
		secret = cur.secret
	}
	tx.put(k, &entry{obj: obj, created: cur.created, secret: secret})
	return nil
}

// Delete removes an object. If resourceVersion is not empty it must be
// the current one. It returns the object as it was.
func (tx *Tx) Delete(k *model.KindInfo, namespace, name, resourceVersion string) (model.Object, error) {
	kk := key{k, namespace, name}
	cur := tx.entry(kk)
	if cur == nil {
		return nil, notFound(kk)
	}
	if rv := cur.obj.GetMeta().ResourceVersion; resourceVersion != "" && resourceVersion != rv {
		return nil, fmt.Errorf("Operation cannot be fulfilled on %s %q: %w (resourceVersion %s, precondition %s)",
			k.Plural, name, ErrConflict, rv, resourceVersion)
	}
	tx.put(kk, nil)
	return cur.obj, nil
}

// ResourceVersion is the revision before this transaction.
func (tx *Tx) ResourceVersion() uint64 { return tx.r.rv }

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// ParseResourceVersion parses a resourceVersion; "" is 0.
func ParseResourceVersion(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}
