package store_test

import (
	"testing"

	"github.com/enmasse-go/enmasse/internal/store"
	"github.com/enmasse-go/enmasse/internal/store/storetest"
)

func TestStoreConformanceLog(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		dir := t.TempDir()
		open := func() *store.Log {
			l, err := store.Open(store.Options{Dir: dir, SegmentSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		l := open()
		return l, func() store.Store {
			l.Close()
			l = open()
			return l
		}
	})
}

func TestStoreConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func() store.Store) {
		return store.NewMemory(), nil
	})
}
