//go:build race

package uring

import (
	"runtime"
	"unsafe"
)

const raceEnabled = true

// raceKernelAccess tells the race detector about the kernel's access to a
// request's buffer, so that -race sees a goroutine touching a buffer while
// an operation on it is in flight.
func raceKernelAccess(p unsafe.Pointer, n int, write bool) {
	if p == nil || n <= 0 {
		return
	}
	if write {
		runtime.RaceWriteRange(p, n)
	} else {
		runtime.RaceReadRange(p, n)
	}
}
