//go:build !linux

package main

import "time"

// oDirect is 0: no O_DIRECT here, and the direct case skips.
const oDirect = 0

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
