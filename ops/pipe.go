package ops

// Splice moves up to n bytes from fdIn to fdOut without copying through user
// space, like splice(2); one of them must be a pipe. An offset of -1 means the
// descriptor's own position (required for pipes).
//
// Implements: io_uring_prep_splice.
func Splice(fdIn int, offIn int64, fdOut int, offOut int64, n int, flags int) Op {
	if fdIn < 0 || fdOut < 0 {
		return invalid(OpSplice, ErrNegativeFd)
	}
	if offIn < -1 || offOut < -1 {
		return invalid(OpSplice, ErrNegativeOffset)
	}
	if !lenOK(n) {
		return invalid(OpSplice, ErrNegativeLength)
	}
	return Op{Opcode: OpSplice, Fd: int32(fdOut), Off: uint64(offOut), AddrVal: uint64(offIn),
		SpliceFdIn: int32(fdIn), Len: uint32(n), OpFlags: uint32(flags)}
}

// Tee duplicates up to n bytes from pipe fdIn to pipe fdOut without consuming
// them, like tee(2).
//
// Implements: io_uring_prep_tee.
func Tee(fdIn, fdOut int, n int, flags int) Op {
	if fdIn < 0 || fdOut < 0 {
		return invalid(OpTee, ErrNegativeFd)
	}
	if !lenOK(n) {
		return invalid(OpTee, ErrNegativeLength)
	}
	return Op{Opcode: OpTee, Fd: int32(fdOut), SpliceFdIn: int32(fdIn), Len: uint32(n), OpFlags: uint32(flags)}
}
