package frames

import (
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Descriptor codes of termini, AMQP 1.0 §3.5 and §4.5.1.
const (
	CodeSource      uint64 = 0x28
	CodeTarget      uint64 = 0x29
	CodeCoordinator uint64 = 0x30
)

// Terminus durability, AMQP 1.0 §3.5.5.
const (
	DurableNone          uint32 = 0
	DurableConfiguration uint32 = 1
	DurableUnsettled     uint32 = 2
)

// Terminus expiry policies, AMQP 1.0 §3.5.6.
const (
	ExpiryLinkDetach      types.Symbol = "link-detach"
	ExpirySessionEnd      types.Symbol = "session-end"
	ExpiryConnectionClose types.Symbol = "connection-close"
	ExpiryNever           types.Symbol = "never"
)

// Distribution modes, AMQP 1.0 §3.5.7 (std-dist-mode).
const (
	DistMove types.Symbol = "move"
	DistCopy types.Symbol = "copy"
)

// Source is the source terminus of a link (AMQP 1.0 §3.5.3).
//
//	<field name="address" type="*" requires="address"/>
//	<field name="durable" type="terminus-durability" default="none"/>
//	<field name="expiry-policy" type="terminus-expiry-policy" default="session-end"/>
//	<field name="timeout" type="seconds" default="0"/>
//	<field name="dynamic" type="boolean" default="false"/>
//	<field name="dynamic-node-properties" type="node-properties"/>
//	<field name="distribution-mode" type="symbol" requires="distribution-mode"/>
//	<field name="filter" type="filter-set"/>
//	<field name="default-outcome" type="*" requires="outcome"/>
//	<field name="outcomes" type="symbol" multiple="true"/>
//	<field name="capabilities" type="symbol" multiple="true"/>
//
// Address is empty when the address field is null.
type Source struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          types.Symbol // ExpirySessionEnd when absent
	Timeout               uint32       // seconds
	Dynamic               bool
	DynamicNodeProperties types.Map
	DistributionMode      types.Symbol
	Filter                types.Map // filter-set: symbol keys, described values
	DefaultOutcome        DeliveryState
	Outcomes              []types.Symbol
	Capabilities          []types.Symbol
}

func (s *Source) String() string {
	if s == nil {
		return "<nil>"
	}
	return fmt.Sprintf("Source{Address:%q Durable:%d Expiry:%s Dynamic:%v Dist:%s Filter:%v Caps:%v}",
		s.Address, s.Durable, s.ExpiryPolicy, s.Dynamic, s.DistributionMode, s.Filter, s.Capabilities)
}

func (s *Source) appendTo(b []byte) []byte {
	w := beginPerformative(b, CodeSource)
	w.str(s.Address)
	w.uint(s.Durable, s.Durable != DurableNone)
	w.sym(expiryOrEmpty(s.ExpiryPolicy))
	w.uint(s.Timeout, s.Timeout != 0)
	w.boolean(s.Dynamic, false)
	w.fields(s.DynamicNodeProperties)
	w.sym(s.DistributionMode)
	w.fields(s.Filter)
	w.state(s.DefaultOutcome)
	w.symbols(s.Outcomes)
	w.symbols(s.Capabilities)
	return w.end()
}

func expiryOrEmpty(p types.Symbol) types.Symbol {
	if p == ExpirySessionEnd {
		return ""
	}
	return p
}

// readAddress reads an address, which the standard address type defines as
// a string; symbols are accepted as well since some clients send them.
func readAddress(d *types.Decoder) (string, error) {
	c, err := d.PeekCode()
	if err != nil {
		return "", err
	}
	if c == types.CodeSym8 || c == types.CodeSym32 {
		s, err := d.ReadSymbol()
		return string(s), err
	}
	return d.ReadString()
}

func (s *Source) unmarshal(d *types.Decoder) error {
	*s = Source{ExpiryPolicy: ExpirySessionEnd}
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return err
	}
	if code != CodeSource {
		return &types.DecodeError{Offset: d.Pos(), Reason: fmt.Sprintf("attach source has descriptor %#x, not source", code)}
	}
	return fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			s.Address, err = readAddress(d)
		case 1:
			s.Durable, err = d.ReadUint()
		case 2:
			s.ExpiryPolicy, err = d.ReadSymbol()
		case 3:
			s.Timeout, err = d.ReadUint()
		case 4:
			s.Dynamic, err = d.ReadBool()
		case 5:
			s.DynamicNodeProperties, err = readFields(d)
		case 6:
			s.DistributionMode, err = d.ReadSymbol()
		case 7:
			var v any
			if v, err = d.ReadAny(); err == nil {
				var ok bool
				if s.Filter, ok = v.(types.Map); !ok {
					err = invalid("source", "filter")
				}
			}
		case 8:
			s.DefaultOutcome, err = readDeliveryState(d)
		case 9:
			s.Outcomes, err = d.ReadMultiSymbol()
		case 10:
			s.Capabilities, err = d.ReadMultiSymbol()
		default:
			err = skipUnknown(d)
		}
		return err
	})
}

// Target is the target terminus of a link (AMQP 1.0 §3.5.4), or a
// transaction coordinator (AMQP 1.0 §4.5.1) when Coordinator is set.
//
//	<field name="address" type="*" requires="address"/>
//	<field name="durable" type="terminus-durability" default="none"/>
//	<field name="expiry-policy" type="terminus-expiry-policy" default="session-end"/>
//	<field name="timeout" type="seconds" default="0"/>
//	<field name="dynamic" type="boolean" default="false"/>
//	<field name="dynamic-node-properties" type="node-properties"/>
//	<field name="capabilities" type="symbol" multiple="true"/>
type Target struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          types.Symbol
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties types.Map
	Capabilities          []types.Symbol
	Coordinator           bool // a coordinator target; only Capabilities is meaningful
}

func (t *Target) String() string {
	if t == nil {
		return "<nil>"
	}
	if t.Coordinator {
		return fmt.Sprintf("Coordinator{Caps:%v}", t.Capabilities)
	}
	return fmt.Sprintf("Target{Address:%q Durable:%d Expiry:%s Dynamic:%v Caps:%v}",
		t.Address, t.Durable, t.ExpiryPolicy, t.Dynamic, t.Capabilities)
}

func (t *Target) appendTo(b []byte) []byte {
	if t.Coordinator {
		w := beginPerformative(b, CodeCoordinator)
		w.symbols(t.Capabilities)
		return w.end()
	}
	w := beginPerformative(b, CodeTarget)
	w.str(t.Address)
	w.uint(t.Durable, t.Durable != DurableNone)
	w.sym(expiryOrEmpty(t.ExpiryPolicy))
	w.uint(t.Timeout, t.Timeout != 0)
	w.boolean(t.Dynamic, false)
	w.fields(t.DynamicNodeProperties)
	w.symbols(t.Capabilities)
	return w.end()
}

func (t *Target) unmarshal(d *types.Decoder) error {
	*t = Target{ExpiryPolicy: ExpirySessionEnd}
	code, _, err := d.ReadDescriptor()
	if err != nil {
		return err
	}
	switch code {
	case CodeCoordinator:
		t.Coordinator = true
		return fieldList(d, func(i int) (err error) {
			if i == 0 {
				t.Capabilities, err = d.ReadMultiSymbol()
				return err
			}
			return skipUnknown(d)
		})
	case CodeTarget:
	default:
		return &types.DecodeError{Offset: d.Pos(), Reason: fmt.Sprintf("attach target has descriptor %#x, not target", code)}
	}
	return fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			t.Address, err = readAddress(d)
		case 1:
			t.Durable, err = d.ReadUint()
		case 2:
			t.ExpiryPolicy, err = d.ReadSymbol()
		case 3:
			t.Timeout, err = d.ReadUint()
		case 4:
			t.Dynamic, err = d.ReadBool()
		case 5:
			t.DynamicNodeProperties, err = readFields(d)
		case 6:
			t.Capabilities, err = d.ReadMultiSymbol()
		default:
			err = skipUnknown(d)
		}
		return err
	})
}
