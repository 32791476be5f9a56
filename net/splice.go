//go:build linux

package net

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/internal/ringfd"
)

// spliceFrom copies a TCP or unix stream socket (up to an
// io.LimitedReader's limit) into fd through a pipe with splice(2), as std's
// TCPConn.ReadFrom does for socket sources: the data never enters user
// space. Each side waits on its own poller when it is not ready: the source
// on its RawConn (std's netpoller, or the ring for this package's sockets),
// fd on the ring. handled is false when r is not a stream socket.
func spliceFrom(fd *netFD, r io.Reader) (written int64, handled bool, err error) {
	lr, r, remain := ringfd.UnwrapLimited(r)
	if remain <= 0 {
		return 0, true, nil
	}
	if fd.Closed() {
		return 0, false, nil // as std: the copy path's Write reports it
	}
	sc, ok := r.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	src, err := sc.SyscallConn()
	if err != nil || !isStreamSocket(src) {
		return 0, false, nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return 0, false, nil
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	for remain > 0 {
		// Socket → pipe: wait for data on the source's poller.
		var in int
		var serr error
		rerr := src.Read(func(s uintptr) bool {
			var n int64
			n, serr = unix.Splice(int(s), nil, p[1], nil, int(min(remain, ringfd.SpliceChunk)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			in = int(n)
			return serr != unix.EAGAIN
		})
		if rerr != nil {
			return written, true, rerr
		}
		if serr != nil {
			return written, true, os.NewSyscallError("splice", serr)
		}
		if in == 0 {
			return written, true, nil // the source reached EOF
		}
		// Pipe → fd: wait for room on the ring.
		for left := in; left > 0; {
			var out int
			werr := rawConn{fd}.Write(func(s uintptr) bool {
				var n int64
				n, serr = unix.Splice(p[0], nil, int(s), nil, left, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				out = int(n)
				return serr != unix.EAGAIN
			})
			if werr != nil {
				return written, true, werr
			}
			if serr != nil {
				return written, true, os.NewSyscallError("splice", serr)
			}
			left -= out
			written += int64(out)
			if lr != nil {
				lr.N -= int64(out)
			}
		}
		remain -= int64(in)
	}
	return written, true, nil
}

// isStreamSocket reports whether rc is a TCP or unix stream socket.
func isStreamSocket(rc syscall.RawConn) bool {
	ok := false
	_ = rc.Control(func(s uintptr) { ok = ringfd.KindOf(int(s)) == ringfd.SocketStream })
	return ok
}
