package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

func addr(name, address string) *model.Address {
	return &model.Address{
		Metadata: model.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:     model.AddressSpec{Address: address, Type: model.TypeQueue, Plan: "p"},
	}
}

func create(t *testing.T, r *Registry, o model.Object, secret []byte) {
	t.Helper()
	if err := r.Update(context.Background(), func(tx *Tx) error { return tx.Create(o, secret) }); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, path string) *Registry {
	t.Helper()
	r, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPersistAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.db")
	r := open(t, path)
	if !r.Fresh() {
		t.Fatal("new store not fresh")
	}
	create(t, r, addr("s.a", "a"), []byte("secret"))
	create(t, r, addr("s.b", "b"), nil)
	a, _ := r.Get(model.AddressKind, "ns", "s.a")
	uid := a.GetMeta().UID
	// status updates are persisted too (without waiting)
	r.UpdateStatus(model.AddressKind, "ns", map[string]StatusFunc{"s.b": func(o model.Object) model.Object {
		c := model.Shallow(o).(*model.Address)
		c.Status.Phase = model.PhaseActive
		return c
	}})
	if err := r.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Delete(model.AddressKind, "ns", "s.a", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	create(t, r, addr("s.a", "a2"), nil)
	rv := r.ResourceVersion()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r = open(t, path)
	defer r.Close()
	if r.Fresh() {
		t.Error("reopened store is fresh")
	}
	if got := r.ResourceVersion(); got != rv {
		t.Errorf("revision after reopen %d, want %d", got, rv)
	}
	a, ok := r.Get(model.AddressKind, "ns", "s.a")
	if !ok || a.(*model.Address).Spec.Address != "a2" || a.GetMeta().UID == uid {
		t.Errorf("s.a after reopen: %+v", a)
	}
	if _, ok := r.Secret(model.AddressKind, "ns", "s.a"); ok {
		t.Error("secret of the deleted object survived")
	}
	b, _ := r.Get(model.AddressKind, "ns", "s.b")
	if b.(*model.Address).Status.Phase != model.PhaseActive {
		t.Errorf("status not persisted: %+v", b.(*model.Address).Status)
	}
	items := r.Items(model.AddressKind, "ns")
	if len(items) != 2 || items[0].Created <= items[1].Created {
		t.Errorf("creation order lost: %+v", items)
	}
	// a new write continues the revision sequence
	create(t, r, addr("s.c", "c"), nil)
	if r.ResourceVersion() != rv+1 {
		t.Errorf("revision %d, want %d", r.ResourceVersion(), rv+1)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.db")
	r := open(t, path)
	defer r.Close()
	if _, err := Open(Options{Path: path}); err == nil {
		t.Fatal("second open succeeded")
	}
}

func TestConflictsAndGeneration(t *testing.T) {
	r := open(t, "")
	defer r.Close()
	create(t, r, addr("s.a", "a"), nil)
	cur, _ := r.Get(model.AddressKind, "ns", "s.a")
	stale := cur.GetMeta().ResourceVersion

	next := model.Copy(cur).(*model.Address)
	next.Metadata.Labels = map[string]string{"x": "y"}
	replace := func(o model.Object) error {
		return r.Update(context.Background(), func(tx *Tx) error { return tx.Replace(o, nil) })
	}
	if err := replace(next); err != nil {
		t.Fatal(err)
	}
	got, _ := r.Get(model.AddressKind, "ns", "s.a")
	if got.GetMeta().Generation != 1 {
		t.Errorf("metadata change bumped generation to %d", got.GetMeta().Generation)
	}
	again := model.Copy(cur).(*model.Address)
	again.Spec.Plan = "other"
	if err := replace(again); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale resourceVersion %s: err %v, want conflict", stale, err)
	}
	again.Metadata.ResourceVersion = ""
	if err := replace(again); err != nil {
		t.Fatal(err)
	}
	got, _ = r.Get(model.AddressKind, "ns", "s.a")
	if got.GetMeta().Generation != 2 {
		t.Errorf("spec change: generation %d, want 2", got.GetMeta().Generation)
	}
	if err := r.Update(context.Background(), func(tx *Tx) error { return tx.Create(addr("s.a", "x"), nil) }); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate create: %v", err)
	}
	// a failing transaction writes nothing
	err := r.Update(context.Background(), func(tx *Tx) error {
		if err := tx.Create(addr("s.z", "z"), nil); err != nil {
			return err
		}
		return errors.New("no")
	})
	if _, ok := r.Get(model.AddressKind, "ns", "s.z"); err == nil || ok {
		t.Errorf("aborted transaction left s.z (err %v)", err)
	}
}

func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch closed: %v", w.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func TestWatch(t *testing.T) {
	r := open(t, "")
	defer r.Close()
	create(t, r, addr("s.a", "a"), nil)
	w, err := r.Watch(model.AddressKind, "ns", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := next(t, w); ev.Type != Added || ev.Object.GetMeta().Name != "s.a" {
		t.Fatalf("initial event %+v", ev)
	}
	from := r.ResourceVersion()
	create(t, r, addr("s.b", "b"), nil)
	r.Update(context.Background(), func(tx *Tx) error {
		_, err := tx.Delete(model.AddressKind, "ns", "s.a", "")
		return err
	})
	if ev := next(t, w); ev.Type != Added || ev.Object.GetMeta().Name != "s.b" {
		t.Fatalf("event %+v", ev)
	}
	if ev := next(t, w); ev.Type != Deleted || ev.Object.GetMeta().Name != "s.a" {
		t.Fatalf("event %+v", ev)
	}

	// resume from a revision
	w2, err := r.Watch(model.AddressKind, "ns", from, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if ev := next(t, w2); ev.Type != Added || ev.Object.GetMeta().Name != "s.b" {
		t.Fatalf("resumed event %+v", ev)
	}
	if ev := next(t, w2); ev.Type != Deleted {
		t.Fatalf("resumed event %+v", ev)
	}
	// other namespaces and kinds are not seen
	create(t, r, &model.Address{Metadata: model.ObjectMeta{Name: "s.c", Namespace: "other"}}, nil)
	create(t, r, addr("s.d", "d"), nil)
	if ev := next(t, w2); ev.Object.GetMeta().Name != "s.d" {
		t.Fatalf("event from another namespace: %+v", ev)
	}
}

func TestWatchGoneAndOverflow(t *testing.T) {
	r, _ := Open(Options{History: 4})
	defer r.Close()
	for i := range 10 {
		create(t, r, addr(fmt.Sprintf("s.%d", i), "x"), nil)
	}
	if _, err := r.Watch(model.AddressKind, "ns", 2, nil); !errors.Is(err, ErrGone) {
		t.Fatalf("watch from a compacted revision: %v", err)
	}
	if _, err := r.Watch(model.AddressKind, "ns", 8, nil); err != nil {
		t.Fatalf("watch within history: %v", err)
	}

	w, _ := r.Watch(model.AddressKind, "ns", r.ResourceVersion(), nil)
	err := r.Update(context.Background(), func(tx *Tx) error {
		for i := range WatchBuffer + 1 {
			if err := tx.Create(addr(fmt.Sprintf("s.o%d", i), "x"), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range w.Events() {
		n++
	}
	if !errors.Is(w.Err(), ErrOverflow) || n != WatchBuffer {
		t.Fatalf("after %d events: err %v", n, w.Err())
	}
}

func TestGroupCommit(t *testing.T) {
	r := open(t, filepath.Join(t.TempDir(), "cp.db"))
	defer r.Close()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Update(context.Background(), func(tx *Tx) error {
				return tx.Create(addr(fmt.Sprintf("s.g%d", i), "x"), nil)
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := len(r.Items(model.AddressKind, "ns")); n != 64 {
		t.Fatalf("%d objects", n)
	}
}
