package broker

import (
	"testing"

	"github.com/enmasse-go/enmasse/internal/store"
)

// TestSetMaxConsumersJournaled: a subscription's consumer limit replaces
// the default 1 and survives a restart.
func TestSetMaxConsumersJournaled(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Broker, func()) {
		log, err := store.Open(store.Options{Dir: dir, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(Options{Store: log})
		if err != nil {
			t.Fatal(err)
		}
		return b, func() { log.Close() }
	}
	limit := func(b *Broker) int {
		t.Helper()
		q := b.lookup("s", "news::shared")
		if q == nil {
			t.Fatal("no subscription")
		}
		t := b.topics[key{"s", "news"}]
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, sub := range t.subs {
			if sub.q == q {
				return sub.maxConsumers
			}
		}
		return -1
	}
	b, done := open()
	if err := b.EnsureAddress("s", "news", "topic"); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureAddress("s", "news::shared", "subscription"); err != nil {
		t.Fatal(err)
	}
	if got := limit(b); got != 1 {
		t.Fatalf("default limit %d, want 1", got)
	}
	for range 2 { // idempotent
		if err := b.SetMaxConsumers("s", "news::shared", 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SetMaxConsumers("s", "news::nosuch", 3); err == nil {
		t.Error("SetMaxConsumers on a missing subscription succeeded")
	}
	if got := limit(b); got != 3 {
		t.Fatalf("limit %d, want 3", got)
	}
	done()
	b, done = open()
	defer done()
	if got := limit(b); got != 3 {
		t.Fatalf("limit after restart %d, want 3", got)
	}
}
