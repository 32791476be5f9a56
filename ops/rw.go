package ops

// Nop does nothing; its completion result is 0.
//
// Implements: io_uring_prep_nop.
func Nop() Op { return Op{Opcode: OpNop} }

// Read reads up to len(b) bytes from fd at offset off into b. An offset of -1
// reads at (and advances) the file position, like read(2).
//
// Implements: io_uring_prep_read.
func Read(fd int, b []byte, off int64) Op { return rw(OpRead, fd, b, off) }

// Write writes b to fd at offset off (-1: at the file position, like write(2)).
//
// Implements: io_uring_prep_write.
func Write(fd int, b []byte, off int64) Op { return rw(OpWrite, fd, b, off) }

// ReadFixed reads into b, which must lie inside registered buffer bufIndex.
//
// Implements: io_uring_prep_read_fixed.
func ReadFixed(fd int, b []byte, off int64, bufIndex int) Op {
	op := rw(OpReadFixed, fd, b, off)
	op.BufIndex = uint16(bufIndex)
	return op
}

// WriteFixed writes b, which must lie inside registered buffer bufIndex.
//
// Implements: io_uring_prep_write_fixed.
func WriteFixed(fd int, b []byte, off int64, bufIndex int) Op {
	op := rw(OpWriteFixed, fd, b, off)
	op.BufIndex = uint16(bufIndex)
	return op
}

// Readv reads into bufs in order (a scatter read), like preadv(2).
//
// Implements: io_uring_prep_readv.
func Readv(fd int, bufs [][]byte, off int64) Op { return rwv(OpReadv, fd, bufs, off) }

// Writev writes bufs in order (a gather write), like pwritev(2).
//
// Implements: io_uring_prep_writev.
func Writev(fd int, bufs [][]byte, off int64) Op { return rwv(OpWritev, fd, bufs, off) }

func rw(code Opcode, fd int, b []byte, off int64) Op {
	if op, ok := checkFd(code, fd); !ok {
		return op
	}
	if off < -1 {
		return invalid(code, ErrNegativeOffset)
	}
	if !lenOK(len(b)) {
		return invalid(code, ErrTooLarge)
	}
	return Op{Opcode: code, Fd: int32(fd), Addr: bufPtr(b), Len: uint32(len(b)), Off: uint64(off)}
}

func rwv(code Opcode, fd int, bufs [][]byte, off int64) Op {
	if op, ok := checkFd(code, fd); !ok {
		return op
	}
	if off < -1 {
		return invalid(code, ErrNegativeOffset)
	}
	return Op{Opcode: code, Fd: int32(fd), Bufs: bufs, Len: uint32(len(bufs)), Off: uint64(off), Kind: ArgIovec}
}
