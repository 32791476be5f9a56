//go:build linux

package net

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/internal/ringfd"
)

// regularFile is what sendFile needs of an *os.File or an fs.File.
type regularFile interface {
	Stat() (os.FileInfo, error)
	Seek(int64, int) (int64, error)
	SyscallConn() (syscall.RawConn, error)
}

// sendFile copies a regular file (from its offset, up to an
// io.LimitedReader's limit) into the socket with sendfile(2), waiting for
// room with a poll request on the ring: the file's data never enters user
// space. handled is false when r is not a regular file.
func sendFile(fd *netFD, r io.Reader) (written int64, handled bool, err error) {
	lr, r, remain := ringfd.UnwrapLimited(r)
	if remain <= 0 {
		return 0, true, nil
	}
	if fd.Closed() {
		// As std: a closed socket takes the copy path, whose Write says so.
		return 0, false, nil
	}
	f, ok := r.(regularFile)
	if !ok {
		return 0, false, nil
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return 0, false, nil
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false, nil
	}
	src, err := f.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var serr error
	cerr := src.Control(func(infd uintptr) {
		werr := rawConn{fd}.Write(func(outfd uintptr) bool {
			for remain > 0 {
				n, err := unix.Sendfile(int(outfd), int(infd), &off, int(min(remain, 4<<20)))
				if n > 0 {
					written += int64(n)
					remain -= int64(n)
				}
				switch {
				case err == unix.EINTR:
					continue
				case err == unix.EAGAIN:
					return false // wait for room
				case err != nil:
					serr = os.NewSyscallError("sendfile", err)
					return true
				case n == 0:
					return true // end of file
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if lr != nil {
		lr.N -= written
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil && serr == nil {
		serr = err
	}
	if serr == nil {
		serr = cerr
	}
	return written, true, serr
}
