package model

import (
	"strings"
	"testing"
)

func TestDecodeStream(t *testing.T) {
	docs, err := DecodeStream(strings.NewReader(`
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: s.a, labels: {on: "true"}}
spec: {address: a, type: queue, messageTtl: {minimum: 30000}}
---
# empty document
---
apiVersion: v1
kind: List
items:
- apiVersion: admin.enmasse.io/v1beta1
  kind: AddressPlan
  metadata: {name: p}
  spec: {addressType: queue, resources: {router: 0.2, broker: 0.3}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Line != 2 {
		t.Fatalf("docs %+v", docs)
	}
	a := docs[0].Object.(*Address)
	if *a.Spec.MessageTTL.Minimum != 30000 || a.Metadata.Labels["on"] != "true" {
		t.Errorf("address %+v", a)
	}
	if p := docs[1].Object.(*AddressPlan); p.Spec.Resources["broker"] != 0.3 {
		t.Errorf("plan %+v", p)
	}
	for in, want := range map[string]string{
		"kind: Address\napiVersion: enmasse.io/v1beta1\nmetadata: {name: x}\nspec: {adress: a}\n": "spec.adress: Unknown field",
		"kind: Address\napiVersion: enmasse.io/v2\n":                                              `apiVersion: Unsupported value: "enmasse.io/v2"`,
		"kind: Queue\napiVersion: enmasse.io/v1beta1\n":                                           `kind: Unsupported value: "Queue"`,
		"apiVersion: enmasse.io/v1beta1\nkind: Address\nspec: {address: [1]}\n":                   "spec.address: Invalid value",
		"- a\n": "want a resource",
	} {
		if _, err := DecodeStream(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestMarshalYAMLKeepsStringsStrings(t *testing.T) {
	a := &Address{Metadata: ObjectMeta{Name: "s.a", Labels: map[string]string{"on": "true", "n": "10"}, ResourceVersion: "12"},
		Spec: AddressSpec{Address: "a", Type: "queue"}}
	b, err := MarshalYAML(a)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := DecodeStream(strings.NewReader("apiVersion: enmasse.io/v1beta1\nkind: Address\n" + string(b)))
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	got := docs[0].Object.(*Address)
	if got.Metadata.Labels["on"] != "true" || got.Metadata.ResourceVersion != "12" {
		t.Errorf("round trip lost types:\n%s", b)
	}
}

func TestAddressResourceName(t *testing.T) {
	for addr, want := range map[string]string{
		"orders":    "default.orders",
		"a.b":       "default.a.b",
		"Orders/EU": "default.orders-eu-",
		"$$$":       "default.",
	} {
		got := AddressResourceName("default", addr)
		if !strings.HasPrefix(got, want) || len(got) > 253 || !dnsSubdomain.MatchString(got) {
			t.Errorf("%q → %q", addr, got)
		}
	}
	if AddressResourceName("d", "A") == AddressResourceName("d", "a") {
		t.Error("distinct addresses share a name")
	}
}
