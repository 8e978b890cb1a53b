package broker

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/store"
)

func body1K(i int) []byte {
	data := make([]byte, 1024)
	copy(data, fmt.Sprintf("message %d", i))
	p, err := (&message.Message{Data: [][]byte{data}}).Marshal(nil)
	if err != nil {
		panic(err)
	}
	return p
}

// TestBrokerBacklogMemory fills a queue with a backlog of 1 KiB messages
// under a 16 MiB memory limit (PAGE) and checks that the heap grows by a
// small fraction of the backlog. ENMASSE_BACKLOG=1000000 runs the full
// million of the broker's memory target.
func TestBrokerBacklogMemory(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	if v, err := strconv.Atoi(os.Getenv("ENMASSE_BACKLOG")); err == nil && v > 0 {
		n = v
	}
	log, err := store.Open(store.Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	b, err := Open(Options{Store: log, MaxMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureAddress("default", "backlog", "queue"); err != nil {
		t.Fatal(err)
	}
	q := b.lookup("default", "backlog")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		q.enqueue(body1K(i))
		if i%256 == 0 {
			q.page()
		}
	}
	q.page()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapInuse) - int64(before.HeapInuse)
	st, _ := b.Stats("default", "backlog")
	perMsg := float64(grown) / float64(n)
	t.Logf("%d messages of 1 KiB (%d MiB): heap grew %.1f MiB (%.0f bytes per message); %d MiB held in memory",
		n, st.Bytes>>20, float64(grown)/(1<<20), perMsg, b.mem.Load()>>20)
	if st.Depth != n {
		t.Fatalf("depth %d, want %d", st.Depth, n)
	}
	if b.mem.Load() > 16<<20+64<<10 {
		t.Fatalf("%d bytes in memory, limit 16 MiB", b.mem.Load())
	}
	if perMsg > 400 {
		t.Fatalf("%.0f bytes of heap per paged message; a million would not fit in a few hundred MB", perMsg)
	}
	// Everything comes back, in order, from disk.
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, m := range q.msgs[:min(n, 2000)] {
		body, err := q.bodyLocked(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		raw, _ := message.Parse(body)
		dm, _ := raw.Decode()
		if want := fmt.Sprintf("message %d", i); string(dm.Data[0][:len(want)]) != want {
			t.Fatalf("message %d reads back as %q", i, dm.Data[0][:20])
		}
	}
}
