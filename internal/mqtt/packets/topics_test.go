package packets

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidTopicName(t *testing.T) {
	for name, tc := range map[string]struct {
		topic string
		code  ReasonCode // 0 for valid
	}{
		"simple":          {"a/b/c", 0},
		"single slash":    {"/", 0},
		"leading slash":   {"/a", 0},
		"empty levels":    {"a//b", 0},
		"$SYS":            {"$SYS/broker", 0},
		"space":           {"a b", 0},
		"unicode":         {"日本/語", 0},
		"empty":           {"", ReasonTopicNameInvalid},
		"plus":            {"a/+/b", ReasonTopicNameInvalid},
		"hash":            {"a/#", ReasonTopicNameInvalid},
		"plus in a level": {"a+b", ReasonTopicNameInvalid},
		"NUL":             {"a\x00", ReasonMalformedPacket},
		"bad UTF-8":       {"\xC3(", ReasonMalformedPacket},
		"too long":        {strings.Repeat("a", 65536), ReasonMalformedPacket},
	} {
		t.Run(name, func(t *testing.T) {
			err := ValidTopicName(tc.topic)
			if tc.code == 0 && err != nil || tc.code != 0 && codeOf(err) != tc.code {
				t.Fatalf("got %v, want %v", err, tc.code)
			}
		})
	}
}

func TestValidTopicFilter(t *testing.T) {
	for name, tc := range map[string]struct {
		filter string
		code   ReasonCode
	}{
		"plain":             {"a/b", 0},
		"hash alone":        {"#", 0},
		"plus alone":        {"+", 0},
		"hash last":         {"a/b/#", 0},
		"plus middle":       {"a/+/c", 0},
		"plus first":        {"+/a", 0},
		"plus last":         {"a/+", 0},
		"plus plus":         {"+/+", 0},
		"plus then hash":    {"+/#", 0},
		"slash hash":        {"/#", 0},
		"empty levels":      {"//", 0},
		"$share in 3.1.1":   {"$share/x", 0},
		"empty":             {"", ReasonTopicFilterInvalid},
		"hash not last":     {"#/a", ReasonTopicFilterInvalid},
		"hash joined":       {"a#", ReasonTopicFilterInvalid},
		"hash twice":        {"#/#", ReasonTopicFilterInvalid},
		"plus joined left":  {"a+", ReasonTopicFilterInvalid},
		"plus joined right": {"+a", ReasonTopicFilterInvalid},
		"double plus":       {"++", ReasonTopicFilterInvalid},
		"NUL":               {"a/\x00", ReasonMalformedPacket},
	} {
		t.Run(name, func(t *testing.T) {
			err := ValidTopicFilter(tc.filter)
			if tc.code == 0 && err != nil || tc.code != 0 && codeOf(err) != tc.code {
				t.Fatalf("got %v, want %v", err, tc.code)
			}
		})
	}
}

func TestSplitShared(t *testing.T) {
	for name, tc := range map[string]struct {
		in           string
		share, topic string
		shared, bad  bool
	}{
		"not shared":         {in: "a/b", topic: "a/b"},
		"$share alone":       {in: "$share", topic: "$share"},
		"$shared prefix":     {in: "$shared/g/a", topic: "$shared/g/a"},
		"shared":             {in: "$share/g/a/b", share: "g", topic: "a/b", shared: true},
		"shared wildcard":    {in: "$share/g1/#", share: "g1", topic: "#", shared: true},
		"shared slash topic": {in: "$share/g//", share: "g", topic: "/", shared: true},
		"no filter":          {in: "$share/g", shared: true, bad: true},
		"empty filter":       {in: "$share/g/", shared: true, bad: true},
		"empty name":         {in: "$share//a", shared: true, bad: true},
		"nothing":            {in: "$share/", shared: true, bad: true},
		"plus in name":       {in: "$share/+/a", shared: true, bad: true},
		"hash in name":       {in: "$share/a#/a", shared: true, bad: true},
		"bad filter":         {in: "$share/g/a+", shared: true, bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			share, topic, shared, err := SplitShared(tc.in)
			if shared != tc.shared || (err != nil) != tc.bad {
				t.Fatalf("shared=%v err=%v", shared, err)
			}
			if tc.bad {
				if codeOf(err) != ReasonTopicFilterInvalid {
					t.Fatalf("code of %v", err)
				}
				return
			}
			if share != tc.share || topic != tc.topic {
				t.Fatalf("got %q %q", share, topic)
			}
		})
	}
}

func TestValidString(t *testing.T) {
	if err := ValidString("ok é"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\x00", "\xED\xA0\x80", "\xFF", strings.Repeat("a", 65536)} {
		if codeOf(ValidString(s)) != ReasonMalformedPacket {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestPropIDNames(t *testing.T) {
	n := 0
	for id := 0; id < 256; id++ {
		if PropID(id).info() != nil {
			n++
			if strings.HasPrefix(PropID(id).String(), "property") {
				t.Errorf("0x%02x has no name", id)
			}
		}
	}
	if n != 27 {
		t.Fatalf("%d property identifiers, want 27", n)
	}
	if PropID(0x04).String() != "property 0x04" {
		t.Fatal(PropID(0x04).String())
	}
	if TypeAuth.String() != "AUTH" || PacketType(16).String() != "packet type 16" {
		t.Fatal("type names")
	}
}

// TestPropertiesEmpty: setting any one field of Properties makes it
// non-empty, so the encoder's fast path never drops a property.
func TestPropertiesEmpty(t *testing.T) {
	var zero Properties
	if !zero.empty() {
		t.Fatal("zero value not empty")
	}
	v := reflect.ValueOf(&zero).Elem()
	for i := 0; i < v.NumField(); i++ {
		var p Properties
		f := reflect.ValueOf(&p).Elem().Field(i)
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Uint8, reflect.Uint16, reflect.Uint32:
			f.SetUint(1)
		case reflect.String:
			f.SetString("x")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("field %s of kind %v", v.Type().Field(i).Name, f.Kind())
		}
		if p.empty() {
			t.Errorf("field %s set, but empty", v.Type().Field(i).Name)
		}
		any := false
		for _, id := range propOrder {
			any = any || p.Has(id)
		}
		if !any {
			t.Errorf("field %s set, but no property is present", v.Type().Field(i).Name)
		}
	}
}
