package bench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// RunRelay measures the ceiling of this machine for a message stream: a
// producer writes count length-prefixed messages of size bytes to a plain
// TCP relay on loopback, which copies the bytes to a consumer that parses
// them back into messages. Writes are batched through 64 KiB buffers, as
// an AMQP connection batches frames. It returns messages per second.
func RunRelay(count, size int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	relayErr := make(chan error, 1)
	go func() {
		in, err := ln.Accept()
		if err != nil {
			relayErr <- err
			return
		}
		defer in.Close()
		out, err := ln.Accept()
		if err != nil {
			relayErr <- err
			return
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		relayErr <- err
	}()
	prod, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer prod.Close()
	cons, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer cons.Close()

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		r := bufio.NewReaderSize(cons, 64<<10)
		buf := make([]byte, size)
		var hdr [4]byte
		for i := 0; i < count; i++ {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				done <- fmt.Errorf("message %d: %w", i, err)
				return
			}
			n := binary.BigEndian.Uint32(hdr[:])
			if _, err := io.ReadFull(r, buf[:n]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	w := bufio.NewWriterSize(prod, 64<<10)
	msg := make([]byte, 4+size)
	binary.BigEndian.PutUint32(msg, uint32(size))
	for range count {
		if _, err := w.Write(msg); err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return float64(count) / time.Since(start).Seconds(), nil
}
