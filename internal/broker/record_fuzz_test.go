package broker

import (
	"bytes"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/store"
)

// FuzzParseRecord: journal records never crash the decoder, and a
// retained record decodes to what was encoded.
func FuzzParseRecord(f *testing.F) {
	q := &queue{space: "default", name: "orders"}
	f.Add(messageRecord(q, &msg{attempts: 2, expires: 1_700_000_000_000_000_000}, []byte("body")))
	f.Add(pagedRecord(q, []byte("paged")))
	f.Add(retainedRecord("default", &retained{name: "sensors/a/temp", expires: 1_700_000_000_000_000_000}, []byte("21.5")))
	f.Add([]byte{recRetained, 1, 'x', 1, 'y'})
	f.Add([]byte{recQueue, 0, 0, 5, 't', 'o', 'p', 'i', 'c'})
	// A durable subscription's definition with its filter and consumer limit.
	f.Add([]byte{recQueue, 1, 'd', 3, 's', ':', ':', 12, 's', 'u', 'b', 's', 'c', 'r', 'i', 'p', 't', 'i', 'o', 'n', 3, 's', '/', '+', 1})
	// The same created by a receiver's attach (the flags byte).
	f.Add([]byte{recQueue, 1, 'd', 3, 's', ':', ':', 12, 's', 'u', 'b', 's', 'c', 'r', 'i', 'p', 't', 'i', 'o', 'n', 3, 's', '/', '+', 1, queueOnAttach})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRecord(data)
		if err != nil || r.typ != recRetained {
			return
		}
		again := retainedRecord(r.space, &retained{name: r.name, expires: r.expires}, r.payload)
		r2, err := parseRecord(again)
		if err != nil || r2.space != r.space || r2.name != r.name || r2.expires != r.expires || !bytes.Equal(r2.payload, r.payload) {
			t.Fatalf("retained record does not round-trip: %+v vs %+v (%v)", r, r2, err)
		}
	})
}

func TestEmptyBody(t *testing.T) {
	enc := func(m message.Message) []byte {
		b, err := m.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name  string
		m     message.Message
		empty bool
	}{
		{"no body", message.Message{Properties: &message.Properties{To: "x"}}, true},
		{"empty data", message.Message{Data: [][]byte{{}}}, true},
		{"two empty data", message.Message{Data: [][]byte{{}, {}}}, true},
		{"data", message.Message{Data: [][]byte{[]byte("x")}}, false},
		{"long data", message.Message{Data: [][]byte{make([]byte, 100)}}, false},
		{"null value", message.Message{HasValue: true}, true},
		{"empty string", message.Message{Value: "", HasValue: true}, true},
		{"string", message.Message{Value: "v", HasValue: true}, false},
		{"number", message.Message{Value: int64(0), HasValue: true}, false},
	} {
		if got := emptyBody(enc(c.m)); got != c.empty {
			t.Errorf("%s: emptyBody = %v, want %v", c.name, got, c.empty)
		}
	}
}

// TestSubscriptionRecordOnAttach: a subscription definition round-trips
// its created-on-attach flag; one written before the flag decodes as not
// created on attach.
func TestSubscriptionRecordOnAttach(t *testing.T) {
	log, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	b := New(Options{Store: log})
	for _, onAttach := range []bool{false, true} {
		q := &queue{b: b, space: "d", name: "t::s", typ: "subscription", subFilter: "t/#", subMaxConsumers: 1, subOnAttach: onAttach}
		if err := b.persistQueue(q); err != nil {
			t.Fatal(err)
		}
		var rec []byte
		log.Replay(func(key uint64, data []byte) error {
			if key == q.key {
				rec = append([]byte(nil), data...)
			}
			return nil
		})
		r, err := parseRecord(rec)
		if err != nil || r.onAttach != onAttach || r.filter != "t/#" || r.maxCons != 1 {
			t.Fatalf("onAttach %v: %+v %v", onAttach, r, err)
		}
		if r, err := parseRecord(rec[:len(rec)-1]); err != nil || r.onAttach || r.maxCons != 1 {
			t.Fatalf("record without the flags byte: %+v %v", r, err)
		}
	}
}
