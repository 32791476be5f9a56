// Package ops describes io_uring operations as plain Go values.
//
// Each constructor fills an [Op] the way the liburing helper it names fills a
// submission queue entry (SQE), without cgo and without a system call: an Op is
// inert until a ring submits it. Building an Op allocates nothing.
//
// Memory an operation hands to the kernel (buffers, paths, addresses) is named by
// the Op and kept valid by the ring until the operation's completion is reaped:
// Go buffers are pinned, while paths, socket addresses, timespecs and iovec arrays
// are copied into C memory owned by the request.
package ops

import (
	"errors"
	"unsafe"
)

// Opcode is an io_uring operation code (IORING_OP_*).
type Opcode uint8

// SQE flags (IOSQE_*).
const (
	FlagFixedFile    uint8 = 1 << 0 // Fd is an index into the registered file table
	FlagIODrain      uint8 = 1 << 1 // start only after every earlier op completed
	FlagIOLink       uint8 = 1 << 2 // the next op starts after this one succeeds
	FlagIOHardLink   uint8 = 1 << 3 // the next op starts after this one, whatever its result
	FlagAsync        uint8 = 1 << 4 // go straight to the async worker pool
	FlagBufferSelect uint8 = 1 << 5 // pick a buffer from the provided group BufIndex
	FlagCQESkip      uint8 = 1 << 6 // no completion on success
)

// CQE flags (IORING_CQE_F_*).
const (
	CQEFlagBuffer       uint32 = 1 << 0 // the upper 16 bits hold the provided buffer's ID
	CQEFlagMore         uint32 = 1 << 1 // the request will post more completions
	CQEFlagSockNonEmpty uint32 = 1 << 2 // more data is waiting on the socket
	CQEFlagNotif        uint32 = 1 << 3 // a zero-copy send's buffer notification
)

// Op is one io_uring request: the fields of an SQE, plus arguments that the ring
// materialises in per-request C memory when it submits the Op.
//
// The zero Op is a NOP. Constructors are the supported way to build an Op; the
// fields are exported so that an operation this package does not cover yet can
// still be described.
type Op struct {
	Opcode      Opcode
	Flags       uint8  // IOSQE_* flags
	IoPrio      uint16 // ioprio, or per-op flags such as IORING_RECV_MULTISHOT
	Fd          int32
	Len         uint32
	OpFlags     uint32 // the SQE's op-specific flags union (rw_flags, msg_flags, ...)
	Off         uint64
	AddrVal     uint64 // sqe.addr when it carries a value rather than Go memory
	BufIndex    uint16 // buf_index, or buf_group with FlagBufferSelect
	Personality uint16
	SpliceFdIn  int32 // splice_fd_in, or file_index

	// Go memory the kernel reads or writes. The ring pins each for the life
	// of the request.
	Addr  unsafe.Pointer // sqe.addr
	Addr2 unsafe.Pointer // sqe.off (replaces Off when non-nil)
	Addr3 unsafe.Pointer // sqe.addr3

	// Arguments built in C memory by the ring at submission.
	Str      [3]string // NUL-terminated copies placed in sqe.addr, sqe.off, sqe.addr3 when non-empty
	Bufs     [][]byte  // an iovec array (readv, writev) or a msghdr's iovecs (sendmsg, recvmsg)
	OOB      []byte    // a msghdr's control buffer
	Sockaddr any       // a unix.Sockaddr for connect, bind or sendmsg
	Timespec int64     // nanoseconds, for timeouts; used when HasTimespec
	Kind     ArgKind   // how the ring lays out the arguments above

	err error
}

// ArgKind says which C-memory argument the ring builds for an Op.
type ArgKind uint8

const (
	ArgNone     ArgKind = iota
	ArgTimespec         // Timespec -> struct __kernel_timespec in sqe.addr
	ArgIovec            // Bufs -> struct iovec[] in sqe.addr, count in sqe.len
	ArgMsghdr           // Bufs, OOB, Sockaddr/Addr2 -> struct msghdr in sqe.addr
	ArgSockaddr         // Sockaddr -> struct sockaddr in sqe.addr, length in sqe.off
)

// Err reports an argument the constructor rejected. A ring returns it instead
// of submitting the Op.
func (op Op) Err() error { return op.err }

// Link returns op with IOSQE_IO_LINK set: the next op of a batch starts only
// after this one succeeds.
func (op Op) Link() Op { op.Flags |= FlagIOLink; return op }

// HardLink returns op with IOSQE_IO_HARDLINK set: the next op starts after this
// one completes, whatever its result.
func (op Op) HardLink() Op { op.Flags |= FlagIOHardLink; return op }

// WithFlags returns op with the given IOSQE_* flags added.
func (op Op) WithFlags(flags uint8) Op { op.Flags |= flags; return op }

// Multishot reports whether op may post more than one completion.
func (op Op) Multishot() bool {
	switch op.Opcode {
	case OpAccept:
		return op.IoPrio&AcceptMultishot != 0
	case OpRecv, OpRecvMsg:
		return op.IoPrio&RecvMultishot != 0
	case OpPollAdd:
		return op.Len&PollAddMulti != 0
	case OpTimeout:
		return op.OpFlags&TimeoutMultishot != 0
	case OpReadMultishot:
		return true
	}
	return false
}

// Errors for arguments a constructor rejects; preallocated so that a rejected
// Op costs no allocation either.
var (
	ErrNegativeLength = errors.New("ops: negative length")
	ErrNegativeOffset = errors.New("ops: negative offset")
	ErrNegativeFd     = errors.New("ops: negative file descriptor")
	ErrNilBuffer      = errors.New("ops: nil buffer")
	ErrEmptyPath      = errors.New("ops: empty path")
	ErrBadSockaddr    = errors.New("ops: unsupported socket address")
	ErrTooLarge       = errors.New("ops: length exceeds 32 bits")
)

func invalid(code Opcode, err error) Op { return Op{Opcode: code, err: err} }

// bufPtr returns the address of b's first byte, nil for an empty slice.
func bufPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// checkFd rejects negative descriptors, the most common mistake a ring would
// otherwise only report as EBADF after a round trip.
func checkFd(code Opcode, fd int) (Op, bool) {
	if fd < 0 {
		return invalid(code, ErrNegativeFd), false
	}
	return Op{}, true
}

func lenOK(n int) bool { return n >= 0 && uint64(n) <= 1<<32-1 }
