package frames

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// roundTrip encodes b in a frame, parses the frame and decodes its body.
func roundTrip(t *testing.T, typ byte, b Body) (Body, error) {
	t.Helper()
	enc := AppendFrame(nil, typ, 7, b)
	f, n, _, err := ParseFrame(enc, 1<<20)
	if err != nil || n != len(enc) {
		t.Fatalf("ParseFrame(% x) = %d, %v", enc, n, err)
	}
	if f.Type != typ || f.Channel != 7 {
		t.Fatalf("header type %d channel %d", f.Type, f.Channel)
	}
	return Decode(f.Type, f.Body)
}

func typeOf(b Body) byte {
	switch b.(type) {
	case *SASLMechanisms, *SASLInit, *SASLChallenge, *SASLResponse, *SASLOutcome:
		return TypeSASL
	}
	return TypeAMQP
}

func TestRoundTrip(t *testing.T) {
	annotations := types.Map{
		{Key: types.Symbol("x-opt-a"), Value: int64(-1)},
		{Key: types.Symbol("x-opt-b"), Value: []any{"x", uint8(1), types.Timestamp(1700000000000)}},
	}
	tests := map[string]struct {
		in      Body
		want    Body // nil: the same as in
		wantErr bool // the encoding does not decode
	}{
		// Zero values. Fields whose zero value is not the default (such as
		// max-frame-size 0, snd-settle-mode unsettled) are sent explicitly,
		// so the zero value survives.
		"open zero":        {in: &Open{}},
		"begin zero":       {in: &Begin{}},
		"attach zero":      {in: &Attach{}},
		"flow zero":        {in: &Flow{}},
		"transfer zero":    {in: &Transfer{}, want: &Transfer{Payload: []byte{}}},
		"disposition zero": {in: &Disposition{}},
		"detach zero":      {in: &Detach{}},
		"end zero":         {in: &End{}},
		"close zero":       {in: &Close{}},
		// sasl-server-mechanisms is multiple and mandatory: an empty
		// array is invalid (AMQP 1.0 §1.4, §5.3.3.1).
		"sasl-mechanisms zero": {in: &SASLMechanisms{}, wantErr: true},
		"sasl-init zero":       {in: &SASLInit{}},
		// A nil challenge or response is sent as an empty binary: the
		// field is mandatory.
		"sasl-challenge zero": {in: &SASLChallenge{}, want: &SASLChallenge{Challenge: []byte{}}},
		"sasl-response zero":  {in: &SASLResponse{}, want: &SASLResponse{Response: []byte{}}},
		"sasl-outcome zero":   {in: &SASLOutcome{}},
		"attach zero termini": {
			in: &Attach{Source: &Source{}, Target: &Target{}},
			want: &Attach{Source: &Source{ExpiryPolicy: ExpirySessionEnd},
				Target: &Target{ExpiryPolicy: ExpirySessionEnd}},
		},

		// Every field set.
		"open every field": {in: &Open{
			ContainerID: "c", Hostname: "h", MaxFrameSize: 512, ChannelMax: 0, IdleTimeout: 1,
			OutgoingLocales: []types.Symbol{"en"}, IncomingLocales: []types.Symbol{"en", "fr"},
			OfferedCapabilities: []types.Symbol{"a"}, DesiredCapabilities: []types.Symbol{"b", "c"},
			Properties: types.Map{{Key: types.Symbol("k"), Value: "v"}},
		}},
		"begin every field": {in: &Begin{
			RemoteChannel: 65535, HasRemoteChannel: true, NextOutgoingID: 4294967295, IncomingWindow: 1,
			OutgoingWindow: 2, HandleMax: 7, OfferedCapabilities: []types.Symbol{"x"},
			DesiredCapabilities: []types.Symbol{"y", "z"}, Properties: types.Map{{Key: types.Symbol("k"), Value: true}},
		}},
		"attach every field": {in: &Attach{
			Name: "link", Handle: 4294967295, Role: RoleReceiver, SndSettleMode: SndSettled, RcvSettleMode: RcvSecond,
			Source: &Source{
				Address: "src", Durable: DurableUnsettled, ExpiryPolicy: ExpiryConnectionClose, Timeout: 60,
				Dynamic: true, DynamicNodeProperties: types.Map{{Key: types.Symbol("supported-dist-modes"), Value: types.Symbol("move")}},
				DistributionMode: DistMove,
				Filter: types.Map{{Key: types.Symbol("f"),
					Value: types.Described{Descriptor: types.Symbol("apache.org:legacy-amqp-topic-binding:string"), Value: "a.*"}}},
				DefaultOutcome: Rejected{}, Outcomes: []types.Symbol{"amqp:released:list"},
				Capabilities: []types.Symbol{"queue"},
			},
			Target: &Target{
				Address: "tgt", Durable: DurableConfiguration, ExpiryPolicy: ExpiryNever, Timeout: 5, Dynamic: true,
				DynamicNodeProperties: types.Map{{Key: types.Symbol("x"), Value: nil}},
				Capabilities:          []types.Symbol{"topic", "shared"},
			},
			Unsettled:            types.Map{{Key: []byte("tag"), Value: types.Described{Descriptor: uint64(0x26), Value: []any{}}}},
			IncompleteUnsettled:  true,
			InitialDeliveryCount: 9, HasInitialDeliveryCount: true,
			MaxMessageSize:      1 << 40,
			OfferedCapabilities: []types.Symbol{"o"}, DesiredCapabilities: []types.Symbol{"d1", "d2"},
			Properties: types.Map{{Key: types.Symbol("p"), Value: uint64(1)}},
		}},
		"flow every field": {in: &Flow{
			NextIncomingID: 1, HasNextIncomingID: true, IncomingWindow: 2, NextOutgoingID: 3, OutgoingWindow: 4,
			Handle: 5, HasHandle: true, DeliveryCount: 6, HasDeliveryCount: true, LinkCredit: 7, HasLinkCredit: true,
			Available: 8, HasAvailable: true, Drain: true, Echo: true,
			Properties: types.Map{{Key: types.Symbol("k"), Value: int32(-5)}},
		}},
		"transfer every field": {in: &Transfer{
			Handle: 1, DeliveryID: 2, HasDeliveryID: true, DeliveryTag: make([]byte, 32),
			MessageFormat: 3, HasMessageFormat: true, Settled: true, HasSettled: true, More: true,
			RcvSettleMode: RcvSecond, HasRcvSettleMode: true,
			State:  Modified{DeliveryFailed: true, UndeliverableHere: true, MessageAnnotations: annotations},
			Resume: true, Aborted: true, Batchable: true, Payload: []byte{0x00, 0x53, 0x75, 0xa0, 0x00},
		}},
		"disposition every field": {in: &Disposition{
			Role: RoleSender, First: 1, Last: 2, HasLast: true, Settled: true,
			State:     Rejected{Error: &Error{Condition: ErrInternal, Description: "d", Info: annotations}},
			Batchable: true,
		}},
		"detach every field": {in: &Detach{Handle: 3, Closed: true,
			Error: &Error{Condition: ErrDetachForced, Description: "bye", Info: types.Map{{Key: types.Symbol("k"), Value: "v"}}}}},
		"end every field":             {in: &End{Error: &Error{Condition: ErrErrantLink, Description: "d", Info: types.Map{}}}},
		"close every field":           {in: &Close{Error: &Error{Condition: ErrFramingError, Description: "d", Info: annotations}}},
		"sasl-mechanisms every field": {in: &SASLMechanisms{Mechanisms: []types.Symbol{"SCRAM-SHA-256", "PLAIN"}}},
		"sasl-init every field": {in: &SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00u\x00p"),
			Hostname: "h"}},
		"sasl-challenge every field": {in: &SASLChallenge{Challenge: []byte("c")}},
		"sasl-response every field":  {in: &SASLResponse{Response: []byte("r")}},
		"sasl-outcome every field":   {in: &SASLOutcome{Code: 4, AdditionalData: []byte("a")}},

		// Each delivery state in a transfer.
		"transfer accepted":               {in: &Transfer{Handle: 1, State: Accepted{}, Payload: []byte{}}},
		"transfer released":               {in: &Transfer{Handle: 1, State: Released{}, Payload: []byte{}}},
		"transfer received":               {in: &Transfer{Handle: 1, State: Received{SectionNumber: 1, SectionOffset: 2}, Payload: []byte{}}},
		"transfer rejected without error": {in: &Transfer{Handle: 1, State: Rejected{}, Payload: []byte{}}},
		"transfer declared": {in: &Transfer{Handle: 1, Payload: []byte{},
			State: OtherState{Descriptor: CodeDeclared, Value: []any{[]byte("txn")}}}},
		// last equal to first is the same range as no last; it is not sent.
		"disposition last equals first": {
			in:   &Disposition{Role: RoleReceiver, First: 4, Last: 4, HasLast: true},
			want: &Disposition{Role: RoleReceiver, First: 4},
		},
		// An empty capability list is the same as none and is not sent.
		"open empty capabilities": {
			in:   &Open{ContainerID: "c", OfferedCapabilities: []types.Symbol{}},
			want: &Open{ContainerID: "c"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := roundTrip(t, typeOf(tc.in), tc.in)
			if tc.wantErr {
				if !errors.Is(err, types.ErrDecode) {
					t.Fatalf("decoded %v, %v; want a decode error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := tc.want
			if want == nil {
				want = tc.in
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

// listCount returns the number of fields of the performative list encoded in
// body (descriptor 0x00 0x53 code, then the list).
func listCount(t *testing.T, body []byte) int {
	t.Helper()
	if len(body) < 4 || body[0] != 0x00 || body[1] != types.CodeSmallUlong {
		t.Fatalf("not a described performative: % x", body)
	}
	switch body[3] {
	case types.CodeList0:
		return 0
	case types.CodeList8:
		return int(body[5])
	case types.CodeList32:
		return int(binary.BigEndian.Uint32(body[8:]))
	}
	t.Fatalf("not a list: % x", body)
	return 0
}

// TestTrailingNullsOmitted checks that the encoder truncates the field list
// after the last non-null field (AMQP 1.0 §1.4: "the list MAY be
// truncated").
func TestTrailingNullsOmitted(t *testing.T) {
	tests := map[string]struct {
		in        Body
		wantCount int
	}{
		"open with only container-id": {
			&Open{ContainerID: "c", MaxFrameSize: DefaultMaxFrameSize, ChannelMax: DefaultChannelMax}, 1},
		"open up to idle-time-out": {
			&Open{ContainerID: "c", MaxFrameSize: DefaultMaxFrameSize, ChannelMax: DefaultChannelMax, IdleTimeout: 1}, 5},
		"open up to properties": {
			&Open{ContainerID: "c", MaxFrameSize: DefaultMaxFrameSize, ChannelMax: DefaultChannelMax,
				Properties: types.Map{}}, 10},
		"begin with mandatory fields":        {&Begin{HandleMax: DefaultHandleMax}, 4},
		"attach with mandatory fields":       {&Attach{Name: "l", SndSettleMode: SndMixed}, 3},
		"flow session only":                  {&Flow{}, 4},
		"transfer with only a handle":        {&Transfer{Handle: 1}, 1},
		"transfer settled false is sent":     {&Transfer{HasSettled: true}, 5},
		"disposition with role and first":    {&Disposition{First: 1}, 2},
		"disposition last equal to first":    {&Disposition{First: 1, Last: 1, HasLast: true}, 2},
		"detach with only a handle":          {&Detach{}, 1},
		"end without error":                  {&End{}, 0},
		"close without error":                {&Close{}, 0},
		"sasl-init with only mechanism":      {&SASLInit{Mechanism: "ANONYMOUS"}, 1},
		"sasl-outcome without data":          {&SASLOutcome{Code: 1}, 1},
		"sasl-init with empty response":      {&SASLInit{Mechanism: "ANONYMOUS", InitialResponse: []byte{}}, 2},
		"sasl-mechanisms with one mechanism": {&SASLMechanisms{Mechanisms: []types.Symbol{"PLAIN"}}, 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := tc.in.AppendTo(nil)
			if got := listCount(t, body); got != tc.wantCount {
				t.Fatalf("%d fields encoded, want %d: % x", got, tc.wantCount, body)
			}
		})
	}
	// Termini, errors and outcomes truncate too.
	a := (&Attach{Name: "l", SndSettleMode: SndMixed, Source: &Source{ExpiryPolicy: ExpirySessionEnd},
		Target: &Target{Address: "t", ExpiryPolicy: ExpirySessionEnd}}).AppendTo(nil)
	want := cat(
		bs(0x00, 0x53, 0x12, 0xc0, 0x15, 0x07), // attach, list8, size 21, 7 fields
		bs(0xa1, 0x01, 'l', 0x43, 0x42),        // name, handle, role
		bs(0x40, 0x40),                         // settle modes null
		bs(0x00, 0x53, 0x28, 0x45),             // source: list0
		bs(0x00, 0x53, 0x29, 0xc0, 0x04, 0x01, // target: 1 field
			0xa1, 0x01, 't'),
	)
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("attach\n got % x\nwant % x", a, want)
	}
	r := (&Disposition{First: 1, State: Rejected{Error: &Error{Condition: "c"}}}).AppendTo(nil)
	want = cat(
		bs(0x00, 0x53, 0x15, 0xc0, 0x15, 0x05), // disposition, list8, size 21, 5 fields
		bs(0x42, 0x52, 0x01, 0x40, 0x40),       // role, first, last, settled
		bs(0x00, 0x53, 0x25, 0xc0, 0x0a, 0x01), // rejected, list8, size 10, 1 field
		bs(0x00, 0x53, 0x1d, 0xc0, 0x04, 0x01), // error, list8, size 4, 1 field
		bs(0xa3, 0x01, 'c'),                    // condition
	)
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("disposition\n got % x\nwant % x", r, want)
	}
}

// TestDecodeDefaults checks the defaults the decoder applies when a field
// is absent (the list is truncated before it) or null.
func TestDecodeDefaults(t *testing.T) {
	open := func(fields ...[]byte) []byte {
		l := cat(fields...)
		return cat(bs(0x00, 0x53, 0x10, 0xc0, byte(len(l)+1), byte(len(fields))), l)
	}
	t.Run("open absent", func(t *testing.T) {
		o := decodeAs[*Open](t, TypeAMQP, open(bs(0xa1, 0x01, 'c')))
		if o.MaxFrameSize != 4294967295 || o.ChannelMax != 65535 || o.IdleTimeout != 0 {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("open null", func(t *testing.T) {
		o := decodeAs[*Open](t, TypeAMQP, open(bs(0xa1, 0x01, 'c'), bs(0x40), bs(0x40), bs(0x40), bs(0x40)))
		if o.MaxFrameSize != 4294967295 || o.ChannelMax != 65535 || o.Hostname != "" {
			t.Fatalf("%+v", o)
		}
	})
	t.Run("begin handle-max", func(t *testing.T) {
		b := decodeAs[*Begin](t, TypeAMQP, bs(0x00, 0x53, 0x11, 0xc0, 0x05, 0x04, 0x40, 0x43, 0x43, 0x43))
		if b.HandleMax != 4294967295 || b.HasRemoteChannel {
			t.Fatalf("%+v", b)
		}
	})
	t.Run("attach settle modes and termini", func(t *testing.T) {
		a := decodeAs[*Attach](t, TypeAMQP, cat(
			bs(0x00, 0x53, 0x12, 0xc0, 0x10, 0x07), // attach, list8, size 16, 7 fields
			bs(0xa1, 0x01, 'l', 0x43, 0x41, 0x40, 0x40),
			bs(0x00, 0x53, 0x28, 0x45), // source list0
			bs(0x00, 0x53, 0x29, 0x45), // target list0
		))
		if a.SndSettleMode != SndMixed || a.RcvSettleMode != RcvFirst || a.HasInitialDeliveryCount ||
			a.MaxMessageSize != 0 || a.IncompleteUnsettled || a.Unsettled != nil {
			t.Fatalf("%+v", a)
		}
		s, tg := a.Source, a.Target
		if s.ExpiryPolicy != ExpirySessionEnd || s.Durable != DurableNone || s.Timeout != 0 || s.Dynamic ||
			s.Address != "" || s.DistributionMode != "" || s.Filter != nil || s.DefaultOutcome != nil {
			t.Fatalf("source %+v", s)
		}
		if tg.ExpiryPolicy != ExpirySessionEnd || tg.Durable != DurableNone || tg.Coordinator {
			t.Fatalf("target %+v", tg)
		}
	})
	t.Run("attach without source or target", func(t *testing.T) {
		a := decodeAs[*Attach](t, TypeAMQP, bs(0x00, 0x53, 0x12, 0xc0, 0x06, 0x03, 0xa1, 0x01, 'l', 0x43, 0x41))
		if a.Source != nil || a.Target != nil || a.SndSettleMode != SndMixed {
			t.Fatalf("%+v", a)
		}
	})
	t.Run("transfer flags", func(t *testing.T) {
		tr := decodeAs[*Transfer](t, TypeAMQP, bs(0x00, 0x53, 0x14, 0xc0, 0x02, 0x01, 0x43))
		if tr.HasSettled || tr.HasDeliveryID || tr.HasMessageFormat || tr.HasRcvSettleMode || tr.More ||
			tr.State != nil || tr.DeliveryTag != nil || len(tr.Payload) != 0 {
			t.Fatalf("%+v", tr)
		}
	})
	t.Run("disposition last", func(t *testing.T) {
		d := decodeAs[*Disposition](t, TypeAMQP, bs(0x00, 0x53, 0x15, 0xc0, 0x04, 0x02, 0x41, 0x52, 0x09))
		if d.HasLast || d.LastID() != 9 || d.Settled || d.State != nil {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("sasl-init", func(t *testing.T) {
		s := decodeAs[*SASLInit](t, TypeSASL, cat(bs(0x00, 0x53, 0x41, 0xc0, 0x06, 0x01, 0xa3, 0x03), str("EXT")))
		if s.InitialResponse != nil || s.Hostname != "" {
			t.Fatalf("%+v", s)
		}
	})
	// Fields after the ones this version knows are skipped (§1.4).
	t.Run("unknown trailing fields", func(t *testing.T) {
		c := decodeAs[*Close](t, TypeAMQP, bs(0x00, 0x53, 0x18, 0xc0, 0x05, 0x03, 0x40, 0x41, 0xa1, 0x00))
		if c.Error != nil {
			t.Fatalf("%+v", c)
		}
	})
}

func decodeAs[T Body](t *testing.T, typ byte, body []byte) T {
	t.Helper()
	b, err := Decode(typ, body)
	if err != nil {
		t.Fatalf("Decode(% x): %v", body, err)
	}
	v, ok := b.(T)
	if !ok {
		t.Fatalf("decoded %T", b)
	}
	return v
}

// TestDeliveryTagLimit: a delivery-tag is at most 32 bytes (AMQP 1.0 §2.8.7).
func TestDeliveryTagLimit(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32} {
		in := &Transfer{Handle: 1, DeliveryTag: make([]byte, n), Payload: []byte{}}
		got, err := roundTrip(t, TypeAMQP, in)
		if err != nil || !reflect.DeepEqual(got, in) {
			t.Fatalf("%d-byte tag: %v %v", n, got, err)
		}
	}
}

// TestStrings makes sure every body and state prints, including nil
// termini and empty states.
func TestStrings(t *testing.T) {
	for name, tc := range catalog {
		if tc.want != nil && tc.want.String() == "" {
			t.Errorf("%s: empty String()", name)
		}
	}
	for _, s := range []DeliveryState{Accepted{}, Rejected{}, Rejected{Error: Errorf(ErrNotFound, "no %s", "x")},
		Released{}, Modified{}, Received{}, OtherState{Descriptor: CodeDeclared}} {
		if s.String() == "" {
			t.Errorf("%T: empty String()", s)
		}
	}
	var src *Source
	var tgt *Target
	if src.String() != "<nil>" || tgt.String() != "<nil>" {
		t.Error("nil termini")
	}
	if got := Errorf(ErrNotFound, "no %s", "queue").Error(); got != "amqp:not-found: no queue" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Condition: ErrInternal}).Error(); got != "amqp:internal-error" {
		t.Errorf("Error() = %q", got)
	}
	if !IsOutcome(Accepted{}) || !IsOutcome(&Modified{}) || IsOutcome(Received{}) || IsOutcome(OtherState{}) {
		t.Error("IsOutcome")
	}
}

// TestEncodeUnencodableValues: a map or opaque value holding a Go type the
// type system cannot encode is sent as null, and the rest of the frame stays
// well formed (AppendTo has no error to return).
func TestEncodeUnencodableValues(t *testing.T) {
	bad := types.Map{{Key: types.Symbol("ok"), Value: "v"}, {Key: types.Symbol("bad"), Value: struct{}{}}}
	tests := map[string]struct {
		in   Body
		want Body
	}{
		"open properties": {
			in:   &Open{ContainerID: "c", MaxFrameSize: 512, ChannelMax: 1, Properties: bad, IdleTimeout: 5},
			want: &Open{ContainerID: "c", MaxFrameSize: 512, ChannelMax: 1, IdleTimeout: 5},
		},
		"attach unsettled, filter and properties": {
			in: &Attach{Name: "l", Unsettled: bad, Source: &Source{Filter: bad, Capabilities: []types.Symbol{"c"}},
				Properties: bad, MaxMessageSize: 1},
			want: &Attach{Name: "l", Source: &Source{ExpiryPolicy: ExpirySessionEnd, Capabilities: []types.Symbol{"c"}},
				MaxMessageSize: 1},
		},
		"error info": {
			in:   &Close{Error: &Error{Condition: ErrInternal, Description: "d", Info: bad}},
			want: &Close{Error: &Error{Condition: ErrInternal, Description: "d"}},
		},
		"modified annotations": {
			in:   &Disposition{First: 1, State: Modified{DeliveryFailed: true, MessageAnnotations: bad}, Batchable: true},
			want: &Disposition{First: 1, State: Modified{DeliveryFailed: true}, Batchable: true},
		},
		"opaque state value": {
			in:   &Transfer{Handle: 1, State: OtherState{Descriptor: CodeTxState, Value: []any{struct{}{}}}, Batchable: true},
			want: &Transfer{Handle: 1, State: OtherState{Descriptor: CodeTxState}, Batchable: true, Payload: []byte{}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := roundTrip(t, TypeAMQP, tc.in)
			if err != nil {
				t.Fatalf("the encoding does not decode: %v\n% x", err, tc.in.AppendTo(nil))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}
