package frames

import (
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Descriptor codes of the SASL frames, AMQP 1.0 §5.3.3.
const (
	CodeSASLMechanisms uint64 = 0x40
	CodeSASLInit       uint64 = 0x41
	CodeSASLChallenge  uint64 = 0x42
	CodeSASLResponse   uint64 = 0x43
	CodeSASLOutcome    uint64 = 0x44
)

// SASLMechanisms advertises the server's mechanisms (AMQP 1.0 §5.3.3.1).
type SASLMechanisms struct {
	Mechanisms []types.Symbol // mandatory
}

func (o *SASLMechanisms) String() string { return fmt.Sprintf("SASLMechanisms%v", o.Mechanisms) }

func (o *SASLMechanisms) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeSASLMechanisms)
	w.field()
	if len(o.Mechanisms) == 0 {
		w.b = types.AppendSymbolArray(w.b, []types.Symbol{})
	} else {
		w.b = types.AppendMultiSymbol(w.b, o.Mechanisms)
	}
	return w.end()
}

func (o *SASLMechanisms) unmarshal(d *types.Decoder) error {
	*o = SASLMechanisms{}
	err := fieldList(d, func(i int) (err error) {
		if i == 0 {
			o.Mechanisms, err = d.ReadMultiSymbol()
			return err
		}
		return skipUnknown(d)
	})
	// The field is multiple and mandatory, so null and an empty array are
	// both invalid (AMQP 1.0 §1.4, §5.3.3.1).
	if err == nil && len(o.Mechanisms) == 0 {
		err = missing("sasl-mechanisms", "sasl-server-mechanisms")
	}
	return err
}

// SASLInit selects a mechanism and carries the initial response
// (AMQP 1.0 §5.3.3.2).
type SASLInit struct {
	Mechanism       types.Symbol
	InitialResponse []byte // nil when absent
	Hostname        string
}

func (o *SASLInit) String() string {
	return fmt.Sprintf("SASLInit{Mechanism:%s Hostname:%q InitialResponse:%d bytes}", o.Mechanism, o.Hostname, len(o.InitialResponse))
}

func (o *SASLInit) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeSASLInit)
	w.field()
	w.b = types.AppendSymbol(w.b, o.Mechanism)
	w.binary(o.InitialResponse)
	w.str(o.Hostname)
	return w.end()
}

func (o *SASLInit) unmarshal(d *types.Decoder) error {
	*o = SASLInit{}
	seen := false
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen = true
			o.Mechanism, err = d.ReadSymbol()
		case 1:
			o.InitialResponse, err = readBinaryCopy(d)
		case 2:
			o.Hostname, err = d.ReadString()
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && !seen {
		err = missing("sasl-init", "mechanism")
	}
	return err
}

// SASLChallenge carries a server challenge (AMQP 1.0 §5.3.3.3).
type SASLChallenge struct {
	Challenge []byte
}

func (o *SASLChallenge) String() string {
	return fmt.Sprintf("SASLChallenge{%d bytes}", len(o.Challenge))
}

func (o *SASLChallenge) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeSASLChallenge)
	w.field()
	w.b = types.AppendBinary(w.b, o.Challenge)
	return w.end()
}

func (o *SASLChallenge) unmarshal(d *types.Decoder) error {
	*o = SASLChallenge{}
	seen := false
	err := fieldList(d, func(i int) (err error) {
		if i == 0 {
			seen = true
			o.Challenge, err = readBinaryCopy(d)
			return err
		}
		return skipUnknown(d)
	})
	if err == nil && !seen {
		err = missing("sasl-challenge", "challenge") // mandatory, §5.3.3.3
	}
	return err
}

// SASLResponse carries a client response (AMQP 1.0 §5.3.3.4).
type SASLResponse struct {
	Response []byte
}

func (o *SASLResponse) String() string {
	return fmt.Sprintf("SASLResponse{%d bytes}", len(o.Response))
}

func (o *SASLResponse) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeSASLResponse)
	w.field()
	w.b = types.AppendBinary(w.b, o.Response)
	return w.end()
}

func (o *SASLResponse) unmarshal(d *types.Decoder) error {
	*o = SASLResponse{}
	seen := false
	err := fieldList(d, func(i int) (err error) {
		if i == 0 {
			seen = true
			o.Response, err = readBinaryCopy(d)
			return err
		}
		return skipUnknown(d)
	})
	if err == nil && !seen {
		err = missing("sasl-response", "response") // mandatory, §5.3.3.4
	}
	return err
}

// SASLOutcome ends the SASL exchange (AMQP 1.0 §5.3.3.5). Code 0 is ok, 1
// auth, 2 sys, 3 sys-perm, 4 sys-temp (§5.3.3.6).
type SASLOutcome struct {
	Code           uint8
	AdditionalData []byte
}

func (o *SASLOutcome) String() string {
	return fmt.Sprintf("SASLOutcome{Code:%d AdditionalData:%d bytes}", o.Code, len(o.AdditionalData))
}

func (o *SASLOutcome) AppendTo(b []byte) []byte {
	w := beginPerformative(b, CodeSASLOutcome)
	w.field()
	w.b = types.AppendUbyte(w.b, o.Code)
	w.binary(o.AdditionalData)
	return w.end()
}

func (o *SASLOutcome) unmarshal(d *types.Decoder) error {
	*o = SASLOutcome{}
	seen := false
	err := fieldList(d, func(i int) (err error) {
		switch i {
		case 0:
			seen = true
			o.Code, err = d.ReadUbyte()
		case 1:
			o.AdditionalData, err = readBinaryCopy(d)
		default:
			err = skipUnknown(d)
		}
		return err
	})
	if err == nil && !seen {
		err = missing("sasl-outcome", "code")
	}
	return err
}
