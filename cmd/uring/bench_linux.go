package main

import (
	"syscall"
	"time"
)

// oDirect opens for direct I/O (0 where the system has no O_DIRECT).
const oDirect = syscall.O_DIRECT

// processCPU returns the process's user plus system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
