//go:build linux

package net

import (
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/internal/ringfd"
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
	return c.wait(f, &c.fd.RD, unix.POLLIN, "raw-read")
}

func (c rawConn) Write(f func(uintptr) bool) error {
	return c.wait(f, &c.fd.WD, unix.POLLOUT, "raw-write")
}

func (c rawConn) wait(f func(uintptr) bool, d *ringfd.Deadline, mask uint32, op string) error {
	if err := c.fd.Incref(); err != nil {
		return c.fd.opErr(op, err)
	}
	defer c.fd.Decref()
	for !f(uintptr(c.fd.Sysfd)) {
		if _, err := c.fd.DoRef(d.Context(), ops.PollAdd(c.fd.Sysfd, mask), "poll"); err != nil {
			return c.fd.opErr(op, err)
		}
	}
	return nil
}
