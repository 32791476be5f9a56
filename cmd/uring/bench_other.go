//go:build !linux

package main

import (
	"runtime"
	"time"
)

// oDirect is 0: no O_DIRECT here, and the direct case skips.
const oDirect = 0

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }

// keepCold cannot drop pages here (no fadvise(2)): the cold case skips.
func keepCold(string) (func(), error) {
	return nil, errSkip{"no fadvise(2) on " + runtime.GOOS + ": the page cache cannot be dropped"}
}
