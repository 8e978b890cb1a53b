package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// refDecode is an independent reading of the format in doc.go: the
// records recovery must return for a single segment file b, where the
// valid part ends, and whether the header is valid.
func refDecode(b []byte) (map[uint64][]byte, int, bool) {
	le := binary.LittleEndian
	if len(b) < 32 || string(b[:8]) != "ENMJRNL\x00" || le.Uint16(b[8:]) != 1 || le.Uint16(b[10:]) != 32 ||
		le.Uint64(b[16:]) != 1 || crc32.Checksum(b[:24], castagnoli) != le.Uint32(b[24:]) {
		return nil, 0, false
	}
	type rec struct {
		del  bool
		key  uint64
		data []byte
	}
	m := map[uint64][]byte{}
	end, off := 32, 32
	var batch []rec
	for off+17 <= len(b) {
		n, typ, key, sum := int(le.Uint32(b[off:])), b[off+4], le.Uint64(b[off+5:]), le.Uint32(b[off+13:])
		kind, more := typ&0x7f, typ&0x80 != 0
		if (kind != 1 && kind != 2) || (kind == 2 && n != 0) || n > 1<<28 || off+17+n > len(b) {
			break
		}
		data := b[off+17 : off+17+n]
		if crc32.Update(crc32.Checksum(b[off:off+13], castagnoli), castagnoli, data) != sum {
			break
		}
		batch = append(batch, rec{kind == 2, key, data})
		off += 17 + n
		if !more {
			for _, r := range batch {
				if r.del {
					delete(m, r.key)
				} else {
					m[r.key] = r.data
				}
			}
			batch, end = batch[:0], off
		}
	}
	return m, end, true
}

// fuzzSeed returns a valid segment 1 with puts, an overwrite, a delete
// and a batch.
func fuzzSeed(t testing.TB) []byte {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, NoSync: true})
	must(t, err)
	ctx := context.Background()
	must(t, l.Put(ctx, 1, []byte("one")))
	must(t, l.Put(ctx, 2, []byte("two")))
	must(t, l.Put(ctx, 1, []byte("uno")))
	must(t, l.Delete(ctx, 2))
	must(t, l.PutBatch(ctx, []Record{{3, []byte("three")}, {4, nil}, {5, bytes.Repeat([]byte{5}, 40)}}))
	must(t, l.Put(ctx, 1<<63, []byte("big key")))
	must(t, l.Close())
	b, err := os.ReadFile(filepath.Join(dir, segName(1)))
	must(t, err)
	return b
}

func FuzzRecover(f *testing.F) {
	seed := fuzzSeed(f)
	f.Add(seed)
	f.Add(seed[:len(seed)-3])
	f.Add(seed[:segHeaderSize])
	f.Add(seed[:segHeaderSize+20])
	f.Add([]byte{})
	f.Add([]byte("ENMJRNL\x00 not a header"))
	flipped := bytes.Clone(seed)
	flipped[segHeaderSize+recHeaderSize+1] ^= 1
	f.Add(flipped)
	f.Fuzz(func(t *testing.T, seg []byte) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o644))
		l, err := Open(Options{Dir: dir, NoSync: true, SegmentSize: 4096})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer l.Close()
		want, end, headerOK := refDecode(seg)
		r := l.Recovery()
		switch {
		case !headerOK:
			if len(r.Corrupt) != 1 || !r.Corrupt[0].Quarantined {
				t.Fatalf("bad header not quarantined: %+v", r)
			}
			want = map[uint64][]byte{}
		case r.TruncatedBytes != int64(len(seg)-end) || len(r.Corrupt) != 0:
			t.Fatalf("recovery %+v; the valid part ends at %d of %d", r, end, len(seg))
		}
		got := contents(t, l)
		if !maps.EqualFunc(got, want, bytesEqual) {
			t.Fatalf("Replay returned %d records, want %d (only records whose CRC verified): %v vs %v",
				len(got), len(want), sortedKeys(got), sortedKeys(want))
		}
		if err := l.Check(); err != nil {
			t.Fatalf("Check: %v", err)
		}
		// The recovered log takes writes.
		must(t, l.Put(context.Background(), 77, []byte("x")))
	})
}
