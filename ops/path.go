//go:build linux

package ops

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Openat opens path relative to directory dirfd (unix.AT_FDCWD: the working
// directory) with open(2) flags and mode; the result is the new fd.
//
// Implements: io_uring_prep_openat.
func Openat(dirfd int, path string, flags int, mode uint32) Op {
	if path == "" {
		return invalid(OpOpenat, ErrEmptyPath)
	}
	if dirfd < 0 && dirfd != unix.AT_FDCWD {
		return invalid(OpOpenat, ErrNegativeFd)
	}
	return Op{Opcode: OpOpenat, Fd: int32(dirfd), Str: [3]string{path}, Len: mode, OpFlags: uint32(flags)}
}

// Openat2 opens path like openat2(2), with how's flags, mode and resolve
// restrictions.
//
// Implements: io_uring_prep_openat2.
func Openat2(dirfd int, path string, how *unix.OpenHow) Op {
	if path == "" {
		return invalid(OpOpenat2, ErrEmptyPath)
	}
	if how == nil {
		return invalid(OpOpenat2, ErrNilBuffer)
	}
	if dirfd < 0 && dirfd != unix.AT_FDCWD {
		return invalid(OpOpenat2, ErrNegativeFd)
	}
	return Op{Opcode: OpOpenat2, Fd: int32(dirfd), Str: [3]string{path}, Len: uint32(unsafe.Sizeof(*how)),
		Addr2: unsafe.Pointer(how)}
}

// Close closes fd.
//
// Implements: io_uring_prep_close.
func Close(fd int) Op {
	if op, ok := checkFd(OpClose, fd); !ok {
		return op
	}
	return Op{Opcode: OpClose, Fd: int32(fd)}
}

// CloseFixed closes entry index of the registered file table.
//
// Implements: io_uring_prep_close_direct.
func CloseFixed(index int) Op {
	// file_index is the table index plus one; 0 would mean "close Fd" (fd 0).
	if index < 0 {
		return invalid(OpClose, ErrNegativeFd)
	}
	if index >= 1<<31-1 {
		return invalid(OpClose, ErrTooLarge)
	}
	return Op{Opcode: OpClose, SpliceFdIn: int32(index + 1)}
}

// Statx fills st with the status of path (relative to dirfd), like statx(2).
// An empty path with unix.AT_EMPTY_PATH in flags describes dirfd itself.
//
// Implements: io_uring_prep_statx.
func Statx(dirfd int, path string, flags int, mask uint32, st *unix.Statx_t) Op {
	if st == nil {
		return invalid(OpStatx, ErrNilBuffer)
	}
	if path == "" && flags&unix.AT_EMPTY_PATH == 0 {
		return invalid(OpStatx, ErrEmptyPath)
	}
	op := Op{Opcode: OpStatx, Fd: int32(dirfd), Len: mask, OpFlags: uint32(flags), Addr2: unsafe.Pointer(st)}
	if path == "" {
		op.AddrVal = uint64(uintptr(unsafe.Pointer(&emptyPath[0])))
	} else {
		op.Str[0] = path
	}
	return op
}

// emptyPath is a static NUL-terminated "" for AT_EMPTY_PATH: global data never
// moves and is never freed.
var emptyPath = [1]byte{0}

// Unlinkat removes path (a directory with unix.AT_REMOVEDIR in flags).
//
// Implements: io_uring_prep_unlinkat.
func Unlinkat(dirfd int, path string, flags int) Op {
	if path == "" {
		return invalid(OpUnlinkat, ErrEmptyPath)
	}
	return Op{Opcode: OpUnlinkat, Fd: int32(dirfd), Str: [3]string{path}, OpFlags: uint32(flags)}
}

// Renameat renames oldpath to newpath, like renameat2(2).
//
// Implements: io_uring_prep_renameat.
func Renameat(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) Op {
	if oldpath == "" || newpath == "" {
		return invalid(OpRenameat, ErrEmptyPath)
	}
	return Op{Opcode: OpRenameat, Fd: int32(olddirfd), Str: [3]string{oldpath, newpath}, Len: uint32(int32(newdirfd)),
		OpFlags: uint32(flags)}
}

// Mkdirat creates directory path with mode.
//
// Implements: io_uring_prep_mkdirat.
func Mkdirat(dirfd int, path string, mode uint32) Op {
	if path == "" {
		return invalid(OpMkdirat, ErrEmptyPath)
	}
	return Op{Opcode: OpMkdirat, Fd: int32(dirfd), Str: [3]string{path}, Len: mode}
}

// Symlinkat creates linkpath (relative to newdirfd) as a symbolic link to target.
//
// Implements: io_uring_prep_symlinkat.
func Symlinkat(target string, newdirfd int, linkpath string) Op {
	if target == "" || linkpath == "" {
		return invalid(OpSymlinkat, ErrEmptyPath)
	}
	return Op{Opcode: OpSymlinkat, Fd: int32(newdirfd), Str: [3]string{target, linkpath}}
}

// Linkat creates newpath as a hard link to oldpath, like linkat(2).
//
// Implements: io_uring_prep_linkat.
func Linkat(olddirfd int, oldpath string, newdirfd int, newpath string, flags int) Op {
	if oldpath == "" || newpath == "" {
		return invalid(OpLinkat, ErrEmptyPath)
	}
	return Op{Opcode: OpLinkat, Fd: int32(olddirfd), Str: [3]string{oldpath, newpath}, Len: uint32(int32(newdirfd)),
		OpFlags: uint32(flags)}
}
