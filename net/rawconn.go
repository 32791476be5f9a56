//go:build linux

package net

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

// rawConn is the syscall.RawConn of a socket on the ring. Read and Write
// call f until it returns true, waiting for readiness in between with a
// poll request on the ring, under the connection's deadlines.
type rawConn struct{ fd *netFD }

var _ syscall.RawConn = rawConn{}

func (c rawConn) Control(f func(uintptr)) error {
	if err := c.fd.control(func(s int) error { f(uintptr(s)); return nil }); err != nil {
		return c.fd.localErr("raw-control", err)
	}
	return nil
}

func (c rawConn) Read(f func(uintptr) bool) error {
	return c.wait(f, &c.fd.rd, unix.POLLIN, "raw-read")
}

func (c rawConn) Write(f func(uintptr) bool) error {
	return c.wait(f, &c.fd.wd, unix.POLLOUT, "raw-write")
}

func (c rawConn) wait(f func(uintptr) bool, d *deadline, mask uint32, op string) error {
	if !c.fd.ref.Incref() {
		return c.fd.opErr(op, net.ErrClosed)
	}
	defer c.fd.ref.Decref()
	for !f(uintptr(c.fd.fd)) {
		if _, err := c.fd.do(d, ops.PollAdd(c.fd.fd, mask)); err != nil {
			return c.fd.opErr(op, c.fd.callErr("poll", err))
		}
	}
	return nil
}
