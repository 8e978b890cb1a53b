package message

import (
	"reflect"
	"testing"
)

// TestDecodeOneAllocation: a message with a header and one data section
// decodes in one allocation (message, header and the section's slice
// together), and the result is what was marshalled.
func TestDecodeOneAllocation(t *testing.T) {
	h := DefaultHeader()
	h.Priority = 7
	want := &Message{Header: &h, Data: [][]byte{[]byte("payload")}}
	b, err := want.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Unmarshal(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 1 {
		t.Fatalf("Unmarshal allocates %v times, want 1", allocs)
	}
}

// TestDecodePropertiesInOneAllocation: the properties section shares the
// message's allocation too; only its strings (copied) cost one each.
func TestDecodePropertiesInOneAllocation(t *testing.T) {
	h := DefaultHeader()
	want := &Message{Header: &h, Properties: &Properties{To: "topic/a", GroupSequence: 9, HasGroupSequence: true}, Data: [][]byte{[]byte("payload")}}
	b, err := want.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Unmarshal(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 2 {
		t.Fatalf("Unmarshal allocates %v times, want 2 (the message, the string To)", allocs)
	}
}
