package uring

import (
	"testing"
	"unsafe"
)

// Slots are written by the dispatcher on one core and read by their waiter on
// another: a slot must not share a cache line with its neighbour.
func TestSlotIsWholeCacheLines(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n%64 != 0 {
		t.Fatalf("sizeof(slot) = %d, not a multiple of 64: adjust slotPad", n)
	}
}
