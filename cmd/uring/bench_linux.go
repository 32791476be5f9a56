package main

import (
	"errors"
	"os"
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

// coldDropEvery is how often keepCold drops the data file's pages while a
// side runs.
const coldDropEvery = pagecache.DropEvery

// keepCold is pagecache.KeepCold, with its reasons to skip as the suite's.
func keepCold(path string) (stop func(), err error) {
	stop, err = pagecache.KeepCold(path)
	var skip *pagecache.SkipError
	if errors.As(err, &skip) {
		return nil, errSkip{skip.Reason}
	}
	return stop, err
}

func dropCache(f *os.File) error                   { return pagecache.Drop(f) }
func residentFraction(f *os.File) (float64, error) { return pagecache.Resident(f) }
