package frames

import (
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// fieldList decodes a described list's fields one by one: read(i) is called
// for every field index i whose value is not null (a null or absent field
// keeps its default). Fields past the ones a type knows are skipped, as
// AMQP 1.0 §1.4 allows for extensibility.
func fieldList(d *types.Decoder, read func(i int) error) error {
	h, err := d.ReadListHeader()
	if err != nil {
		return err
	}
	for i := range h.Count {
		if d.Pos() >= h.End {
			// ReadNull reads past the end of the whole input as null;
			// a list must hold every element it declares.
			return &types.DecodeError{Offset: d.Pos(), Reason: "list declares more elements than it holds"}
		}
		if d.ReadNull() {
			continue
		}
		if err := read(i); err != nil {
			return err
		}
	}
	return d.EndCompound(h)
}

// skipUnknown is what read functions return for fields they do not know.
func skipUnknown(d *types.Decoder) error { return d.Skip() }

// listWriter accumulates the fields of a described list, deferring nulls so
// trailing nulls are never written (AMQP 1.0 §1.4).
type listWriter struct {
	b       []byte
	c       types.Compound
	count   int
	pending int // nulls not yet written
}

func beginPerformative(b []byte, code uint64) listWriter {
	b = types.AppendDescriptor(b, code)
	b, c := types.BeginList(b)
	return listWriter{b: b, c: c}
}

func (w *listWriter) flushNulls() {
	for ; w.pending > 0; w.pending-- {
		w.b = types.AppendNull(w.b)
		w.count++
	}
}

func (w *listWriter) null() { w.pending++ }

func (w *listWriter) field() { w.flushNulls(); w.count++ }

func (w *listWriter) end() []byte { return types.EndList(w.b, w.c, w.count) }

func (w *listWriter) str(v string) {
	if v == "" {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendString(w.b, v)
}

func (w *listWriter) mandatoryStr(v string) { w.field(); w.b = types.AppendString(w.b, v) }

func (w *listWriter) sym(v types.Symbol) {
	if v == "" {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendSymbol(w.b, v)
}

func (w *listWriter) uint(v uint32, present bool) {
	if !present {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendUint(w.b, v)
}

func (w *listWriter) ulong(v uint64, present bool) {
	if !present {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendUlong(w.b, v)
}

func (w *listWriter) ushort(v uint16, present bool) {
	if !present {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendUshort(w.b, v)
}

func (w *listWriter) ubyte(v uint8, present bool) {
	if !present {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendUbyte(w.b, v)
}

// boolean writes v, or null when v equals the field's default.
func (w *listWriter) boolean(v, def bool) {
	if v == def {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendBool(w.b, v)
}

func (w *listWriter) mandatoryBool(v bool) { w.field(); w.b = types.AppendBool(w.b, v) }

func (w *listWriter) binary(v []byte) {
	if v == nil {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendBinary(w.b, v)
}

func (w *listWriter) symbols(v []types.Symbol) {
	if len(v) == 0 {
		w.null()
		return
	}
	w.field()
	w.b = types.AppendMultiSymbol(w.b, v)
}

func (w *listWriter) fields(m types.Map) {
	if m == nil {
		w.null()
		return
	}
	w.value(m)
}

func (w *listWriter) any(v any) {
	if v == nil {
		w.null()
		return
	}
	w.value(v)
}

// value writes v, or null when v holds a Go type the type system cannot
// encode. types.AppendAny leaves a partial encoding behind when it fails, so
// the buffer is cut back first; otherwise the frame would be malformed.
func (w *listWriter) value(v any) {
	w.field()
	start := len(w.b)
	b, err := types.AppendAny(w.b, v)
	if err != nil {
		b = types.AppendNull(w.b[:start])
	}
	w.b = b
}

func (w *listWriter) errField(e *Error) {
	if e == nil {
		w.null()
		return
	}
	w.field()
	w.b = e.appendTo(w.b)
}

func (w *listWriter) state(s DeliveryState) {
	if s == nil {
		w.null()
		return
	}
	w.field()
	w.b = s.appendTo(w.b)
}

// readFields reads a fields map (AMQP 1.0 §2.8.14: keys are symbols).
func readFields(d *types.Decoder) (types.Map, error) {
	v, err := d.ReadAny()
	if err != nil {
		return nil, err
	}
	m, ok := v.(types.Map)
	if !ok {
		return nil, &types.DecodeError{Offset: d.Pos(), Reason: "fields value is not a map"}
	}
	for i, kv := range m {
		switch k := kv.Key.(type) {
		case types.Symbol:
		case string:
			// Some clients (go-amqp's Error.Info) send string keys;
			// accept them as the symbols they mean.
			m[i].Key = types.Symbol(k)
		default:
			return nil, &types.DecodeError{Offset: d.Pos(), Reason: "fields key is not a symbol"}
		}
	}
	return m, nil
}

func readBinaryCopy(d *types.Decoder) ([]byte, error) {
	b, err := d.ReadBinaryBytes()
	if err != nil {
		return nil, err
	}
	return append([]byte{}, b...), nil
}
