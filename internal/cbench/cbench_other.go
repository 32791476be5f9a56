//go:build !linux || !cgo

package cbench

import (
	"errors"
	"net/netip"
	"time"
)

// MaxDepth is the largest batch or queue depth the loops accept.
const MaxDepth = 4096

var errUnsupported = errors.New("cbench: C liburing loops need Linux and cgo")

// Nop reports that the C loops are unavailable in this build.
func Nop(batch int, d time.Duration) (Result, error) { return Result{}, errUnsupported }

// Read reports that the C loops are unavailable in this build.
func Read(fd int, size int64, qd int, d time.Duration, seed uint64) (Result, error) {
	return Result{}, errUnsupported
}

// EchoClient reports that the C loops are unavailable in this build.
func EchoClient(addr netip.AddrPort, conns, msg int, d time.Duration) (Result, error) {
	return Result{}, errUnsupported
}

// ServeEcho reports that the C loops are unavailable in this build.
func ServeEcho(kind string, lfd, stopFd int) error { return errUnsupported }
