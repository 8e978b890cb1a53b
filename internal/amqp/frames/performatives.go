package frames

import (
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Descriptor codes of the performatives, AMQP 1.0 §2.7.
const (
	CodeOpen        uint64 = 0x10
	CodeBegin       uint64 = 0x11
	CodeAttach      uint64 = 0x12
	CodeFlow        uint64 = 0x13
	CodeTransfer    uint64 = 0x14
	CodeDisposition uint64 = 0x15
	CodeDetach      uint64 = 0x16
	CodeEnd         uint64 = 0x17
	CodeClose       uint64 = 0x18
)

// Body is a frame body: a performative or a SASL frame.
type Body interface {
	// AppendTo appends the body's encoding (for a transfer, the
	// performative followed by its payload).
	AppendTo(b []byte) []byte
	fmt.Stringer
}

// Role is the role of a link endpoint (AMQP 1.0 §2.8.1): false for sender.
type Role bool

const (
	RoleSender   Role = false
	RoleReceiver Role = true
)

func (r Role) String() string {
	if r {
		return "receiver"
	}
	return "sender"
}

// SenderSettleMode is AMQP 1.0 §2.8.2.
type SenderSettleMode uint8

const (
	SndUnsettled SenderSettleMode = 0
	SndSettled   SenderSettleMode = 1
	SndMixed     SenderSettleMode = 2
)

// ReceiverSettleMode is AMQP 1.0 §2.8.3.
type ReceiverSettleMode uint8

const (
	RcvFirst  ReceiverSettleMode = 0
	RcvSecond ReceiverSettleMode = 1
)

// Default values of open and begin fields.
const (
	DefaultMaxFrameSize uint32 = 4294967295
	DefaultChannelMax   uint16 = 65535
	DefaultHandleMax    uint32 = 4294967295
	// MinMaxFrameSize is the smallest max-frame-size a peer may announce
	// (AMQP 1.0 §2.7.1, MIN-MAX-FRAME-SIZE).
	MinMaxFrameSize uint32 = 512
)

// Open negotiates connection parameters (AMQP 1.0 §2.7.1).
//
//	<type name="open" class="composite" source="list" provides="frame">
//	  <descriptor name="amqp:open:list" code="0x00000000:0x00000010"/>
//	  <field name="container-id" type="string" mandatory="true"/>
//	  <field name="hostname" type="string"/>
//	  <field name="max-frame-size" type="uint" default="4294967295"/>
//	  <field name="channel-max" type="ushort" default="65535"/>
//	  <field name="idle-time-out" type="milliseconds"/>
//	  <field name="outgoing-locales" type="ietf-language-tag" multiple="true"/>
//	  <field name="incoming-locales" type="ietf-language-tag" multiple="true"/>
//	  <field name="offered-capabilities" type="symbol" multiple="true"/>
//	  <field name="desired-capabilities" type="symbol" multiple="true"/>
//	  <field name="properties" type="fields"/>
//	</type>
type Open struct {
	ContainerID         string
	Hostname            string
	MaxFrameSize        uint32 // DefaultMaxFrameSize when absent
	ChannelMax          uint16 // DefaultChannelMax when absent
	IdleTimeout         uint32 // milliseconds; 0 = none
	OutgoingLocales     []types.Symbol
	IncomingLocales     []types.Symbol
	OfferedCapabilities []types.Symbol
	DesiredCapabilities []types.Symbol
	Properties          types.Map
}

func (o *Open) String() string {
	return fmt.Sprintf("Open{ContainerID:%q Hostname:%q MaxFrameSize:%d ChannelMax:%d IdleTimeout:%d Offered:%v Desired:%v Properties:%v}",
		o.ContainerID, o.Hostname, o.MaxFrameSize, o.ChannelMax, o.IdleTimeout, o.OfferedCapabilities, o.DesiredCapabilities, o.Properties)
}

func (o *Open) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeOpen)
	w.mandatoryStr(o.ContainerID)
	w.str(o.Hostname)
	w.uint(o.MaxFrameSize, o.MaxFrameSize != DefaultMaxFrameSize)
	w.ushort(o.ChannelMax, o.ChannelMax != DefaultChannelMax)
	w.uint(o.IdleTimeout, o.IdleTimeout != 0)
	w.symbols(o.OutgoingLocales)
	w.symbols(o.IncomingLocales)
	w.symbols(o.OfferedCapabilities)
	w.symbols(o.DesiredCapabilities)
	w.fields(o.Properties)
	return w.end()
}

func (o *Open) unmarshal(d *types.Decoder) (err error) {
	*o = Open{MaxFrameSize: DefaultMaxFrameSize, ChannelMax: DefaultChannelMax}
	seen := false
	err = fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen = true
			o.ContainerID, err = d.ReadString()
		case 1:
			o.Hostname, err = d.ReadString()
		case 2:
			o.MaxFrameSize, err = d.ReadUint()
		case 3:
			o.ChannelMax, err = d.ReadUshort()
		case 4:
			o.IdleTimeout, err = d.ReadUint()
		case 5:
			o.OutgoingLocales, err = d.ReadMultiSymbol()
		case 6:
			o.IncomingLocales, err = d.ReadMultiSymbol()
		case 7:
			o.OfferedCapabilities, err = d.ReadMultiSymbol()
		case 8:
			o.DesiredCapabilities, err = d.ReadMultiSymbol()
		case 9:
			o.Properties, err = readFields(d)
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && !seen {
		err = missing("open", "container-id")
	}
	return err
}

// Begin begins a session on a channel (AMQP 1.0 §2.7.2).
//
//	<field name="remote-channel" type="ushort"/>
//	<field name="next-outgoing-id" type="transfer-number" mandatory="true"/>
//	<field name="incoming-window" type="uint" mandatory="true"/>
//	<field name="outgoing-window" type="uint" mandatory="true"/>
//	<field name="handle-max" type="handle" default="4294967295"/>
//	<field name="offered-capabilities" type="symbol" multiple="true"/>
//	<field name="desired-capabilities" type="symbol" multiple="true"/>
//	<field name="properties" type="fields"/>
type Begin struct {
	RemoteChannel       uint16
	HasRemoteChannel    bool // set when answering a begin
	NextOutgoingID      uint32
	IncomingWindow      uint32
	OutgoingWindow      uint32
	HandleMax           uint32 // DefaultHandleMax when absent
	OfferedCapabilities []types.Symbol
	DesiredCapabilities []types.Symbol
	Properties          types.Map
}

func (o *Begin) String() string {
	rc := "null"
	if o.HasRemoteChannel {
		rc = fmt.Sprint(o.RemoteChannel)
	}
	return fmt.Sprintf("Begin{RemoteChannel:%s NextOutgoingID:%d IncomingWindow:%d OutgoingWindow:%d HandleMax:%d}",
		rc, o.NextOutgoingID, o.IncomingWindow, o.OutgoingWindow, o.HandleMax)
}

func (o *Begin) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeBegin)
	w.ushort(o.RemoteChannel, o.HasRemoteChannel)
	w.uint(o.NextOutgoingID, true)
	w.uint(o.IncomingWindow, true)
	w.uint(o.OutgoingWindow, true)
	w.uint(o.HandleMax, o.HandleMax != DefaultHandleMax)
	w.symbols(o.OfferedCapabilities)
	w.symbols(o.DesiredCapabilities)
	w.fields(o.Properties)
	return w.end()
}

func (o *Begin) unmarshal(d *types.Decoder) error {
	*o = Begin{HandleMax: DefaultHandleMax}
	var seen [3]bool
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			o.HasRemoteChannel = true
			o.RemoteChannel, err = d.ReadUshort()
		case 1:
			seen[0] = true
			o.NextOutgoingID, err = d.ReadUint()
		case 2:
			seen[1] = true
			o.IncomingWindow, err = d.ReadUint()
		case 3:
			seen[2] = true
			o.OutgoingWindow, err = d.ReadUint()
		case 4:
			o.HandleMax, err = d.ReadUint()
		case 5:
			o.OfferedCapabilities, err = d.ReadMultiSymbol()
		case 6:
			o.DesiredCapabilities, err = d.ReadMultiSymbol()
		case 7:
			o.Properties, err = readFields(d)
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && (!seen[0] || !seen[1] || !seen[2]) {
		err = missing("begin", "next-outgoing-id, incoming-window or outgoing-window")
	}
	return err
}

// Attach attaches a link to a session (AMQP 1.0 §2.7.3).
//
//	<field name="name" type="string" mandatory="true"/>
//	<field name="handle" type="handle" mandatory="true"/>
//	<field name="role" type="role" mandatory="true"/>
//	<field name="snd-settle-mode" type="sender-settle-mode" default="mixed"/>
//	<field name="rcv-settle-mode" type="receiver-settle-mode" default="first"/>
//	<field name="source" type="*" requires="source"/>
//	<field name="target" type="*" requires="target"/>
//	<field name="unsettled" type="map"/>
//	<field name="incomplete-unsettled" type="boolean" default="false"/>
//	<field name="initial-delivery-count" type="sequence-no"/>
//	<field name="max-message-size" type="ulong"/>
//	<field name="offered-capabilities" type="symbol" multiple="true"/>
//	<field name="desired-capabilities" type="symbol" multiple="true"/>
//	<field name="properties" type="fields"/>
//
// A null source or target means the link endpoint has no terminus, which an
// answering attach uses to refuse the link (§2.6.3).
type Attach struct {
	Name                    string
	Handle                  uint32
	Role                    Role
	SndSettleMode           SenderSettleMode
	RcvSettleMode           ReceiverSettleMode
	Source                  *Source
	Target                  *Target
	Unsettled               types.Map // non-nil: the peer wants to resume
	IncompleteUnsettled     bool
	InitialDeliveryCount    uint32
	HasInitialDeliveryCount bool
	MaxMessageSize          uint64 // 0 = no limit
	OfferedCapabilities     []types.Symbol
	DesiredCapabilities     []types.Symbol
	Properties              types.Map
}

func (o *Attach) String() string {
	return fmt.Sprintf("Attach{Name:%q Handle:%d Role:%s SndSettleMode:%d RcvSettleMode:%d Source:%v Target:%v InitialDeliveryCount:%d MaxMessageSize:%d Offered:%v Desired:%v}",
		o.Name, o.Handle, o.Role, o.SndSettleMode, o.RcvSettleMode, o.Source, o.Target, o.InitialDeliveryCount, o.MaxMessageSize, o.OfferedCapabilities, o.DesiredCapabilities)
}

func (o *Attach) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeAttach)
	w.mandatoryStr(o.Name)
	w.uint(o.Handle, true)
	w.mandatoryBool(bool(o.Role))
	w.ubyte(uint8(o.SndSettleMode), o.SndSettleMode != SndMixed)
	w.ubyte(uint8(o.RcvSettleMode), o.RcvSettleMode != RcvFirst)
	if o.Source == nil {
		w.null()
	} else {
		w.field()
		w.b = o.Source.appendTo(w.b)
	}
	if o.Target == nil {
		w.null()
	} else {
		w.field()
		w.b = o.Target.appendTo(w.b)
	}
	w.fields(o.Unsettled)
	w.boolean(o.IncompleteUnsettled, false)
	w.uint(o.InitialDeliveryCount, o.HasInitialDeliveryCount)
	w.ulong(o.MaxMessageSize, o.MaxMessageSize != 0)
	w.symbols(o.OfferedCapabilities)
	w.symbols(o.DesiredCapabilities)
	w.fields(o.Properties)
	return w.end()
}

func (o *Attach) unmarshal(d *types.Decoder) error {
	*o = Attach{SndSettleMode: SndMixed}
	var seen [3]bool
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen[0] = true
			o.Name, err = d.ReadString()
		case 1:
			seen[1] = true
			o.Handle, err = d.ReadUint()
		case 2:
			seen[2] = true
			var r bool
			r, err = d.ReadBool()
			o.Role = Role(r)
		case 3:
			var v uint8
			if v, err = d.ReadUbyte(); err == nil && v > 2 {
				err = invalid("attach", "snd-settle-mode")
			}
			o.SndSettleMode = SenderSettleMode(v)
		case 4:
			var v uint8
			if v, err = d.ReadUbyte(); err == nil && v > 1 {
				err = invalid("attach", "rcv-settle-mode")
			}
			o.RcvSettleMode = ReceiverSettleMode(v)
		case 5:
			o.Source = new(Source)
			err = o.Source.unmarshal(d)
		case 6:
			o.Target = new(Target)
			err = o.Target.unmarshal(d)
		case 7:
			var v any
			if v, err = d.ReadAny(); err == nil {
				var ok bool
				if o.Unsettled, ok = v.(types.Map); !ok {
					err = invalid("attach", "unsettled")
				}
			}
		case 8:
			o.IncompleteUnsettled, err = d.ReadBool()
		case 9:
			o.HasInitialDeliveryCount = true
			o.InitialDeliveryCount, err = d.ReadUint()
		case 10:
			o.MaxMessageSize, err = d.ReadUlong()
		case 11:
			o.OfferedCapabilities, err = d.ReadMultiSymbol()
		case 12:
			o.DesiredCapabilities, err = d.ReadMultiSymbol()
		case 13:
			o.Properties, err = readFields(d)
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && (!seen[0] || !seen[1] || !seen[2]) {
		err = missing("attach", "name, handle or role")
	}
	return err
}

// Flow updates session and link flow state (AMQP 1.0 §2.7.4).
//
//	<field name="next-incoming-id" type="transfer-number"/>
//	<field name="incoming-window" type="uint" mandatory="true"/>
//	<field name="next-outgoing-id" type="transfer-number" mandatory="true"/>
//	<field name="outgoing-window" type="uint" mandatory="true"/>
//	<field name="handle" type="handle"/>
//	<field name="delivery-count" type="sequence-no"/>
//	<field name="link-credit" type="uint"/>
//	<field name="available" type="uint"/>
//	<field name="drain" type="boolean" default="false"/>
//	<field name="echo" type="boolean" default="false"/>
//	<field name="properties" type="fields"/>
type Flow struct {
	NextIncomingID    uint32
	HasNextIncomingID bool
	IncomingWindow    uint32
	NextOutgoingID    uint32
	OutgoingWindow    uint32
	Handle            uint32
	HasHandle         bool // link flow state follows
	DeliveryCount     uint32
	HasDeliveryCount  bool
	LinkCredit        uint32
	HasLinkCredit     bool
	Available         uint32
	HasAvailable      bool
	Drain             bool
	Echo              bool
	Properties        types.Map
}

func (o *Flow) String() string {
	s := fmt.Sprintf("Flow{NextIncomingID:%d/%v IncomingWindow:%d NextOutgoingID:%d OutgoingWindow:%d",
		o.NextIncomingID, o.HasNextIncomingID, o.IncomingWindow, o.NextOutgoingID, o.OutgoingWindow)
	if o.HasHandle {
		s += fmt.Sprintf(" Handle:%d DeliveryCount:%d LinkCredit:%d Available:%d Drain:%v", o.Handle, o.DeliveryCount, o.LinkCredit, o.Available, o.Drain)
	}
	return s + fmt.Sprintf(" Echo:%v}", o.Echo)
}

func (o *Flow) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeFlow)
	w.uint(o.NextIncomingID, o.HasNextIncomingID)
	w.uint(o.IncomingWindow, true)
	w.uint(o.NextOutgoingID, true)
	w.uint(o.OutgoingWindow, true)
	w.uint(o.Handle, o.HasHandle)
	w.uint(o.DeliveryCount, o.HasDeliveryCount)
	w.uint(o.LinkCredit, o.HasLinkCredit)
	w.uint(o.Available, o.HasAvailable)
	w.boolean(o.Drain, false)
	w.boolean(o.Echo, false)
	w.fields(o.Properties)
	return w.end()
}

func (o *Flow) unmarshal(d *types.Decoder) error {
	*o = Flow{}
	var seen [3]bool
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			o.HasNextIncomingID = true
			o.NextIncomingID, err = d.ReadUint()
		case 1:
			seen[0] = true
			o.IncomingWindow, err = d.ReadUint()
		case 2:
			seen[1] = true
			o.NextOutgoingID, err = d.ReadUint()
		case 3:
			seen[2] = true
			o.OutgoingWindow, err = d.ReadUint()
		case 4:
			o.HasHandle = true
			o.Handle, err = d.ReadUint()
		case 5:
			o.HasDeliveryCount = true
			o.DeliveryCount, err = d.ReadUint()
		case 6:
			o.HasLinkCredit = true
			o.LinkCredit, err = d.ReadUint()
		case 7:
			o.HasAvailable = true
			o.Available, err = d.ReadUint()
		case 8:
			o.Drain, err = d.ReadBool()
		case 9:
			o.Echo, err = d.ReadBool()
		case 10:
			o.Properties, err = readFields(d)
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && (!seen[0] || !seen[1] || !seen[2]) {
		err = missing("flow", "incoming-window, next-outgoing-id or outgoing-window")
	}
	return err
}

// Transfer carries (part of) a message on a link (AMQP 1.0 §2.7.5).
//
//	<field name="handle" type="handle" mandatory="true"/>
//	<field name="delivery-id" type="delivery-number"/>
//	<field name="delivery-tag" type="delivery-tag"/>
//	<field name="message-format" type="message-format"/>
//	<field name="settled" type="boolean"/>
//	<field name="more" type="boolean" default="false"/>
//	<field name="rcv-settle-mode" type="receiver-settle-mode"/>
//	<field name="state" type="*" requires="delivery-state"/>
//	<field name="resume" type="boolean" default="false"/>
//	<field name="aborted" type="boolean" default="false"/>
//	<field name="batchable" type="boolean" default="false"/>
//
// Payload is the part of the message in this frame. When decoded it aliases
// the frame buffer.
type Transfer struct {
	Handle           uint32
	DeliveryID       uint32
	HasDeliveryID    bool
	DeliveryTag      []byte // aliases the frame buffer when decoded
	MessageFormat    uint32
	HasMessageFormat bool
	Settled          bool
	HasSettled       bool
	More             bool
	RcvSettleMode    ReceiverSettleMode
	HasRcvSettleMode bool
	State            DeliveryState
	Resume           bool
	Aborted          bool
	Batchable        bool
	Payload          []byte
}

func (o *Transfer) String() string {
	return fmt.Sprintf("Transfer{Handle:%d DeliveryID:%d/%v DeliveryTag:%x Settled:%v/%v More:%v Aborted:%v State:%v Payload:%d bytes}",
		o.Handle, o.DeliveryID, o.HasDeliveryID, o.DeliveryTag, o.Settled, o.HasSettled, o.More, o.Aborted, o.State, len(o.Payload))
}

// AppendPerformative appends the transfer performative without its payload.
func (o *Transfer) AppendPerformative(b []byte) []byte {
	w := beginPerformative(b, CodeTransfer)
	w.uint(o.Handle, true)
	w.uint(o.DeliveryID, o.HasDeliveryID)
	w.binary(o.DeliveryTag)
	w.uint(o.MessageFormat, o.HasMessageFormat)
	if o.HasSettled {
		w.field()
		w.b = types.AppendBool(w.b, o.Settled)
	} else {
		w.null()
	}
	w.boolean(o.More, false)
	w.ubyte(uint8(o.RcvSettleMode), o.HasRcvSettleMode)
	w.state(o.State)
	w.boolean(o.Resume, false)
	w.boolean(o.Aborted, false)
	w.boolean(o.Batchable, false)
	return w.end()
}

func (o *Transfer) AppendTo(b []byte) []byte {
	return append(o.AppendPerformative(b), o.Payload...)
}

func (o *Transfer) unmarshal(d *types.Decoder) error {
	*o = Transfer{}
	seen := false
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen = true
			o.Handle, err = d.ReadUint()
		case 1:
			o.HasDeliveryID = true
			o.DeliveryID, err = d.ReadUint()
		case 2:
			o.DeliveryTag, err = d.ReadBinaryBytes()
			if err == nil && len(o.DeliveryTag) > 32 {
				err = invalid("transfer", "delivery-tag longer than 32 bytes") // §2.8.7
			}
		case 3:
			o.HasMessageFormat = true
			o.MessageFormat, err = d.ReadUint()
		case 4:
			o.HasSettled = true
			o.Settled, err = d.ReadBool()
		case 5:
			o.More, err = d.ReadBool()
		case 6:
			var v uint8
			if v, err = d.ReadUbyte(); err == nil && v > 1 {
				err = invalid("transfer", "rcv-settle-mode")
			}
			o.HasRcvSettleMode = true
			o.RcvSettleMode = ReceiverSettleMode(v)
		case 7:
			o.State, err = readDeliveryState(d)
		case 8:
			o.Resume, err = d.ReadBool()
		case 9:
			o.Aborted, err = d.ReadBool()
		case 10:
			o.Batchable, err = d.ReadBool()
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && !seen {
		err = missing("transfer", "handle")
	}
	o.Payload = d.Rest()
	return err
}

// Disposition informs the peer of delivery state changes for a range of
// deliveries (AMQP 1.0 §2.7.6).
//
//	<field name="role" type="role" mandatory="true"/>
//	<field name="first" type="delivery-number" mandatory="true"/>
//	<field name="last" type="delivery-number"/>
//	<field name="settled" type="boolean" default="false"/>
//	<field name="state" type="*" requires="delivery-state"/>
//	<field name="batchable" type="boolean" default="false"/>
type Disposition struct {
	Role      Role
	First     uint32
	Last      uint32
	HasLast   bool // when false the range is just First
	Settled   bool
	State     DeliveryState
	Batchable bool
}

func (o *Disposition) String() string {
	last := o.First
	if o.HasLast {
		last = o.Last
	}
	return fmt.Sprintf("Disposition{Role:%s First:%d Last:%d Settled:%v State:%v}", o.Role, o.First, last, o.Settled, o.State)
}

func (o *Disposition) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeDisposition)
	w.mandatoryBool(bool(o.Role))
	w.uint(o.First, true)
	w.uint(o.Last, o.HasLast && o.Last != o.First)
	w.boolean(o.Settled, false)
	w.state(o.State)
	w.boolean(o.Batchable, false)
	return w.end()
}

func (o *Disposition) unmarshal(d *types.Decoder) error {
	*o = Disposition{}
	var seen [2]bool
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen[0] = true
			var r bool
			r, err = d.ReadBool()
			o.Role = Role(r)
		case 1:
			seen[1] = true
			o.First, err = d.ReadUint()
		case 2:
			o.HasLast = true
			o.Last, err = d.ReadUint()
		case 3:
			o.Settled, err = d.ReadBool()
		case 4:
			o.State, err = readDeliveryState(d)
		case 5:
			o.Batchable, err = d.ReadBool()
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && (!seen[0] || !seen[1]) {
		err = missing("disposition", "role or first")
	}
	return err
}

// LastID returns the last delivery id of the range.
func (o *Disposition) LastID() uint32 {
	if o.HasLast {
		return o.Last
	}
	return o.First
}

// Detach detaches (Closed: closes) a link endpoint (AMQP 1.0 §2.7.7).
//
//	<field name="handle" type="handle" mandatory="true"/>
//	<field name="closed" type="boolean" default="false"/>
//	<field name="error" type="error"/>
type Detach struct {
	Handle uint32
	Closed bool
	Error  *Error
}

func (o *Detach) String() string {
	return fmt.Sprintf("Detach{Handle:%d Closed:%v Error:%v}", o.Handle, o.Closed, o.Error)
}

func (o *Detach) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeDetach)
	w.uint(o.Handle, true)
	w.boolean(o.Closed, false)
	w.errField(o.Error)
	return w.end()
}

func (o *Detach) unmarshal(d *types.Decoder) error {
	*o = Detach{}
	seen := false
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen = true
			o.Handle, err = d.ReadUint()
		case 1:
			o.Closed, err = d.ReadBool()
		case 2:
			o.Error, err = readError(d)
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && !seen {
		err = missing("detach", "handle")
	}
	return err
}

// End ends a session (AMQP 1.0 §2.7.8).
type End struct {
	Error *Error
}

func (o *End) String() string { return fmt.Sprintf("End{Error:%v}", o.Error) }

func (o *End) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeEnd)
	w.errField(o.Error)
	return w.end()
}

func (o *End) unmarshal(d *types.Decoder) error {
	*o = End{}
	return fieldList(d, func(i int) (err error) {
		if i == 0 {
			o.Error, err = readError(d)
			return err
		}
		return skipUnknown(d)
	})
}

// Close closes the connection (AMQP 1.0 §2.7.9).
type Close struct {
	Error *Error
}

func (o *Close) String() string { return fmt.Sprintf("Close{Error:%v}", o.Error) }

func (o *Close) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeClose)
	w.errField(o.Error)
	return w.end()
}

func (o *Close) unmarshal(d *types.Decoder) error {
	*o = Close{}
	return fieldList(d, func(i int) (err error) {
		if i == 0 {
			o.Error, err = readError(d)
			return err
		}
		return skipUnknown(d)
	})
}

func missing(perf, field string) error {
	return &types.DecodeError{Reason: perf + ": mandatory field " + field + " is missing"}
}

func invalid(perf, field string) error {
	return &types.DecodeError{Reason: perf + ": invalid " + field}
}
