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

	"golang.org/x/sys/unix"
)

// Readiness (issue 13, design (d)): a stream connection's data moves by
// plain non-blocking system calls, and when the socket has nothing to read
// or no room to write, the goroutine waits in Go's netpoller, as std's does.
// The descriptor is also an os.File (pollable, in the netpoller's epoll),
// and Read and Write are that os.File's: read(2) and write(2) with
// internal/poll's waits, deadlines and locks, as std's net makes them. A
// readiness event then costs what it costs std: no request on the ring, no
// task work for a thread, no completion to reap; an idle connection holds no
// slot and no buffer, and a passed deadline wakes the reader in user space.
// Until issue 25 the calls were recvfrom and sendto made raw through the
// os.File's RawConn, with their state and two closures in the netFD: 150
// bytes and 3 objects more per idle connection. A Write now tries one raw
// sendto first (writeStream), which needs no state kept (docs/design.md,
// "Idle connections"). The ring keeps what it does better:
// accept ahead, connect, and the copies (splice, sendfile). Datagram sockets
// take the RawConn with packet.go's calls.

// initPoll puts a new connection's descriptor in Go's netpoller (Accept's,
// Dial's, ListenPacket's). It fails as std's connection setup does when the
// netpoller refuses it. unixpacket connections stay on the ring.
func (fd *netFD) initPoll() error {
	if fd.sotype != unix.SOCK_STREAM && fd.sotype != unix.SOCK_DGRAM {
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
	if fd.sotype == unix.SOCK_DGRAM {
		rc, err := osf.SyscallConn()
		if err != nil {
			return err
		}
		fd.initPacket(rc)
	}
	return nil
}

// closedDeadline is the passed deadline that Close sets on the os.File to
// end the netpoller's waits.
var closedDeadline = time.Unix(1, 0)

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

// readStream is Read on a stream socket: the os.File's, under a reference
// (Close waits for it), 0 bytes being io.EOF as std's.
func (fd *netFD) readStream(b []byte) (int, error) {
	if err := fd.Incref(); err != nil {
		return 0, fd.opErr("read", err)
	}
	defer fd.Decref()
	n, err := fd.osf.Read(b)
	if err != nil && err != io.EOF {
		return n, fd.opErr("read", fd.osErr("read", err))
	}
	return n, err
}

// writeStream is Write on a stream socket: one sendto with MSG_DONTWAIT
// made raw (sendPacket, packet.go), and what the socket did not take by the os.File's
// Write, which waits in the netpoller; wmu makes the two one Write, so
// Writes never interleave. The raw send saves the scheduler's system-call
// state on the call that usually finishes the Write (docs/design.md, "Idle
// connections": measured against the os.File's Write alone), and keeps no
// state in the netFD. A deadline is checked exactly (Passed): the ring's
// timer may not have run yet when the os.File's has.
func (fd *netFD) writeStream(b []byte) (int, error) {
	if err := fd.Incref(); err != nil {
		return 0, fd.opErr("write", err)
	}
	defer fd.Decref()
	var n int
	if len(b) > 0 {
		fd.wmu.Lock() // the raw send and the os.File's rest are one Write
		defer fd.wmu.Unlock()
		if fd.WD.Passed() {
			return 0, fd.opErr("write", os.ErrDeadlineExceeded)
		}
		if err := fd.WD.Err(); err != nil {
			return 0, fd.opErr("write", err)
		}
		var err error
		n, err = sendPacket(fd.Sysfd, b, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, nil, 0)
		switch err {
		case nil:
			if n == len(b) {
				return n, nil
			}
		case syscall.EAGAIN, syscall.EINTR:
		default:
			return 0, fd.opErr("write", fd.Err(context.Background(), "write", err))
		}
	}
	m, err := fd.osf.Write(b[n:])
	n += m
	if err != nil {
		return n, fd.opErr("write", fd.osErr("write", err))
	}
	return n, nil
}

// osErr is std's error for what the os.File's call returned: net.ErrClosed
// once Close ran (its passed deadline woke the call), the deadline's, or
// the errno named after the call.
func (fd *netFD) osErr(name string, err error) error {
	if fd.Closed() || errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrDeadlineExceeded
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fd.Err(context.Background(), name, errno)
	}
	return err
}

// rawIOMax: up to it a non-blocking socket call is made without the
// scheduler's system-call state (packet.go); a copy of 64 KiB takes a few
// microseconds, as long as a stretch of Go code between preemption points
// may.
const rawIOMax = 64 << 10
