package broker

import "testing"

// SetDurableAttachHook sets testHookDurableAttach until the test ends.
func SetDurableAttachHook(t *testing.T, f func(subscription string)) {
	testHookDurableAttach = f
	t.Cleanup(func() { testHookDurableAttach = nil })
}
