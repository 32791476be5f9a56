package ops

// Fsync flushes fd's data and metadata to stable storage, like fsync(2).
//
// Implements: io_uring_prep_fsync.
func Fsync(fd int) Op { return fsync(fd, 0) }

// Fdatasync flushes fd's data (and only the metadata needed to read it back),
// like fdatasync(2).
//
// Implements: io_uring_prep_fsync with IORING_FSYNC_DATASYNC.
func Fdatasync(fd int) Op { return fsync(fd, FsyncDatasync) }

func fsync(fd int, flags uint32) Op {
	if op, ok := checkFd(OpFsync, fd); !ok {
		return op
	}
	return Op{Opcode: OpFsync, Fd: int32(fd), OpFlags: flags}
}

// SyncFileRange starts or waits for write-out of a file range, like
// sync_file_range(2); flags are SYNC_FILE_RANGE_*.
//
// Implements: io_uring_prep_sync_file_range.
func SyncFileRange(fd int, off int64, n int64, flags int) Op {
	if op, ok := checkFd(OpSyncFileRange, fd); !ok {
		return op
	}
	switch {
	case off < 0:
		return invalid(OpSyncFileRange, ErrNegativeOffset)
	case n < 0:
		return invalid(OpSyncFileRange, ErrNegativeLength)
	case n > 1<<32-1:
		return invalid(OpSyncFileRange, ErrTooLarge)
	}
	return Op{Opcode: OpSyncFileRange, Fd: int32(fd), Off: uint64(off), Len: uint32(n), OpFlags: uint32(flags)}
}

// Fallocate manipulates the allocated space of a file, like fallocate(2).
//
// Implements: io_uring_prep_fallocate.
func Fallocate(fd int, mode int, off, n int64) Op {
	if op, ok := checkFd(OpFallocate, fd); !ok {
		return op
	}
	switch {
	case off < 0:
		return invalid(OpFallocate, ErrNegativeOffset)
	case n < 0:
		return invalid(OpFallocate, ErrNegativeLength)
	}
	return Op{Opcode: OpFallocate, Fd: int32(fd), Len: uint32(mode), Off: uint64(off), AddrVal: uint64(n)}
}

// Fadvise declares an access pattern for a file range, like posix_fadvise(2).
//
// Implements: io_uring_prep_fadvise.
func Fadvise(fd int, off, n int64, advice int) Op {
	if op, ok := checkFd(OpFadvise, fd); !ok {
		return op
	}
	switch {
	case off < 0:
		return invalid(OpFadvise, ErrNegativeOffset)
	case n < 0:
		return invalid(OpFadvise, ErrNegativeLength)
	case n > 1<<32-1:
		return invalid(OpFadvise, ErrTooLarge)
	}
	return Op{Opcode: OpFadvise, Fd: int32(fd), Off: uint64(off), Len: uint32(n), OpFlags: uint32(advice)}
}

// Madvise gives advice about the memory b, like madvise(2). b must be page
// aligned; it is usually a mapping made with unix.Mmap.
//
// Implements: io_uring_prep_madvise.
func Madvise(b []byte, advice int) Op {
	if len(b) == 0 {
		return invalid(OpMadvise, ErrNilBuffer)
	}
	if !lenOK(len(b)) {
		return invalid(OpMadvise, ErrTooLarge)
	}
	return Op{Opcode: OpMadvise, Fd: -1, Addr: bufPtr(b), Len: uint32(len(b)), OpFlags: uint32(advice)}
}
