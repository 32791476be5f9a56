package fs

import (
	"context"
	"os"

	"github.com/goaio/uring/ops"
)

// The write-back and allocation calls os.File lacks: fdatasync(2),
// sync_file_range(2), fallocate(2) and posix_fadvise(2), which databases
// such as Pebble make on their files. Each runs where Sync does (the
// dispatch rule: a system call on a regular file, the ring otherwise);
// on the os fallback it is the system call itself. Errors are
// *os.PathError with the system call's name as Op, os.ErrClosed (wrapped)
// after Close, and os.ErrInvalid on a nil File. Outside Linux they return
// errors.ErrUnsupported, wrapped.

// SyncData commits the file's data to stable storage, and only the metadata
// needed to read it back (the size, not the times), like fdatasync(2).
func (f *File) SyncData() error {
	if f == nil {
		return os.ErrInvalid
	}
	if !f.UsesRing() {
		return f.withFd("fdatasync", sysFdatasync)
	}
	if f.rule.sync == viaSyscall { // the dispatch rule: io_uring would hand it to a worker thread
		return f.sysCall("fdatasync", sysFdatasync)
	}
	_, err := f.pfd.Do(context.Background(), ops.Fdatasync(f.pfd.Sysfd), "")
	return f.pathErr("fdatasync", err)
}

// SyncRange starts or waits for the write-back of n bytes at off (n == 0:
// to the end of the file), like sync_file_range(2); flags are
// unix.SYNC_FILE_RANGE_*. It guarantees no durability: see the man page.
func (f *File) SyncRange(off, n int64, flags int) error {
	if f == nil {
		return os.ErrInvalid
	}
	// An SQE's length has 32 bits; the system call takes the rest, and
	// rejects negative values with the kernel's own EINVAL.
	if !f.UsesRing() || !ringRange(off, n) {
		return f.withFd("sync_file_range", func(fd int) error { return sysSyncFileRange(fd, off, n, flags) })
	}
	if f.rule.sync == viaSyscall {
		return f.sysCall("sync_file_range", func(fd int) error { return sysSyncFileRange(fd, off, n, flags) })
	}
	_, err := f.pfd.Do(context.Background(), ops.SyncFileRange(f.pfd.Sysfd, off, n, flags), "")
	return f.pathErr("sync_file_range", err)
}

// Allocate allocates, deallocates or zeroes n bytes of the file's storage at
// off, like fallocate(2); mode is 0 or unix.FALLOC_FL_* (FALLOC_FL_KEEP_SIZE
// reserves the blocks without changing the size).
func (f *File) Allocate(mode uint32, off, n int64) error {
	if f == nil {
		return os.ErrInvalid
	}
	if !f.UsesRing() || off < 0 || n < 0 {
		return f.withFd("fallocate", func(fd int) error { return sysFallocate(fd, mode, off, n) })
	}
	if f.rule.sync == viaSyscall {
		return f.sysCall("fallocate", func(fd int) error { return sysFallocate(fd, mode, off, n) })
	}
	_, err := f.pfd.Do(context.Background(), ops.Fallocate(f.pfd.Sysfd, int(mode), off, n), "")
	return f.pathErr("fallocate", err)
}

// Advise declares how n bytes at off (n == 0: to the end of the file) will
// be read, like posix_fadvise(2); advice is unix.FADV_*. FADV_WILLNEED reads
// the range into the page cache, FADV_DONTNEED drops its clean pages.
func (f *File) Advise(off, n int64, advice int) error {
	if f == nil {
		return os.ErrInvalid
	}
	if !f.UsesRing() || !ringRange(off, n) {
		return f.withFd("fadvise", func(fd int) error { return sysFadvise(fd, off, n, advice) })
	}
	if f.rule.sync == viaSyscall {
		return f.sysCall("fadvise", func(fd int) error { return sysFadvise(fd, off, n, advice) })
	}
	_, err := f.pfd.Do(context.Background(), ops.Fadvise(f.pfd.Sysfd, off, n, advice), "")
	return f.pathErr("fadvise", err)
}

// ringRange reports whether an SQE can carry off and n (a 32-bit length).
func ringRange(off, n int64) bool { return off >= 0 && n >= 0 && n <= 1<<32-1 }

// withFd runs the system call fn on the descriptor, holding os.File's
// reference on it so that a concurrent Close waits for the call, as os.File's
// own methods do.
func (f *File) withFd(op string, fn func(fd int) error) error {
	rc, err := f.f.SyscallConn()
	if err != nil {
		return f.pathErr(op, err)
	}
	var serr error
	// Control fails only once the file is closed.
	if rc.Control(func(fd uintptr) { serr = fn(int(fd)) }) != nil {
		return f.pathErr(op, os.ErrClosed)
	}
	return f.pathErr(op, serr)
}
