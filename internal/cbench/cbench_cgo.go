//go:build linux && cgo

package cbench

/*
#cgo !uring_dynamic LDFLAGS: -l:liburing.a
#cgo uring_dynamic LDFLAGS: -luring
#define _GNU_SOURCE // accept4
#include "cbench.h"
#include "echo.h"
*/
import "C"

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"time"
)

// MaxDepth is the largest batch or queue depth the loops accept.
const MaxDepth = C.CBENCH_MAX_DEPTH

func result(r C.cbench_result) (Result, error) {
	res := Result{Ops: uint64(r.ops), Elapsed: time.Duration(r.ns)}
	if r.err != 0 {
		return res, syscall.Errno(r.err)
	}
	return res, nil
}

// Nop runs NOP round trips at the given batch size for d: prep batch NOPs,
// io_uring_submit_and_wait for all of them, reap the batch, repeat. It is the
// upper bound for a dispatcher's per-operation overhead.
//
// Implements: cbench_nop (io_uring_prep_nop, io_uring_submit_and_wait,
// io_uring_peek_batch_cqe).
func Nop(batch int, d time.Duration) (Result, error) {
	if batch <= 0 || batch > MaxDepth {
		return Result{}, syscall.EINVAL
	}
	return result(C.cbench_nop(C.uint(batch), C.int64_t(d)))
}

// Read runs BlockSize random reads of fd at queue depth qd for d, at offsets
// that are multiples of BlockSize below size. It keeps qd reads in flight,
// refilling from each reaped batch and submitting the refills and waiting in
// one io_uring_enter, then drains before returning. Its buffers are 4096-byte
// aligned, so fd may be opened with O_DIRECT. seed picks the offsets.
//
// Implements: cbench_read (io_uring_prep_read, io_uring_submit_and_wait,
// io_uring_peek_batch_cqe).
func Read(fd int, size int64, qd int, d time.Duration, seed uint64) (Result, error) {
	if qd <= 0 || qd > MaxDepth || size < BlockSize || fd < 0 {
		return Result{}, syscall.EINVAL
	}
	return result(C.cbench_read(C.int(fd), C.int64_t(size), C.uint(qd), BlockSize, C.int64_t(d), C.uint64_t(seed)))
}

// EchoClient drives the TCP echo server at addr (IPv4) from one thread with
// epoll: conns connections each do msg-byte ping-pong for d, every byte
// checked. Ops counts round trips. A light client: the comparisons of
// servers' CPU need the load generator to take little of the machine.
//
// Implements: cbench_echo_client (epoll, read, write).
func EchoClient(addr netip.AddrPort, conns, msg int, d time.Duration) (Result, error) {
	if !addr.Addr().Is4() {
		return Result{}, syscall.EAFNOSUPPORT
	}
	ip := addr.Addr().As4()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], addr.Port())
	return result(C.cbench_echo_client(C.uint32_t(binary.NativeEndian.Uint32(ip[:])),
		C.uint16_t(binary.NativeEndian.Uint16(port[:])), C.int(conns), C.int(msg), C.int64_t(d)))
}

// ServeEcho serves TCP echo on the listening socket lfd (non-blocking) with
// the C server kind, "epoll" or "uring", on the calling goroutine's thread,
// until stopFd (an eventfd or a pipe's read end) is readable.
//
// Implements: cbench_echo_epoll_server, cbench_echo_uring_server (SINGLE_ISSUER,
// DEFER_TASKRUN, multishot accept, multishot recv into a provided-buffer ring).
func ServeEcho(kind string, lfd, stopFd int) error {
	var rc C.int
	switch kind {
	case "epoll":
		rc = C.cbench_echo_epoll_server(C.int(lfd), C.int(stopFd))
	case "uring":
		rc = C.cbench_echo_uring_server(C.int(lfd), C.int(stopFd))
	default:
		return syscall.EINVAL
	}
	if rc != 0 {
		return syscall.Errno(rc)
	}
	return nil
}
