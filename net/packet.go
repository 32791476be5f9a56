//go:build linux

package net

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

// recvMsg receives one message with its control data and sender, through
// the ring (recvmsg(2)); name is the system call std's errors name.
func (fd *netFD) recvMsg(b, oob []byte, inFlags int, name string) (n, oobn, flags int, from unix.Sockaddr, err error) {
	var rsa unix.RawSockaddrAny
	fd.rmu.Lock()
	res, err := fd.FD.Read(ops.RecvMsg(fd.Sysfd, [][]byte{b}, oob, &rsa, inFlags), name)
	fd.rmu.Unlock()
	if err != nil {
		return 0, 0, 0, nil, fd.opErr("read", err)
	}
	if rsa.Addr.Family != unix.AF_UNSPEC {
		from, _ = ops.DecodeSockaddr(&rsa)
	}
	if res.N() == 0 && fd.sotype != unix.SOCK_DGRAM {
		// As std's ZeroReadIsEOF, even for an empty b; wrapped, as std's ReadFrom.
		err = &net.OpError{Op: "read", Net: fd.net, Source: fd.laddr, Addr: fd.raddr, Err: io.EOF}
	}
	return res.N(), int(res.OOBN), int(res.MsgFlags), from, err
}

// sendMsg sends one message to sa (nil: the connected peer).
func (fd *netFD) sendMsg(b, oob []byte, sa unix.Sockaddr, to net.Addr, name string) (n, oobn int, err error) {
	fd.wmu.Lock()
	res, err := fd.FD.Write(ops.SendMsg(fd.Sysfd, [][]byte{b}, oob, sa, unix.MSG_NOSIGNAL), name)
	fd.wmu.Unlock()
	if err != nil {
		return 0, 0, &net.OpError{Op: "write", Net: fd.net, Source: fd.laddr, Addr: to, Err: err}
	}
	return res.N(), len(oob), nil
}

// writeTarget checks a WriteTo's destination as std does (addr nil:
// missing), wrapping errors with to as the OpError's Addr.
func (fd *netFD) writeTarget(addr, to net.Addr) (unix.Sockaddr, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "write", Net: fd.net, Source: fd.laddr, Addr: to, Err: err}
	}
	if fd.raddr != nil {
		return nil, opErr(net.ErrWriteToConnected)
	}
	if addr == nil {
		return nil, opErr(errMissingAddress)
	}
	if ua, ok := addr.(*net.UnixAddr); ok && ua.Net != sotypeNet(fd.sotype) {
		return nil, opErr(syscall.EAFNOSUPPORT)
	}
	sa, err := addrToSockaddr(fd.family, addr)
	if err != nil {
		return nil, opErr(err)
	}
	return sa, nil
}

// sotypeNet is the unix network of a socket type, as std's sotypeToNet.
func sotypeNet(sotype int) string {
	switch sotype {
	case unix.SOCK_DGRAM:
		return "unixgram"
	case unix.SOCK_SEQPACKET:
		return "unixpacket"
	}
	return "unix"
}

// wrongAddr is std's error for a WriteTo address of another type.
func (fd *netFD) wrongAddr(addr net.Addr) error {
	return &net.OpError{Op: "write", Net: fd.net, Source: fd.laddr, Addr: addr, Err: syscall.EINVAL}
}

func udpAddr(a *net.UDPAddr) net.Addr {
	if a == nil {
		return nil
	}
	return a
}

func unixAddr(a *net.UnixAddr) net.Addr {
	if a == nil {
		return nil
	}
	return a
}

// UDPConn is a UDP socket on the ring, with *net.UDPConn's methods.
type UDPConn struct{ conn }

var (
	_ net.Conn       = (*UDPConn)(nil)
	_ net.PacketConn = (*UDPConn)(nil)
)

// ReadFrom reads a datagram and its sender, as net.PacketConn.ReadFrom.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromUDP(b)
	if addr == nil {
		return n, nil, err
	}
	return n, addr, err
}

// ReadFromUDP is ReadFrom returning a *net.UDPAddr.
func (c *UDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	if !c.ok() {
		return 0, nil, syscall.EINVAL
	}
	n, _, _, from, err := c.fd.recvMsg(b, nil, 0, "recvfrom")
	a, _ := sockaddrToAddr("udp", from).(*net.UDPAddr)
	return n, a, err
}

// ReadMsgUDP reads a datagram with its control data, as *net.UDPConn's.
func (c *UDPConn) ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	if !c.ok() {
		return 0, 0, 0, nil, syscall.EINVAL
	}
	n, oobn, flags, from, err := c.fd.recvMsg(b, oob, 0, "recvmsg")
	addr, _ = sockaddrToAddr("udp", from).(*net.UDPAddr)
	return n, oobn, flags, addr, err
}

// WriteTo writes a datagram to addr, as net.PacketConn.WriteTo.
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	a, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.fd.wrongAddr(addr)
	}
	return c.WriteToUDP(b, a)
}

// WriteToUDP writes a datagram to addr.
func (c *UDPConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	sa, err := c.fd.writeTarget(udpAddr(addr), udpAddr(addr))
	if err != nil {
		return 0, err
	}
	n, _, err := c.fd.sendMsg(b, nil, sa, udpAddr(addr), "sendto")
	return n, err
}

// WriteMsgUDP writes a datagram with control data to addr (nil on a
// connected socket), as *net.UDPConn's.
func (c *UDPConn) WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (n, oobn int, err error) {
	if !c.ok() {
		return 0, 0, syscall.EINVAL
	}
	var sa unix.Sockaddr
	to := udpAddr(addr)
	if addr != nil {
		if sa, err = c.fd.writeTarget(to, to); err != nil {
			return 0, 0, err
		}
	} else if c.fd.raddr == nil {
		return 0, 0, &net.OpError{Op: "write", Net: c.fd.net, Source: c.fd.laddr, Addr: nil, Err: errMissingAddress}
	}
	return c.fd.sendMsg(b, oob, sa, to, "sendmsg")
}

// UnixConn is a unix socket on the ring (stream, seqpacket or datagram),
// with *net.UnixConn's methods.
type UnixConn struct{ conn }

var (
	_ net.Conn       = (*UnixConn)(nil)
	_ net.PacketConn = (*UnixConn)(nil)
)

// CloseRead shuts down the reading side.
func (c *UnixConn) CloseRead() error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.shutdown(unix.SHUT_RD, "close")
}

// CloseWrite shuts down the writing side.
func (c *UnixConn) CloseWrite() error {
	if !c.ok() {
		return syscall.EINVAL
	}
	return c.fd.shutdown(unix.SHUT_WR, "close")
}

// ReadFrom reads a message and its sender.
func (c *UnixConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromUnix(b)
	if addr == nil {
		return n, nil, err
	}
	return n, addr, err
}

// ReadFromUnix is ReadFrom returning a *net.UnixAddr.
func (c *UnixConn) ReadFromUnix(b []byte) (int, *net.UnixAddr, error) {
	if !c.ok() {
		return 0, nil, syscall.EINVAL
	}
	n, _, _, from, err := c.fd.recvMsg(b, nil, 0, "recvfrom")
	a, _ := sockaddrToAddr(c.fd.net, from).(*net.UnixAddr)
	return n, a, err
}

// ReadMsgUnix reads a message with its control data (SCM_RIGHTS and friends).
func (c *UnixConn) ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error) {
	if !c.ok() {
		return 0, 0, 0, nil, syscall.EINVAL
	}
	// Descriptors received (SCM_RIGHTS) are close-on-exec, as std's.
	n, oobn, flags, from, err := c.fd.recvMsg(b, oob, unix.MSG_CMSG_CLOEXEC, "recvmsg")
	addr, _ = sockaddrToAddr(c.fd.net, from).(*net.UnixAddr)
	return n, oobn, flags, addr, err
}

// WriteTo writes a message to addr.
func (c *UnixConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	a, ok := addr.(*net.UnixAddr)
	if !ok {
		return 0, c.fd.wrongAddr(addr)
	}
	return c.WriteToUnix(b, a)
}

// WriteToUnix writes a message to addr.
func (c *UnixConn) WriteToUnix(b []byte, addr *net.UnixAddr) (int, error) {
	if !c.ok() {
		return 0, syscall.EINVAL
	}
	sa, err := c.fd.writeTarget(unixAddr(addr), unixAddr(addr))
	if err != nil {
		return 0, err
	}
	n, _, err := c.fd.sendMsg(b, nil, sa, unixAddr(addr), "sendto")
	return n, err
}

// WriteMsgUnix writes a message with control data to addr (nil on a
// connected socket). As std, a connected datagram socket refuses it even
// without an address.
func (c *UnixConn) WriteMsgUnix(b, oob []byte, addr *net.UnixAddr) (n, oobn int, err error) {
	if !c.ok() {
		return 0, 0, syscall.EINVAL
	}
	to := unixAddr(addr)
	opErr := func(err error) error {
		return &net.OpError{Op: "write", Net: c.fd.net, Source: c.fd.laddr, Addr: to, Err: err}
	}
	if c.fd.sotype == unix.SOCK_DGRAM && c.fd.raddr != nil {
		return 0, 0, opErr(net.ErrWriteToConnected)
	}
	var sa unix.Sockaddr
	if addr != nil {
		if addr.Net != sotypeNet(c.fd.sotype) {
			return 0, 0, opErr(syscall.EAFNOSUPPORT)
		}
		sa = &unix.SockaddrUnix{Name: addr.Name}
	}
	return c.fd.sendMsg(b, oob, sa, to, "sendmsg")
}
