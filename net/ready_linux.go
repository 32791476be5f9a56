package net

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/ringfd"
	"github.com/goaio/uring/ops"
)

// Readiness (issue 13, design (b)): a stream socket's data moves by plain
// non-blocking system calls, recv and send with MSG_DONTWAIT, as std's
// netFD moves it; the ring only says when the socket is ready. One
// multishot poll per connection (armed by Accept or Dial, or else by the
// first read that finds nothing) stays armed until Close and posts a
// completion each time data arrives: no request per Read, no kernel
// cancel when a deadline passes (the reader wakes in user space and the poll
// stays armed), no buffer held by an idle connection.

// readiness is a socket's readability as its multishot poll reports it.
//
// Push runs on whichever goroutine reaps, which may be a reader inside arm's
// own Ring call: nothing here holds a lock across a call into the Ring.
type readiness struct {
	fd     *ringfd.FD
	armed  atomic.Bool   // a multishot poll is in the kernel; it holds a reference on fd
	notify chan struct{} // a token: the socket may have become readable
}

func (r *readiness) init(fd *ringfd.FD) {
	r.fd = fd
	r.notify = make(chan struct{}, 1)
	fd.RD.OnCancel = r.wake // a passed deadline or Close wakes the reader too
}

// wake leaves a token for the reader; one is enough.
func (r *readiness) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Push takes the poll's completions (uring.Sink): each one is a token for
// the reader; the final one (Close's cancel, or the kernel ending the poll)
// drops the poll's reference, and the next wait arms a new one.
func (r *readiness) Push(_ uring.Result, final bool) {
	if final {
		r.armed.Store(false)
		r.fd.Decref()
	}
	r.wake()
}

// wait returns once the socket may be readable, or its read deadline's
// epoch has been cancelled (a deadline, Close): the caller checks which. It
// parks on the token channel alone (see Deadline.OnCancel).
func (r *readiness) wait() error {
	if err := r.arm(); err != nil {
		return err
	}
	<-r.notify
	return nil
}

// arm starts the multishot poll unless it runs. Only a reader calls it, under
// the read lock.
func (r *readiness) arm() error {
	if r.armed.Load() {
		return nil
	}
	if err := r.fd.Incref(); err != nil {
		return err
	}
	r.armed.Store(true) // before the submit: its final completion may be pushed inside it
	m, err := r.fd.Ring.Multishot(ops.PollMultishot(r.fd.Sysfd, unix.POLLIN|unix.POLLRDHUP), r)
	if err != nil {
		r.armed.Store(false)
		r.fd.Decref()
		return r.fd.Err(context.Background(), "read", err)
	}
	if r.fd.Closed() {
		// Close may have cancelled the socket's requests before this one
		// reached the ring: cancel it too, or Close would wait for it.
		m.Cancel()
	}
	return nil
}

// armReady arms a new stream connection's poll on the goroutine that made
// it (Accept's, Dial's), so its reader never runs the submit path on its own
// stack: an idle connection's goroutine keeps the smallest stack. A failure
// is left for the first Read, which arms again and reports it.
func (fd *netFD) armReady() {
	if fd.sotype != unix.SOCK_STREAM {
		return
	}
	if netpollReady {
		fd.osf = os.NewFile(uintptr(fd.Sysfd), "")
		if rc, err := fd.osf.SyscallConn(); err == nil {
			fd.rc = rc
			fd.readFn = fd.recvOnce
			osf := fd.osf
			fd.OnClose = func() { osf.SetReadDeadline(time.Unix(1, 0)) } // wakes a waiting reader
			return
		}
		fd.osf = nil
	}
	_ = fd.ready.arm()
}

// recvOnce is the RawConn step of readPoll: false while nothing is there.
func (fd *netFD) recvOnce(s uintptr) bool {
	for {
		fd.rn, fd.rerr = sockIO(unix.SYS_RECVFROM, int(s), fd.rbuf, unix.MSG_DONTWAIT)
		if fd.rerr != syscall.EINTR {
			return fd.rerr != syscall.EAGAIN
		}
	}
}

// readPoll is Read on a stream socket by readiness from Go's netpoller.
func (fd *netFD) readPoll(b []byte) (int, error) {
	fd.rmu.Lock()
	defer fd.rmu.Unlock()
	if err := fd.Incref(); err != nil {
		return 0, fd.opErr("read", err)
	}
	defer fd.Decref()
	if err := fd.RD.Err(); err != nil {
		return 0, fd.opErr("read", err)
	}
	fd.rbuf = b
	werr := fd.rc.Read(fd.readFn)
	fd.rbuf = nil
	if werr != nil {
		if fd.Closed() {
			return 0, fd.opErr("read", net.ErrClosed)
		}
		if errors.Is(werr, os.ErrDeadlineExceeded) {
			return 0, fd.opErr("read", os.ErrDeadlineExceeded)
		}
		return 0, fd.opErr("read", werr)
	}
	if fd.rerr != nil {
		return 0, fd.opErr("read", fd.Err(context.Background(), "read", fd.rerr))
	}
	if fd.rn == 0 {
		return 0, io.EOF
	}
	return fd.rn, nil
}

// readReady is Read on a stream socket by readiness.
func (fd *netFD) readReady(b []byte) (int, error) {
	fd.rmu.Lock()
	defer fd.rmu.Unlock()
	if err := fd.Incref(); err != nil {
		return 0, fd.opErr("read", err)
	}
	defer fd.Decref()
	for {
		// As std: a passed deadline fails even with data waiting. Err, not
		// Context: checking makes no context.
		if err := fd.RD.Err(); err != nil {
			return 0, fd.opErr("read", err)
		}
		n, err := sockIO(unix.SYS_RECVFROM, fd.Sysfd, b, unix.MSG_DONTWAIT)
		switch err {
		case nil:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if err := fd.ready.wait(); err != nil {
				return 0, fd.opErr("read", err)
			}
			continue
		}
		return 0, fd.opErr("read", fd.Err(context.Background(), "read", err))
	}
}

// writeReady is Write on a stream socket by readiness: the descriptor
// layer's op loop, each step a send with MSG_DONTWAIT, after a one-shot
// poll on the ring while the socket's buffer is full.
func (fd *netFD) writeReady(b []byte) (int, error) {
	fd.wmu.Lock()
	defer fd.wmu.Unlock()
	n, err := fd.Transfer(b, io.ErrUnexpectedEOF, fd.sendReady)
	return n, fd.opErr("write", err)
}

// sendReady sends what the socket takes of chunk (a Transfer step).
func (fd *netFD) sendReady(chunk []byte, _ int) (int, error) {
	for {
		if err := fd.WD.Err(); err != nil {
			return 0, err
		}
		n, err := sockIO(unix.SYS_SENDTO, fd.Sysfd, chunk, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if err := fd.waitWritable(); err != nil {
				return 0, err
			}
			continue
		}
		return 0, fd.Err(context.Background(), "write", err)
	}
}

// waitWritable returns once the socket's send buffer has room: a one-shot
// poll on the ring. Its own function, so its op stays off the frame of
// every Write.
func (fd *netFD) waitWritable() error {
	_, err := fd.DoRef(fd.WD.Context(), ops.PollAdd(fd.Sysfd, unix.POLLOUT), "write")
	return err
}

// sockIO is recvfrom or sendto of b with flags and no address. With
// MSG_DONTWAIT it cannot block, so up to rawIOMax bytes it is made without
// the scheduler's system-call state; a larger copy leaves the scheduler
// free to hand the processor on.
func sockIO(trap uintptr, fd int, b []byte, flags int) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	var r uintptr
	var e syscall.Errno
	if len(b) <= rawIOMax {
		r, _, e = syscall.RawSyscall6(trap, uintptr(fd), uintptr(p), uintptr(len(b)), uintptr(flags), 0, 0)
	} else {
		r, _, e = syscall.Syscall6(trap, uintptr(fd), uintptr(p), uintptr(len(b)), uintptr(flags), 0, 0)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// rawIOMax: a copy of 64 KiB takes a few microseconds, as long as a stretch
// of Go code between preemption points may.
const rawIOMax = 64 << 10
