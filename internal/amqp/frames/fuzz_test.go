package frames

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// FuzzFrames treats the input as a byte stream from a peer, delivered in two
// reads cut at a fuzzer-chosen point (as sockets split frames anywhere,
// STYLE d.6). It checks that
//
//   - framing never panics and gives the same frames and the same error
//     whether the stream arrives whole or in two parts;
//   - every frame body either fails with a decode error or decodes to a
//     value that re-encodes (AppendTo) and decodes again to an equal value;
//   - re-encoding is a fixed point: encode(decode(encode(v))) == encode(v);
//   - what Decode accepts is a well-formed AMQP value (types.Decoder.Skip
//     agrees), followed by the payload for a transfer;
//   - DecodeTransfer agrees with Decode on transfers.
func FuzzFrames(f *testing.F) {
	var all []byte
	for _, name := range catalogNames() {
		raw := catalog[name].raw
		all = append(all, raw...)
		f.Add(raw, uint16(len(raw)/2))              // whole frame, cut in the middle
		f.Add(raw[:len(raw)/2], uint16(len(raw)/4)) // first half of a frame only
	}
	f.Add(all, uint16(len(all)/3))
	f.Add(bs(0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00), uint16(4)) // 4 GiB frame
	f.Add(bs(0x00, 0x00, 0x00, 0x07, 0x02, 0x00, 0x00, 0x00), uint16(0)) // size below 8
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		k := int(cut) % (len(b) + 1)
		whole, werr := readStream(t, b)
		split, serr := readStream(t, b[:k], b[k:])
		if errString(werr) != errString(serr) {
			t.Fatalf("whole stream: %v; split at %d: %v", werr, k, serr)
		}
		if werr != nil && !errors.Is(werr, ErrFrameTooLarge) && !errors.Is(werr, ErrMalformedFrame) {
			t.Fatalf("framing error %v matches neither ErrFrameTooLarge nor ErrMalformedFrame", werr)
		}
		if len(whole) != len(split) {
			t.Fatalf("%d frames whole, %d split at %d", len(whole), len(split), k)
		}
		for i := range whole {
			if !reflect.DeepEqual(whole[i], split[i]) {
				t.Fatalf("frame %d: whole %+v, split %+v", i, whole[i], split[i])
			}
			checkBody(t, whole[i])
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// readStream parses frames the way a connection reader does: append each
// read to a buffer and take every complete frame from its front. It stops
// at the first framing error. Frame bodies are copied out.
func readStream(t *testing.T, reads ...[]byte) ([]Frame, error) {
	var frames []Frame
	var buf []byte
	for _, r := range reads {
		buf = append(buf, r...)
		for {
			f, n, need, err := ParseFrame(buf, maxFrame64K)
			if err != nil {
				return frames, err
			}
			if n == 0 {
				if need <= len(buf) || need < HeaderSize || need > maxFrame64K {
					t.Fatalf("ParseFrame wants %d bytes with %d buffered", need, len(buf))
				}
				break
			}
			if n < HeaderSize || n > len(buf) || n != need {
				t.Fatalf("ParseFrame took %d bytes (need %d) of %d", n, need, len(buf))
			}
			f.Body = bytes.Clone(f.Body)
			frames = append(frames, f)
			buf = buf[n:]
		}
	}
	return frames, nil
}

func checkBody(t *testing.T, f Frame) {
	if len(f.Body) == 0 {
		return // heartbeat
	}
	v, err := Decode(f.Type, f.Body)
	if err != nil {
		if !errors.Is(err, types.ErrDecode) {
			t.Fatalf("Decode error %v does not match types.ErrDecode", err)
		}
		if v != nil {
			t.Fatalf("Decode returned %v with error %v", v, err)
		}
		return
	}
	// What Decode accepts is well formed for the type system too: one
	// described value (then the payload, for a transfer).
	perf := len(f.Body)
	if tr, ok := v.(*Transfer); ok {
		perf -= len(tr.Payload)
	}
	if d := types.NewDecoder(f.Body); d.Skip() != nil || d.Pos() != perf {
		t.Fatalf("Decode accepted % x as %v, but it is not one well-formed value of %d bytes", f.Body, v, perf)
	}
	if want, ok := v.(*Transfer); ok {
		tr := Transfer{Handle: 1, More: true, State: Accepted{}} // stale values must not survive
		if err := DecodeTransfer(f.Body, &tr); err != nil || !reflect.DeepEqual(&tr, want) {
			t.Fatalf("DecodeTransfer = %v, %v; Decode = %v", &tr, err, want)
		}
	}
	enc := AppendFrame(nil, f.Type, f.Channel, v)
	f2, n, _, err := ParseFrame(enc, math.MaxUint32)
	if err != nil || n != len(enc) || f2.Type != f.Type || f2.Channel != f.Channel {
		t.Fatalf("re-encoded frame % x: n %d, %+v, %v", enc, n, f2, err)
	}
	v2, err := Decode(f2.Type, f2.Body)
	if err != nil {
		t.Fatalf("%v\nre-encodes to % x\nwhich does not decode: %v", v, f2.Body, err)
	}
	if c1, c2 := canon(v), canon(v2); !reflect.DeepEqual(c1, c2) {
		t.Fatalf("round trip changed the value\nfrom % x\n got %#v\nwant %#v", f.Body, c2, c1)
	}
	if enc2 := AppendFrame(nil, f.Type, f.Channel, v2); !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding is not a fixed point\n% x\n% x", enc, enc2)
	}
}

// canon returns a copy of b with the differences the wire cannot carry
// removed, so that decode(encode(v)) can be compared with v:
//
//   - an empty symbol array in an optional multiple field is sent as null
//     (both mean "none", AMQP 1.0 §1.4);
//   - a disposition whose last equals first is sent without last (§2.7.6);
//   - an empty expiry-policy symbol is sent as null, which reads as the
//     default session-end;
//   - values of maps and of opaque delivery states compare by their
//     encoding: arrays re-encode with the smallest element code, and NaN is
//     not equal to itself under reflect.DeepEqual.
func canon(b Body) Body {
	switch v := b.(type) {
	case *Open:
		c := *v
		c.OutgoingLocales, c.IncomingLocales = syms(c.OutgoingLocales), syms(c.IncomingLocales)
		c.OfferedCapabilities, c.DesiredCapabilities = syms(c.OfferedCapabilities), syms(c.DesiredCapabilities)
		c.Properties = encMap(c.Properties)
		return &c
	case *Begin:
		c := *v
		c.OfferedCapabilities, c.DesiredCapabilities = syms(c.OfferedCapabilities), syms(c.DesiredCapabilities)
		c.Properties = encMap(c.Properties)
		return &c
	case *Attach:
		c := *v
		if c.Source != nil {
			s := *c.Source
			s.ExpiryPolicy = expiry(s.ExpiryPolicy)
			s.DynamicNodeProperties, s.Filter = encMap(s.DynamicNodeProperties), encMap(s.Filter)
			s.DefaultOutcome = canonState(s.DefaultOutcome)
			s.Outcomes, s.Capabilities = syms(s.Outcomes), syms(s.Capabilities)
			c.Source = &s
		}
		if c.Target != nil {
			tg := *c.Target
			tg.ExpiryPolicy = expiry(tg.ExpiryPolicy)
			tg.DynamicNodeProperties = encMap(tg.DynamicNodeProperties)
			tg.Capabilities = syms(tg.Capabilities)
			c.Target = &tg
		}
		c.Unsettled, c.Properties = encMap(c.Unsettled), encMap(c.Properties)
		c.OfferedCapabilities, c.DesiredCapabilities = syms(c.OfferedCapabilities), syms(c.DesiredCapabilities)
		return &c
	case *Flow:
		c := *v
		c.Properties = encMap(c.Properties)
		return &c
	case *Transfer:
		c := *v
		c.State = canonState(c.State)
		return &c
	case *Disposition:
		c := *v
		if c.HasLast && c.Last == c.First {
			c.HasLast, c.Last = false, 0
		}
		c.State = canonState(c.State)
		return &c
	case *Detach:
		c := *v
		c.Error = canonError(c.Error)
		return &c
	case *End:
		return &End{Error: canonError(v.Error)}
	case *Close:
		return &Close{Error: canonError(v.Error)}
	}
	return b // SASL frames carry nothing to normalise
}

func syms(s []types.Symbol) []types.Symbol {
	if len(s) == 0 {
		return nil
	}
	return s
}

func expiry(p types.Symbol) types.Symbol {
	if p == "" {
		return ExpirySessionEnd
	}
	return p
}

// encMap replaces a map by its encoding, keeping nil apart from empty.
func encMap(m types.Map) types.Map {
	if m == nil {
		return nil
	}
	return types.Map{{Key: "encoding", Value: encAny(m)}}
}

func encAny(v any) []byte {
	b, err := types.AppendAny(nil, v)
	if err != nil {
		return []byte("unencodable: " + err.Error())
	}
	return b
}

func canonError(e *Error) *Error {
	if e == nil {
		return nil
	}
	c := *e
	c.Info = encMap(c.Info)
	return &c
}

func canonState(s DeliveryState) DeliveryState {
	switch v := s.(type) {
	case Rejected:
		return Rejected{Error: canonError(v.Error)}
	case Modified:
		v.MessageAnnotations = encMap(v.MessageAnnotations)
		return v
	case OtherState:
		return OtherState{Descriptor: v.Descriptor, Value: encAny(v.Value)}
	}
	return s
}
