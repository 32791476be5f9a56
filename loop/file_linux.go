package loop

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// File is a descriptor read from loop callbacks by the cheapest path its
// file system has (docs/design.md, "Files on the loop"): the ring, where a
// read the page cache cannot serve waits in the kernel without a thread;
// and pread64 made by the loop itself on tmpfs and overlayfs, where the
// ring would hand every read to an io-wq worker (0.38-0.41x pread64 warm).
// NewFile learns the file system once (fstatfs).
type File struct {
	fd      int
	syscall bool // reads are pread64 made by the loop
	memory  bool // and cannot wait for a device (tmpfs, ramfs)
}

// NewFile wraps fd, which stays the caller's to close (after its reads).
func NewFile(fd int) (*File, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return nil, err
	}
	f := &File{fd: fd}
	switch st.Type {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC, unix.OVERLAYFS_SUPER_MAGIC:
		// No RWF_NOWAIT reads: io_uring hands each read to an io-wq
		// worker. On tmpfs a read never waits for a device; on overlayfs a
		// page-cache miss stalls the loop for the device's time.
		f.syscall = true
		f.memory = st.Type != unix.OVERLAYFS_SUPER_MAGIC
	}
	return f, nil
}

// ReadAt reads into b at off for a callback on loop l; cb runs on l with
// what pread(2) returns: the bytes read (0 at the end of the file) and an
// error. It runs after the calling callback returns, never inside it. On
// the ring, b stays pinned until the read is done. On the fallback the
// read is a pread and cb runs on the loop's goroutine.
func (f *File) ReadAt(l *Loop, b []byte, off int64, cb func(n int, err error)) error {
	if l.ring == nil {
		return l.post(func() {
			n, err := unix.Pread(f.fd, b, off)
			cb(max(n, 0), err)
		})
	}
	rl := l.ring
	if f.syscall {
		// On tmpfs it cannot wait for a device and a copy takes
		// microseconds: without entersyscall, as fs's reads there.
		call := syscall.Syscall6
		if f.memory {
			call = syscall.RawSyscall6
		}
		n, _, e := call(unix.SYS_PREAD64, uintptr(f.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))),
			uintptr(len(b)), uintptr(off), 0, 0)
		var err error
		if e != 0 {
			err, n = e, 0
		}
		rl.later(cb, int(n), err)
		return nil
	}
	_, err := rl.r.Submit(ops.Read(f.fd, b, off), func(r uring.Result) {
		if r.Res < 0 {
			cb(0, r.Err())
			return
		}
		cb(int(r.Res), nil)
	})
	return err
}
