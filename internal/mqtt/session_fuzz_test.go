package mqtt

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// mapSessions is a SessionStore over a map, for the fuzz test.
type mapSessions struct {
	recs    map[uint64][]byte
	dropped []string
}

func (m *mapSessions) Put(_ context.Context, k uint64, d []byte) error {
	m.recs[k] = slices.Clone(d)
	return nil
}
func (m *mapSessions) PutMany(ctx context.Context, keys []uint64, data [][]byte) error {
	for i, k := range keys {
		m.Put(ctx, k, data[i])
	}
	return nil
}
func (m *mapSessions) Delete(_ context.Context, k uint64) error { delete(m.recs, k); return nil }
func (m *mapSessions) DeleteAsync(k uint64) error               { delete(m.recs, k); return nil }
func (m *mapSessions) Replay(fn func(uint64, []byte) error) error {
	for _, k := range slices.Sorted(maps.Keys(m.recs)) {
		if err := fn(k, m.recs[k]); err != nil {
			return err
		}
	}
	return nil
}
func (m *mapSessions) Space(user string) string { return "" }
func (m *mapSessions) DropSubscription(space, name string) error {
	m.dropped = append(m.dropped, space+"/"+name)
	return nil
}

func fuzzSeeds() [][]byte {
	sess := &session{id: sessionID{"default", "c1"}, version: packets.Version5, expiry: 60,
		subs: map[string]subRecord{"a/+/b": {qos: 1, flags: 3, subID: 9}, "x/#": {qos: 2}}}
	pub, _ := packets.Append(nil, &packets.Publish{Topic: "a/b", QoS: 1, PacketID: 4, Payload: []byte("p")}, packets.Version5)
	return [][]byte{
		sess.record(time.UnixMilli(1_700_000_000_000)),
		sess.record(time.Time{}),
		childRecord(recQoS2In, 1, 7),
		append(append(childRecord(recOutgoing, 1, 4), 0), pub...),
		append(childRecord(recOutgoing, 1, 5), 1),
		{recSession},
		{recOutgoing, 1},
	}
}

// FuzzSessionRecords: LoadSessions never crashes on stored records, and a
// session record that parses round-trips.
func FuzzSessionRecords(f *testing.F) {
	seeds := fuzzSeeds()
	for _, s := range seeds {
		f.Add(s, seeds[0])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		st := &mapSessions{recs: map[uint64][]byte{1: a, 2: b}}
		s := NewServer(Options{Sessions: st})
		defer s.sessions.stop()
		s.LoadSessions() // garbage is refused with an error; it must not panic
		for _, d := range [][]byte{a, b} {
			if len(d) == 0 || d[0] != recSession {
				continue
			}
			sess, err := parseSession(d)
			if err != nil {
				continue
			}
			again, err := parseSession(sess.record(sess.offlineSince))
			if err != nil || again.id != sess.id || again.expiry != sess.expiry || again.version != sess.version ||
				!again.offlineSince.Equal(sess.offlineSince) || !reflect.DeepEqual(again.subs, sess.subs) {
				t.Fatalf("session record does not round-trip: %+v vs %+v (%v)", sess, again, err)
			}
		}
	})
}
