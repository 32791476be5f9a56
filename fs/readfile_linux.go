package fs

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

// readFile is ReadFile with the ring r for what the page cache misses:
// open(2), statx(2), one read of the size (and a spare byte), close(2), where
// os.ReadFile makes ten system calls (its Open adds four fcntl and an
// epoll_ctl, and a second read sees the end). docs/design.md, "ReadFile
// from many goroutines", has the candidates measured against it.
func readFile(r *uring.Ring, name string) ([]byte, error) {
	fd, err := openRead(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd) // os.ReadFile ignores Close's error too
	// statx, where os.ReadFile makes fstat: the same cost, and the mount ID.
	var st unix.Statx_t
	if statID(fd, &st) != nil {
		st = unix.Statx_t{} // as os.ReadFile: no size, read to the end
	}
	regular := uint32(st.Mode)&syscall.S_IFMT == syscall.S_IFREG
	var m *mount
	if regular {
		m = mountOf(fd, mountKey(&st))
	}
	return readOpenedOn(r, fd, name, regular, int64(st.Size), m)
}

// readOpenedOn reads fd, opened on name, to its end; regular and statSize
// are what its statx said. A regular file's first read fills a buffer of
// exactly the size, with one spare byte beside it that only a file grown
// since statx reaches (so a 4 KiB file costs a 4 KiB allocation, where
// os.ReadFile's size+512 takes the next size class, 4.75 KiB). A read that
// returns the size is the whole file (the read os.ReadFile makes to see the
// end is not made). Anything else continues os.ReadFile's loop on the same
// descriptor: a file that claims no size (/proc), one that grew or shrank
// since statx, a read cut short by pages missing from the cache, and files
// that are not regular (where a short read is not the end). m is the file's
// mount (nil: not known): where it has no RWF_NOWAIT reads
// (tmpfs, overlayfs, FUSE) every read is a plain system call, as the ring
// would hand it to a worker thread.
func readOpenedOn(r *uring.Ring, fd int, name string, regular bool, statSize int64, m *mount) ([]byte, error) {
	rd := fileReader{r: r, fd: fd, name: name, regular: regular}
	rd.rule.read = viaNowait // a file of its own: ask the page cache every time
	rd.rule.mount = m
	rd.rule.noWait.Store(m.noNowait())
	if regular && statSize > 0 && statSize < maxRW {
		data := make([]byte, statSize)
		n, grew, err := rd.first(data)
		if err != nil {
			return data[:n], err
		}
		if n == len(data) && !grew {
			return data, nil
		}
		data = data[:n]
		if grew {
			data = append(data, rd.spare)
		}
		return readRest(data, false, rd.read)
	}
	data := make([]byte, 0, readSize(statSize))
	return readRest(data, statSize == 0, rd.read)
}

// first is a regular file's first read, into data and one spare byte after
// it: a preadv2 with RWF_NOWAIT of both, or, where the page cache cannot
// serve it, a readv of both on the ring. grew reports that the spare byte
// was read too (rd.spare): the file has more than len(data) bytes. io.EOF
// is not an error here.
func (rd *fileReader) first(data []byte) (n int, grew bool, err error) {
	iov := [2]unix.Iovec{{Base: &data[0]}, {Base: &rd.spare}}
	iov[0].SetLen(len(data))
	iov[1].SetLen(1)
	if n, err, ok := rd.rule.nowaitRead(rd.fd, iov[:], len(data)+1, -1); ok {
		if err != nil {
			return 0, false, &os.PathError{Op: "read", Path: rd.name, Err: err}
		}
		return min(n, len(data)), n > len(data), nil
	}
	// The ring's op holds its own spare byte: rd.spare would move rd, and
	// every ReadFile's reader with it, to the heap.
	spare := make([]byte, 1)
	n, err = rd.onRingv([][]byte{data, spare})
	if err != nil {
		return 0, false, &os.PathError{Op: "read", Path: rd.name, Err: err}
	}
	if n > len(data) {
		rd.spare = spare[0]
		return len(data), true, nil
	}
	return n, false, nil
}

// onRingv reads into bufs on the ring, at the file offset; on a closed
// Ring it blocks in readv(2), as os.File would in read(2).
func (rd *fileReader) onRingv(bufs [][]byte) (int, error) {
	res, err := rd.r.Do(context.Background(), ops.Readv(rd.fd, bufs, -1))
	if errors.Is(err, uring.ErrClosed) {
		for {
			n, err := unix.Readv(rd.fd, bufs)
			if err != syscall.EINTR {
				return max(n, 0), err
			}
		}
	}
	if err != nil {
		return 0, err
	}
	return res.N(), nil
}

// openRead opens name for reading as os.Open does (O_CLOEXEC, EINTR
// retried), without os.File's poller registration. A name shorter than
// pathOnStack is made a C string on the stack, not on the heap as
// syscall.Open makes it: one allocation less per file.
func openRead(name string) (int, error) {
	var path [pathOnStack]byte
	if len(name) >= len(path) || strings.IndexByte(name, 0) >= 0 {
		for { // syscall.Open: and EINVAL for a NUL in name, as os gives
			fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != syscall.EINTR {
				return fd, err
			}
		}
	}
	copy(path[:], name) // the rest stays NUL
	dirfd := unix.AT_FDCWD
	for {
		fd, _, e := syscall.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(&path[0])),
			syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_LARGEFILE, 0, 0, 0)
		if e == 0 {
			return int(fd), nil
		}
		if e != syscall.EINTR {
			return -1, e
		}
	}
}

// pathOnStack bounds the names openRead copies on the stack.
const pathOnStack = 256

// fileReader reads a descriptor ReadFile opened, at its file offset, as
// os.File.Read would: a regular file by the dispatch rule (preadv2 with
// RWF_NOWAIT, the ring for what the page cache misses), anything else
// (a directory, a FIFO, a device) with read(2).
type fileReader struct {
	r       *uring.Ring
	fd      int
	name    string
	regular bool
	rule    dispatch
	spare   byte // first's byte past the statx size
}

// read is os.File.Read's: at most maxRW bytes, io.EOF for none, errors as
// *os.PathError.
func (rd *fileReader) read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > maxRW {
		b = b[:maxRW]
	}
	n, err := rd.once(b)
	if err != nil {
		return 0, &os.PathError{Op: "read", Path: rd.name, Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (rd *fileReader) once(b []byte) (int, error) {
	if !rd.regular {
		return readSys(rd.fd, b)
	}
	if n, err, ok := rd.rule.inline(rd.fd, false, b, -1); ok {
		return n, err
	}
	return rd.onRing(b)
}

// onRing reads b on the ring, at the file offset; on a closed Ring it
// blocks in read(2), as os.File does.
func (rd *fileReader) onRing(b []byte) (int, error) {
	res, err := rd.r.Do(context.Background(), ops.Read(rd.fd, b, -1))
	if errors.Is(err, uring.ErrClosed) {
		return readSys(rd.fd, b)
	}
	if err != nil {
		return 0, err
	}
	return res.N(), nil
}

// readSys is read(2), EINTR retried.
func readSys(fd int, b []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, b)
		if err != syscall.EINTR {
			return max(n, 0), err
		}
	}
}
