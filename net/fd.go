//go:build linux

package net

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/internal/ringfd"
	"github.com/goaio/uring/ops"
)

// netFD is a socket of this package: the counterpart of std's netFD. A
// stream or datagram socket moves its data by system calls waiting in Go's
// netpoller (ready_linux.go, packet.go); accepts, connects, the copies'
// waits and unixpacket messages go through the ring. Reads and writes each
// hold their own lock, as std's fdMutex does, so concurrent Writes never
// interleave and a Read and a Write run in parallel. Close cancels what is
// in flight on the ring and waits for it before closing the descriptor; so
// does collecting a netFD nobody closed.
type netFD struct {
	*sock
	family int16 // small: the netFD of an idle connection fits a smaller size class
	sotype int16
	netID  uint8 // the network name errors carry: netNames[netID]
	// The addresses, made on first use for an accepted connection (an idle
	// one never pays for them): until then its IP peer stays raw, as the
	// accept gave it, and the local address is the kernel's.
	addrs atomic.Pointer[connAddrs]
	peer  unix.RawSockaddrInet6

	rmu, wmu sync.Mutex
	pkt      *packetIO // a datagram socket's (packet.go)
}

// sock is what closing a socket needs, apart from its netFD: requests on
// the ring may hold it (an armed accept's callback), so it must never
// point back at the netFD, whose cleanup could then never run.
type sock struct {
	ringfd.FD
	accept *acceptQueue // a listener's
	osf    *os.File     // a stream connection's descriptor in Go's netpoller (ready_linux.go)
}

// closing is sockKind's Closing: a listener's queue stops arming accepts,
// and the calls waiting in the netpoller wake to find the FD closed. Every
// FD of sockKind is the first field of a sock.
func closing(fd *ringfd.FD) {
	s := (*sock)(unsafe.Pointer(fd))
	if s.accept != nil {
		s.accept.stop()
	}
	if s.osf != nil {
		_ = s.osf.SetDeadline(closedDeadline)
	}
}

// netNames are the networks a socket can be on, the names std's errors
// carry; a netFD keeps the index.
var netNames = [...]string{"tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix", "unixgram", "unixpacket"}

func netIDOf(network string) uint8 {
	for i, n := range netNames {
		if n == network {
			return uint8(i)
		}
	}
	panic("uring/net: unknown network " + network) // std validated it before any socket
}

func (fd *netFD) netName() string { return netNames[fd.netID] }

// sockKind is what a socket's descriptor layer reports like std's net does.
var sockKind = &ringfd.Kind{ErrClosing: net.ErrClosed, CancelOnClose: true, SyscallErrors: true, Closing: closing}

// The FD must be a sock's first field, for closing.
var _ [0]struct{} = [unsafe.Offsetof(sock{}.FD)]struct{}{}

func newFD(r *uring.Ring, fd, family, sotype int, network string) *netFD {
	nfd := &netFD{sock: &sock{}, family: int16(family), sotype: int16(sotype), netID: netIDOf(network)}
	nfd.Init(r, fd, sockKind)
	return nfd
}

// track closes the socket of a netFD that becomes unreachable unclosed (see
// collected). A socket in Go's netpoller needs none: its os.File's own
// cleanup closes the descriptor once nothing holds the sock, which nothing
// in flight and no deadline timer does.
func (fd *netFD) track() {
	// Close does not stop it: once closed, collected does nothing.
	runtime.AddCleanup(fd, collected, fd.sock)
}

// collected closes the socket of a netFD that became unreachable unclosed,
// as std's finalizer does; on a goroutine of its own, since closing waits
// for the kernel and cleanups share one goroutine.
func collected(s *sock) {
	if !s.Closed() {
		go s.FD.Close(s.release)
	}
}

type connAddrs struct{ local, remote net.Addr }

func (fd *netFD) localAddr() net.Addr  { return fd.loadAddrs().local }
func (fd *netFD) remoteAddr() net.Addr { return fd.loadAddrs().remote }

// loadAddrs returns the addresses, making them on first use. Close makes
// them before the descriptor closes; a call that finds the FD closed
// already finds them made (or, for an FD closed by its cleanup, no one to
// ask).
func (fd *netFD) loadAddrs() *connAddrs {
	if a := fd.addrs.Load(); a != nil {
		return a
	}
	a := &connAddrs{}
	if fd.Incref() == nil { // the number is ours while we hold it
		kind := addrKind(fd.netName())
		var local unix.RawSockaddrAny
		if sockName(unix.SYS_GETSOCKNAME, fd.Sysfd, &local) == nil {
			a.local = rawToAddr(kind, &local)
		}
		var peer unix.RawSockaddrAny // fd.peer is shorter: checkptr refuses a cast of it
		*(*unix.RawSockaddrInet6)(unsafe.Pointer(&peer)) = fd.peer
		a.remote = rawToAddr(kind, &peer)
		fd.Decref()
	} else if a := fd.addrs.Load(); a != nil {
		return a
	}
	fd.addrs.CompareAndSwap(nil, a)
	return fd.addrs.Load()
}

// setAddrs reads the local and remote addresses from the kernel.
func (fd *netFD) setAddrs() {
	var peer unix.RawSockaddrAny
	if sockName(unix.SYS_GETPEERNAME, fd.Sysfd, &peer) != nil {
		peer.Addr.Family = unix.AF_UNSPEC
	}
	fd.setAddrsPeer(&peer)
}

// setAddrsPeer sets the remote address from peer (an accept's) and reads the
// local one from the kernel.
func (fd *netFD) setAddrsPeer(peer *unix.RawSockaddrAny) {
	kind := addrKind(fd.netName())
	a := &connAddrs{remote: rawToAddr(kind, peer)}
	var local unix.RawSockaddrAny
	if sockName(unix.SYS_GETSOCKNAME, fd.Sysfd, &local) == nil {
		a.local = rawToAddr(kind, &local)
	}
	fd.addrs.Store(a)
}

// setPeer keeps an accepted connection's peer for loadAddrs: an IP one
// raw, any other decoded now (a unix peer's path does not fit).
func (fd *netFD) setPeer(peer *unix.RawSockaddrAny) {
	switch peer.Addr.Family {
	case unix.AF_INET, unix.AF_INET6, unix.AF_UNSPEC:
		fd.peer = *(*unix.RawSockaddrInet6)(unsafe.Pointer(peer))
	default:
		fd.setAddrsPeer(peer)
	}
}

// sockName is getsockname or getpeername into rsa, which x/sys would
// allocate and decode into an address of its own: garbage per connection.
func sockName(trap uintptr, fd int, rsa *unix.RawSockaddrAny) error {
	n := uint32(unix.SizeofSockaddrAny)
	if _, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&n))); e != 0 {
		return e
	}
	return nil
}

// addrKind maps a network to the address type std gives it.
func addrKind(network string) string {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return "tcp"
	case "udp", "udp4", "udp6":
		return "udp"
	}
	return network
}

func (fd *netFD) opErr(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: fd.netName(), Source: fd.localAddr(), Addr: fd.remoteAddr(), Err: err}
}

// localErr is opErr for the calls std reports against the local address
// only: accept, deadlines, raw-control, a listener's close and file.
func (fd *netFD) localErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: op, Net: fd.netName(), Source: nil, Addr: fd.localAddr(), Err: err}
}

// Read receives into b, as std's netFD.Read: a 0-byte read returns at
// once on every socket type (a datagram stays queued); 0 bytes from a
// stream or seqpacket socket is io.EOF.
func (fd *netFD) Read(b []byte) (int, error) {
	if len(b) == 0 {
		if fd.Closed() {
			return 0, fd.opErr("read", net.ErrClosed)
		}
		return 0, nil
	}
	switch {
	case fd.pkt != nil:
		n, _, _, _, err := fd.recvMsg(b, nil, 0, "read", "")
		return n, err
	case fd.osf != nil:
		return fd.readStream(b)
	}
	return fd.readRing(b)
}

// readRing is Read by a recv on the ring. A function of its own: its frame
// (the op, the result) stays off the stack of a reader that takes the
// readiness path, which would otherwise grow past the smallest stack.
func (fd *netFD) readRing(b []byte) (int, error) {
	op := ops.Recv(fd.Sysfd, b, 0)
	op.IoPrio |= ops.RecvSendPollFirst // a reader usually waits for data: skip the futile first try
	fd.rmu.Lock()
	res, err := fd.FD.Read(op, "read")
	fd.rmu.Unlock()
	if err != nil {
		return 0, fd.opErr("read", err)
	}
	if res.N() == 0 && fd.sotype != unix.SOCK_DGRAM {
		return 0, io.EOF
	}
	return res.N(), nil
}

// Write sends all of b or returns an error, as std's netFD.Write.
func (fd *netFD) Write(b []byte) (int, error) {
	if fd.pkt != nil {
		n, _, err := fd.sendMsg(b, nil, nil, fd.remoteAddr(), "write")
		return n, err
	}
	if fd.osf != nil {
		return fd.writeStream(b)
	}
	return fd.writeRing(b)
}

// writeRing is Write by one send on the ring, for a datagram (an empty one
// too: it goes whole or not at all) and an empty stream write; in a
// function of its own for the reason readRing is.
func (fd *netFD) writeRing(b []byte) (int, error) {
	fd.wmu.Lock()
	defer fd.wmu.Unlock()
	res, err := fd.FD.Write(ops.Send(fd.Sysfd, b, unix.MSG_NOSIGNAL), "write")
	if err != nil {
		return 0, fd.opErr("write", err)
	}
	return res.N(), nil
}

// Close cancels the calls in flight, waits for the kernel to finish them,
// then closes the descriptor (ringfd.FD.Close).
func (fd *netFD) Close() error {
	fd.loadAddrs() // for the calls after Close, which std answers with them
	return fd.opErr("close", fd.FD.Close(fd.release))
}

// release is the last step of closing a socket, once nothing is in flight:
// the connections accepted ahead, a unix listener's file, the descriptor.
func (s *sock) release() error {
	if s.accept != nil {
		s.accept.closeAll()
	}
	if s.accept != nil && s.accept.unlink != "" {
		_ = unix.Unlink(s.accept.unlink)
	}
	if s.osf != nil {
		return s.osf.Close()
	}
	return os.NewSyscallError("close", unix.Close(s.Sysfd))
}

// shutdown closes one direction, as CloseRead and CloseWrite.
func (fd *netFD) shutdown(how int, op string) error {
	if err := fd.Incref(); err != nil {
		return fd.opErr(op, err)
	}
	defer fd.Decref()
	if err := unix.Shutdown(fd.Sysfd, how); err != nil {
		return fd.opErr(op, os.NewSyscallError("shutdown", err))
	}
	return nil
}

func (fd *netFD) setDeadline(t time.Time, read, write bool) error {
	if fd.Closed() {
		return fd.localErr("set", net.ErrClosed)
	}
	if read {
		fd.RD.Set(t)
		if fd.osf != nil {
			_ = fd.osf.SetReadDeadline(t)
		}
	}
	if write {
		fd.WD.Set(t)
		if fd.osf != nil {
			_ = fd.osf.SetWriteDeadline(t)
		}
	}
	if fd.osf != nil && fd.Closed() {
		// A Close that ran meanwhile woke the netpoller's waiters with a
		// passed deadline, which the deadline just set may have replaced.
		_ = fd.osf.SetDeadline(closedDeadline)
	}
	return nil
}

// control runs f on the descriptor under a reference (setsockopt and friends).
func (fd *netFD) control(f func(int) error) error {
	if err := fd.Incref(); err != nil {
		return err
	}
	defer fd.Decref()
	return f(fd.Sysfd)
}

// file returns a dup of the descriptor as an *os.File, exactly as std's
// File methods make it (Go 1.26): non-blocking and in the netpoller, so its
// deadlines work, and made blocking by its Fd. Making the copy blocking
// here, as before, made the conn's own socket blocking too (O_NONBLOCK
// belongs to the open file description the two share) and left the copy
// outside the netpoller (issue 25, defect 2). os.NewFile alone would give a
// copy whose Fd stays non-blocking; only std's own File gives both, so the
// copy is taken through a std conn adopted from a temporary dup.
func (fd *netFD) file(op string) (*os.File, error) {
	var nfd int
	err := fd.control(func(s int) error {
		var err error
		nfd, err = unix.FcntlInt(uintptr(s), unix.F_DUPFD_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, fd.opErr(op, fd.Err(context.Background(), "dup", err))
	}
	tmp := os.NewFile(uintptr(nfd), fd.name())
	defer tmp.Close()
	sc, err := net.FileConn(tmp)
	if err != nil {
		return nil, fd.opErr(op, err)
	}
	defer sc.Close()
	f, err := sc.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		return nil, fd.opErr(op, err)
	}
	return f, nil
}

// name is what std names a socket's os.File: "tcp:laddr->raddr".
func (fd *netFD) name() string {
	var ls, rs string
	if fd.localAddr() != nil {
		ls = fd.localAddr().String()
	}
	if fd.remoteAddr() != nil {
		rs = fd.remoteAddr().String()
	}
	return fd.netName() + ":" + ls + "->" + rs
}
