// Package uring gives Go programs Linux io_uring through liburing, in an API
// that feels like Go: a call parks only the calling goroutine, many calls share
// one system call, and a closed ring leaves nothing behind.
//
// A [Ring] is a set of io_uring instances (shards). Operations are described by
// package [github.com/goaio/uring/ops] and submitted in one of five forms:
//
//   - [Ring.Do] blocks the calling goroutine until the operation completes;
//   - [Ring.Async] runs a function with the result;
//   - [Ring.Submit] returns a [Future] whose Done channel a caller can select on;
//   - [Ring.Stream] iterates over the completions of a multishot operation;
//   - [Ring.Multishot] hands each completion of a multishot operation to a [Sink];
//
// and [Ring.DoBatch] submits several operations together, optionally linked.
//
// Every blocking call takes a [context.Context]: a deadline becomes an
// io_uring linked timeout (a multishot operation, or a link chain in a batch,
// is cancelled when the deadline passes instead), a cancellation an async
// cancel. A call returns only after the kernel is done with the memory it was
// given; when the operation completed anyway, its real result is returned.
//
// Where io_uring is unavailable (an old kernel, kernel.io_uring_disabled, a
// container's seccomp profile, another OS, CGO_ENABLED=0) [New] returns an error
// that matches [ErrUnsupported] and wraps the cause, and [Available] says why.
package uring

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/goaio/uring/ops"
)

var (
	// ErrUnsupported matches errors for a missing io_uring, or an operation
	// the running kernel does not have. It wraps errors.ErrUnsupported.
	ErrUnsupported = fmt.Errorf("uring: not supported: %w", errors.ErrUnsupported)
	// ErrClosed is returned by calls on a closed Ring, and by calls whose
	// operation was cancelled because the Ring was closed.
	ErrClosed = errors.New("uring: ring closed")
	// ErrMultishot is returned by Do, Submit and DoBatch for a multishot
	// operation: use Stream.
	ErrMultishot = errors.New("uring: multishot operation needs Stream")
	// ErrBroken is returned by every call on a Ring whose kernel side failed
	// for good (io_uring_enter answered EBADF, or EOWNERDEAD: the SQPOLL
	// thread is gone); the error also matches that errno. Close it.
	ErrBroken = errors.New("uring: ring unusable")
	// ErrBatchTooLarge is returned by DoBatch for more operations than one
	// submission holds (the SQ size).
	ErrBatchTooLarge = errors.New("uring: batch larger than the submission queue")
)

// UnsupportedError explains why io_uring, or one operation, cannot be used.
// errors.Is(err, ErrUnsupported) holds for it, and errors.Is also sees Cause.
type UnsupportedError struct {
	What  string // "io_uring", or the operation's name
	Cause error  // the errno from io_uring_setup, or nil
}

func (e *UnsupportedError) Error() string {
	if e.Cause == nil {
		return "uring: " + e.What + " not supported by this kernel"
	}
	return "uring: " + e.What + " not available: " + e.Cause.Error()
}

// Unwrap lets errors.Is match both ErrUnsupported and the cause.
func (e *UnsupportedError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrUnsupported}
	}
	return []error{ErrUnsupported, e.Cause}
}

// Result is one completion: Res is the operation's return value (bytes moved,
// a new fd, a poll mask, ...) and Flags its IORING_CQE_F_* flags.
type Result struct {
	Res      int32
	Flags    uint32
	MsgFlags int32 // recvmsg: the returned msg_flags
	OOBN     int32 // recvmsg: bytes of control data received
	shard    int32
}

// N returns Res as an int: the byte count or descriptor of a successful call.
func (r Result) N() int { return int(r.Res) }

// Err returns the operation's error: syscall.Errno(-Res) for a negative Res.
func (r Result) Err() error {
	if r.Res < 0 {
		return errnoErr(syscall.Errno(-r.Res))
	}
	return nil
}

// More reports IORING_CQE_F_MORE: a multishot operation goes on.
func (r Result) More() bool { return r.Flags&ops.CQEFlagMore != 0 }

// BufferID returns the provided buffer a completion used, and whether it used one.
func (r Result) BufferID() (uint16, bool) {
	return uint16(r.Flags >> 16), r.Flags&ops.CQEFlagBuffer != 0
}

// errnoErr returns common errnos as themselves; syscall.Errno is an integer, so
// boxing it into an error allocates only for values above 255.
func errnoErr(e syscall.Errno) error { return e }

// Stats are a Ring's counters since New, summed over its shards. They say
// where an operation's time goes: how many operations shared a system call
// (MeanBatch, EntersPerOp), how many callers had to park and be woken
// (ParksPerOp), and how often the completion side was woken (Wakeups).
type Stats struct {
	Submitted     uint64  // operations handed to the kernel
	Completed     uint64  // completions reaped
	InFlight      int64   // submitted, final completion not yet reaped
	Batches       uint64  // io_uring_enter submissions
	MeanBatch     float64 // Submitted / Batches
	Enters        uint64  // io_uring_enter system calls of every kind: submissions, waits, flushes
	TaskrunEnters uint64  // enters made only because the kernel flagged pending task work (IORING_SQ_TASKRUN; only with IORING_SETUP_TASKRUN_FLAG, which the ring does not use: docs/design.md)
	Parks         uint64  // Do and DoBatch waits that parked the caller (the rest completed inline)
	Wakeups       uint64  // times a shard's completion goroutine was woken to reap
	SQFullWaits   uint64  // callers that waited for SQ space (back-pressure)
	SlotWaits     uint64  // calls that waited for a free request slot
	CQOverflows   uint64  // times the kernel flagged a CQ overflow (nothing is lost)
	KernelDrops   uint64  // completions the kernel dropped (IORING_FEAT_NODROP failed)
	Foreign       uint64  // completions with no matching request (e.g. msg_ring data)
	Shards        int
}

// ParksPerOp is the share of submitted operations whose caller parked.
func (st Stats) ParksPerOp() float64 { return ratio(st.Parks, st.Submitted) }

// EntersPerOp is io_uring_enter system calls per submitted operation.
func (st Stats) EntersPerOp() float64 { return ratio(st.Enters, st.Submitted) }

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
