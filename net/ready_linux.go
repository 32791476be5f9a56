package net

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Readiness (issue 13, design (d)): a stream connection's data moves by
// plain non-blocking system calls, recvfrom and sendto with MSG_DONTWAIT, and
// when the socket has nothing to read or no room to write, the goroutine
// waits in Go's netpoller, as std's does: the descriptor is also an os.File
// (pollable, in the netpoller's epoll), and the waits go through its
// RawConn. A readiness event then costs what it costs std: no request on the
// ring, no task work for a thread, no completion to reap, no hop through the
// ring's poller goroutine; an idle connection holds no slot and no channel,
// and a passed deadline wakes the reader in user space. The ring keeps what
// it does better: accept ahead, connect, and the copies (splice, sendfile).
// docs/design.md has the four designs measured.

// initPoll puts a new stream connection's descriptor in Go's netpoller
// (Accept's, Dial's). It fails as std's connection setup does when the
// netpoller refuses it.
func (fd *netFD) initPoll() error {
	if fd.sotype != unix.SOCK_STREAM && (fd.sotype != unix.SOCK_DGRAM || !packetReady) {
		fd.track()
		return nil
	}
	osf := os.NewFile(uintptr(fd.Sysfd), "") // non-blocking: the netpoller takes it
	// From here the os.File owns the descriptor too, and release closes it
	// through the os.File, once: dropped, its cleanup would close the number
	// again.
	fd.osf = osf
	if err := osf.SetDeadline(time.Time{}); err != nil {
		// os.NewFile left it out of the netpoller (its epoll_ctl error is
		// not kept): a socket whose waits could never end.
		return fmt.Errorf("uring/net: the netpoller refused the socket: %w", err)
	}
	rc, err := osf.SyscallConn()
	if err != nil {
		return err
	}
	fd.rc = rc
	fd.readFn, fd.writeFn = fd.recvOnce, fd.sendOnce
	if fd.sotype == unix.SOCK_DGRAM {
		fd.initPacket()
	}
	return nil
}

// closedDeadline is the passed deadline that Close sets on the os.File to
// end the netpoller's waits.
var closedDeadline = time.Unix(1, 0)

// recvOnce is readStream's RawConn step: false while there is nothing to
// read, so the netpoller waits.
func (fd *netFD) recvOnce(s uintptr) bool {
	for {
		fd.rn, fd.rerr = sockIO(unix.SYS_RECVFROM, int(s), fd.rbuf, unix.MSG_DONTWAIT)
		if fd.rerr != syscall.EINTR {
			return fd.rerr != syscall.EAGAIN
		}
	}
}

// sendOnce is sendStream's RawConn step: false while the send buffer is
// full.
func (fd *netFD) sendOnce(s uintptr) bool {
	for {
		fd.wn, fd.werr = sockIO(unix.SYS_SENDTO, int(s), fd.wbuf, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
		if fd.werr != syscall.EINTR {
			return fd.werr != syscall.EAGAIN
		}
	}
}

// waitErr is the error of a wait in the netpoller: Close's (which ends the
// wait with a passed deadline) or the deadline's.
func (fd *netFD) waitErr(err error) error {
	if fd.Closed() {
		return net.ErrClosed
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	return err
}

// readStream is Read on a stream socket. Its own function, with its state in
// the netFD: an idle reader's frames stay within the smallest stack.
func (fd *netFD) readStream(b []byte) (int, error) {
	fd.rmu.Lock()
	defer fd.rmu.Unlock()
	if err := fd.Incref(); err != nil {
		return 0, fd.opErr("read", err)
	}
	defer fd.Decref()
	// As std: a passed deadline fails even with data waiting. Err, not
	// Context: checking makes no context.
	if err := fd.RD.Err(); err != nil {
		return 0, fd.opErr("read", err)
	}
	fd.rbuf = b
	err := fd.rc.Read(fd.readFn)
	fd.rbuf = nil
	switch {
	case err != nil:
		return 0, fd.opErr("read", fd.waitErr(err))
	case fd.rerr != 0:
		return 0, fd.opErr("read", fd.Err(context.Background(), "read", fd.rerr))
	case fd.rn == 0 && fd.sotype != unix.SOCK_DGRAM:
		return 0, io.EOF
	}
	return fd.rn, nil
}

// writeStream is Write on a stream socket: the descriptor layer's op loop,
// each step a send with MSG_DONTWAIT, waiting in the netpoller while the
// socket's buffer is full.
func (fd *netFD) writeStream(b []byte) (int, error) {
	fd.wmu.Lock()
	defer fd.wmu.Unlock()
	n, err := fd.Transfer(b, io.ErrUnexpectedEOF, fd.sendStream)
	return n, fd.opErr("write", err)
}

// sendStream sends what the socket takes of chunk (a Transfer step).
func (fd *netFD) sendStream(chunk []byte, _ int) (int, error) {
	if err := fd.WD.Err(); err != nil {
		return 0, err
	}
	fd.wbuf = chunk
	err := fd.rc.Write(fd.writeFn)
	fd.wbuf = nil
	switch {
	case err != nil:
		return 0, fd.waitErr(err)
	case fd.werr != 0:
		return 0, fd.Err(context.Background(), "write", fd.werr)
	}
	return fd.wn, nil
}

// sockIO is recvfrom or sendto of b with flags and no address. With
// MSG_DONTWAIT it cannot block, so up to rawIOMax bytes it is made without
// the scheduler's system-call state; a larger copy leaves the scheduler
// free to hand the processor on.
func sockIO(trap uintptr, fd int, b []byte, flags int) (int, syscall.Errno) {
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
	return int(r), 0
}

// rawIOMax: a copy of 64 KiB takes a few microseconds, as long as a stretch
// of Go code between preemption points may.
const rawIOMax = 64 << 10
