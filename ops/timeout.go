package ops

import "time"

// Timeout completes after d with -ETIME, or earlier with 0 once count other
// completions have been posted (count 0: time only). flags are Timeout*.
//
// Implements: io_uring_prep_timeout.
func Timeout(d time.Duration, count int, flags uint32) Op {
	if d < 0 {
		d = 0
	}
	return Op{Opcode: OpTimeout, Fd: -1, Len: 1, Off: uint64(count), OpFlags: flags,
		Timespec: int64(d), Kind: ArgTimespec}
}

// TimeoutMulti is a multishot timeout: it fires every d, count times (0:
// until removed), each firing a completion.
//
// Implements: io_uring_prep_timeout with IORING_TIMEOUT_MULTISHOT (Linux 6.4).
func TimeoutMulti(d time.Duration, count int) Op {
	return Timeout(d, count, TimeoutMultishot)
}

// TimeoutRemove removes the pending timeout whose request ID is id.
//
// Implements: io_uring_prep_timeout_remove.
func TimeoutRemove(id uint64, flags uint32) Op {
	return Op{Opcode: OpTimeoutRemove, Fd: -1, AddrVal: id, OpFlags: flags}
}

// LinkTimeout bounds the op linked before it in a batch: if that op has not
// completed after d it is cancelled (its result becomes -ECANCELED).
//
// Implements: io_uring_prep_link_timeout.
func LinkTimeout(d time.Duration, flags uint32) Op {
	if d < 0 {
		d = 0
	}
	return Op{Opcode: OpLinkTimeout, Fd: -1, Len: 1, OpFlags: flags, Timespec: int64(d), Kind: ArgTimespec}
}

// AsyncCancel cancels the request whose ID is id (see the ring's request IDs).
// flags are Cancel*; with CancelAll every matching request is cancelled.
//
// Implements: io_uring_prep_cancel64.
func AsyncCancel(id uint64, flags uint32) Op {
	return Op{Opcode: OpAsyncCancel, Fd: -1, AddrVal: id, OpFlags: flags}
}

// CancelFD cancels requests on fd (all of them with CancelAll in flags).
//
// Implements: io_uring_prep_cancel_fd.
func CancelFD(fd int, flags uint32) Op {
	if op, ok := checkFd(OpAsyncCancel, fd); !ok {
		return op
	}
	return Op{Opcode: OpAsyncCancel, Fd: int32(fd), OpFlags: flags | CancelFd}
}
