package fs

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/internal/ringfd"
)

// streamOf returns the RawConn of x when x is a pipe (an os.File or File
// open on one, or a wrapper of them such as the one io.Copy hands to
// ReadFrom) or a connected TCP or unix stream socket. Its descriptor is only
// used inside the RawConn's Read and Write callbacks: they keep it open, and
// wait on Go's netpoller (honouring deadlines and Close) when it is not ready.
// A blocking descriptor (a shell's stdin or stdout adopted by os.NewFile) is
// not in the netpoller, which cannot wait on it: it is no stream here, and
// os's own copy paths take it, as they do for os.File.
func streamOf(x any) (rc syscall.RawConn, name string, kind ringfd.StreamKind) {
	sc, ok := x.(syscall.Conn)
	if !ok {
		return nil, "", ringfd.NotStream
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, "", ringfd.NotStream
	}
	_ = rc.Control(func(fd uintptr) {
		if flag, err := unix.FcntlInt(fd, unix.F_GETFL, 0); err == nil && flag&unix.O_NONBLOCK != 0 {
			kind = ringfd.KindOf(int(fd))
		}
	})
	if n, ok := x.(interface{ Name() string }); ok && kind == ringfd.PipeStream {
		name = n.Name()
	}
	return rc, name, kind
}

// Splicing between a file and a pipe uses splice(2) directly, not
// IORING_OP_SPLICE: io_uring always hands splice to its worker threads (the
// op returns EAGAIN to every non-blocking issue), so one stream pays a
// thread hop per pipe-full and measured 0.71x os's read/write loop, where
// splice(2) moves a pipe-full per system call.

// While a copy waits on a stream (a silent peer, a full pipe) it holds the
// file by os.File's own reference, not the ring's: os's Close returns at
// once and the copy fails at its next step with "file already closed", as
// it does on an os.File; the ring's reference would make Close wait for a
// peer that may never move. No ring request is in flight on these paths.

// spliceFrom copies up to remain bytes from a pipe into f at its file offset
// with splice(2), and from a TCP or unix stream socket with os.File's own
// splice path. handled is false when r is neither.
func (f *File) spliceFrom(r io.Reader, remain int64) (written int64, handled bool, err error) {
	rc, name, kind := streamOf(r)
	if kind == ringfd.NotStream || f.append { // splice(2) refuses O_APPEND targets
		return 0, false, nil
	}
	if f.pfd.Closed() {
		return 0, true, f.pathErr("write", os.ErrClosed)
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	if kind == ringfd.SocketStream {
		lr := &io.LimitedReader{R: r, N: remain}
		n, err := f.f.ReadFrom(lr)
		return n, true, err
	}
	frc, err := f.f.SyscallConn()
	if err != nil {
		return 0, true, err
	}
	for remain > 0 {
		n, rerr, err := spliceReady(rc, false, func(fd int) (int64, error) {
			return fileCall(frc, func(ffd int) (int64, error) {
				return unix.Splice(fd, nil, ffd, nil, int(min(remain, ringfd.SpliceChunk)), unix.SPLICE_F_NONBLOCK)
			})
		})
		switch {
		case rerr != nil:
			return written, true, streamErr("read", name, rerr)
		case err == errFileClosed:
			return written, true, f.pathErr("write", os.ErrClosed)
		case err != nil:
			return written, true, f.pathErr("write", os.NewSyscallError("splice", err))
		}
		if n == 0 {
			break // the writer closed the pipe
		}
		written += n
		remain -= n
	}
	return written, true, nil
}

// spliceTo copies f from its file offset to its end into a pipe with
// splice(2). handled is false when w is not a pipe (sockets take os.File's
// sendfile path).
func (f *File) spliceTo(w io.Writer) (written int64, handled bool, err error) {
	rc, name, kind := streamOf(w)
	if kind != ringfd.PipeStream {
		return 0, false, nil
	}
	if f.pfd.Closed() {
		return 0, true, f.pathErr("read", os.ErrClosed)
	}
	f.posMu.Lock()
	defer f.posMu.Unlock()
	frc, err := f.f.SyscallConn()
	if err != nil {
		return 0, true, err
	}
	for {
		n, werr, err := spliceReady(rc, true, func(fd int) (int64, error) {
			return fileCall(frc, func(ffd int) (int64, error) {
				return unix.Splice(ffd, nil, fd, nil, ringfd.SpliceChunk, unix.SPLICE_F_NONBLOCK)
			})
		})
		switch {
		case werr != nil:
			return written, true, streamErr("write", name, werr)
		case err == errFileClosed:
			return written, true, f.pathErr("read", os.ErrClosed)
		case err != nil:
			return written, true, f.pathErr("read", os.NewSyscallError("splice", err))
		}
		if n == 0 {
			return written, true, nil // end of file
		}
		written += n
	}
}

// errFileClosed: the file was closed between two steps of a copy.
var errFileClosed = errors.New("file closed")

// fileCall runs call, which must not block, on the file's descriptor under
// os.File's reference (frc is its RawConn); errFileClosed once it is closed.
func fileCall(frc syscall.RawConn, call func(fd int) (int64, error)) (n int64, err error) {
	if cerr := frc.Write(func(fd uintptr) bool {
		n, err = call(int(fd))
		return true
	}); cerr != nil {
		return 0, errFileClosed
	}
	return n, err
}

// spliceReady runs call on the stream's descriptor inside its RawConn
// callback, waiting on the netpoller whenever the kernel says EAGAIN (pipe
// empty or full). rerr is the stream's own error (closed, deadline).
func spliceReady(rc syscall.RawConn, write bool, call func(fd int) (int64, error)) (n int64, rerr, err error) {
	try := func(fd uintptr) bool {
		for {
			n, err = call(int(fd))
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	}
	if write {
		rerr = rc.Write(try)
	} else {
		rerr = rc.Read(try)
	}
	return n, rerr, err
}

// streamErr reports the other side's failure as os would: os.ErrClosed for
// a closed file, the poller's error (deadline) otherwise.
func streamErr(op, name string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	if err.Error() == "use of closed file" { // internal/poll.ErrFileClosing
		err = os.ErrClosed
	}
	if name == "" {
		return err
	}
	return &os.PathError{Op: op, Path: name, Err: err}
}
