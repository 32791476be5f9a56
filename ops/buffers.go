package ops

import "unsafe"

// ProvideBuffers hands the kernel n buffers of size bytes each, carved from
// mem, as group group with IDs starting at bid, for ops using
// FlagBufferSelect. mem must stay untouched until the buffers are consumed or
// removed; the ring pins it only for the submission itself, so keep it alive.
// The buffers belong to the io_uring instance that ran the op: on a Ring of
// several shards that is the caller's shard only, so use the Ring's
// NewBufferRing, which registers on every shard, or a Ring of one shard.
//
// Implements: io_uring_prep_provide_buffers.
func ProvideBuffers(mem []byte, size, n int, group uint16, bid int) Op {
	if size <= 0 || n <= 0 || size*n > len(mem) {
		return invalid(OpProvideBuffers, ErrNegativeLength)
	}
	return Op{Opcode: OpProvideBuffers, Fd: int32(n), Addr: bufPtr(mem), Len: uint32(size),
		Off: uint64(bid), BufIndex: group}
}

// RemoveBuffers takes up to n buffers of group back from the kernel.
//
// Implements: io_uring_prep_remove_buffers.
func RemoveBuffers(n int, group uint16) Op {
	if n <= 0 {
		return invalid(OpRemoveBuffers, ErrNegativeLength)
	}
	return Op{Opcode: OpRemoveBuffers, Fd: int32(n), BufIndex: group}
}

// FilesUpdate replaces entries of the registered file table starting at
// offset with fds (-1 clears an entry).
//
// Implements: io_uring_prep_files_update.
func FilesUpdate(fds []int32, offset int) Op {
	if len(fds) == 0 {
		return invalid(OpFilesUpdate, ErrNilBuffer)
	}
	if offset < 0 {
		return invalid(OpFilesUpdate, ErrNegativeOffset)
	}
	return Op{Opcode: OpFilesUpdate, Fd: -1, Addr: unsafe.Pointer(&fds[0]), Len: uint32(len(fds)), Off: uint64(offset)}
}

// MsgRing posts a completion on another ring (whose fd is ringFd) with res as
// its result and userData as its user_data. A ring of this module marks the
// user_data it sends as a message, so that the target can never take it for
// the completion of one of its own requests; it counts such completions in
// Stats.Foreign.
//
// Implements: io_uring_prep_msg_ring.
func MsgRing(ringFd int, res uint32, userData uint64, flags uint32) Op {
	if op, ok := checkFd(OpMsgRing, ringFd); !ok {
		return op
	}
	return Op{Opcode: OpMsgRing, Fd: int32(ringFd), AddrVal: MsgData, Len: res,
		Off: userData, OpFlags: flags}
}
