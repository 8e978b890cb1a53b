package broker

import (
	"strings"
	"testing"
)

// TestMatchesName compares matchesName with matches over split levels for
// every filter and name of up to four levels from a small alphabet.
func TestMatchesName(t *testing.T) {
	parts := []string{"a", "ab", "b", "", "+", "#"}
	var names []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		for _, p := range parts {
			n := p
			if depth > 0 {
				n = prefix + "/" + p
			}
			names = append(names, n)
			if depth < 3 {
				gen(n, depth+1)
			}
		}
	}
	gen("", 0)
	for _, f := range names {
		filter := levels(f)
		if validFilter(filter) != nil {
			continue
		}
		for _, n := range names {
			if strings.ContainsAny(n, "+#") {
				continue
			}
			if got, want := matchesName(filter, n), matches(filter, levels(n)); got != want {
				t.Fatalf("matchesName(%q, %q) = %v, want %v", f, n, got, want)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { matchesName([]string{"a", "+", "c", "#"}, "a/b/c/d/e") }); n != 0 {
		t.Fatalf("matchesName allocates %v times", n)
	}
}
