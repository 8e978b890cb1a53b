package store

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// TestStoreFormatGolden pins the on-disk bytes described in doc.go. The
// CRCs were checked with an independent bitwise CRC32-C.
func TestStoreFormatGolden(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"segment header 1", segHeader(1),
			"454e4d4a524e4c00" + "0100" + "2000" + "00000000" + "0100000000000000" + "48234806" + "00000000"},
		{"put key 0x0102030405060708 hi", appendRecord(nil, typePut, 0x0102030405060708, []byte("hi")),
			"02000000" + "01" + "0807060504030201" + "91f54210" + "6869"},
		{"delete key 7, batch continues", appendRecord(nil, typeDelete|flagBatchMore, 7, nil),
			"00000000" + "82" + "0700000000000000" + "6a7ffb0d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(tt.got); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestStoreZeroTail: after a power loss a file system may show the file
// extended with zeros. That is a torn tail, not corruption.
func TestStoreZeroTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir})
	must(t, l.Put(ctx, 1, []byte("kept")))
	checkAndClose(t, l)
	must(t, appendBytes(filepath.Join(dir, segName(1)), make([]byte, 4096)))
	l = openLog(t, Options{Dir: dir})
	if r := l.Recovery(); r.TruncatedBytes != 4096 || len(r.Corrupt) != 0 {
		t.Errorf("recovery %+v, want 4096 bytes truncated", r)
	}
	wantContents(t, l, map[uint64][]byte{1: []byte("kept")})
	fi, err := os.Stat(filepath.Join(dir, segName(1)))
	must(t, err)
	if fi.Size() != segHeaderSize+recHeaderSize+4 {
		t.Errorf("segment is %d bytes after truncation", fi.Size())
	}
}
