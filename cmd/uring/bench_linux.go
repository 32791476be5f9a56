package main

import (
	"errors"
	"syscall"
	"time"

	"github.com/goaio/uring/internal/pagecache"
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

// keepCold is pagecache.KeepCold, with its reasons to skip as the suite's.
func keepCold(path string) (stop func(), err error) {
	stop, err = pagecache.KeepCold(path)
	var skip *pagecache.SkipError
	if errors.As(err, &skip) {
		return nil, errSkip{skip.Reason}
	}
	return stop, err
}
