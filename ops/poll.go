package ops

// PollAdd completes once fd is ready for any of the poll(2) events in mask; the
// result is the ready mask.
//
// Implements: io_uring_prep_poll_add.
func PollAdd(fd int, mask uint32) Op {
	if op, ok := checkFd(OpPollAdd, fd); !ok {
		return op
	}
	return Op{Opcode: OpPollAdd, Fd: int32(fd), OpFlags: mask}
}

// PollMultishot posts a completion each time fd becomes ready, until removed
// or cancelled.
//
// Implements: io_uring_prep_poll_multishot.
func PollMultishot(fd int, mask uint32) Op {
	op := PollAdd(fd, mask)
	if op.err == nil {
		op.Len = PollAddMulti
	}
	return op
}

// PollRemove removes the poll request whose request ID is id.
//
// Implements: io_uring_prep_poll_remove.
func PollRemove(id uint64) Op {
	return Op{Opcode: OpPollRemove, Fd: -1, AddrVal: id}
}
