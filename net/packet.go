//go:build linux

package net

import (
	"context"
	"io"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goaio/uring/ops"
)

// packetIO is a datagram socket's state for the readiness path: the receive
// in progress (under rmu) and the send (under wmu), kept here so that a call
// allocates no closure and no address, and only datagram sockets carry it.
type packetIO struct {
	rc                 syscall.RawConn // the os.File's, for the netpoller's waits
	rbuf, wbuf         []byte
	roob               []byte
	rflags             int
	rn, roobn, rmflags int
	rsa                unix.RawSockaddrAny // the sender
	rerr               error
	woob               []byte
	wsa                unix.RawSockaddrAny // the destination, wsaLen bytes (0: the peer)
	wsaLen             uint32
	wn                 int
	werr               error
	recvFn, sendFn     func(uintptr) bool
}

func (fd *netFD) initPacket(rc syscall.RawConn) {
	p := &packetIO{rc: rc}
	p.recvFn = func(s uintptr) bool {
		for {
			p.rn, p.roobn, p.rmflags, p.rerr = recvPacket(int(s), p.rbuf, p.roob, p.rflags|unix.MSG_DONTWAIT, &p.rsa)
			if p.rerr != syscall.EINTR {
				return p.rerr != syscall.EAGAIN
			}
		}
	}
	p.sendFn = func(s uintptr) bool {
		for {
			p.wn, p.werr = sendPacket(int(s), p.wbuf, p.woob, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, &p.wsa, p.wsaLen)
			if p.werr != syscall.EINTR {
				return p.werr != syscall.EAGAIN
			}
		}
	}
	fd.pkt = p
}

// recvPacket is recvfrom(2), or recvmsg(2) when there is control data to
// take, with the sender in rsa. With MSG_DONTWAIT it cannot block, so it is
// made without the scheduler's system-call state up to rawIOMax bytes. x/sys's Recvmsg would cost a getsockopt per datagram besides (it
// asks an AF_INET socket's protocol to tell L2TP apart).
func recvPacket(fd int, b, oob []byte, flags int, rsa *unix.RawSockaddrAny) (n, oobn, mflags int, err error) {
	rsa.Addr.Family = unix.AF_UNSPEC
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	var r uintptr
	var e syscall.Errno
	if len(oob) == 0 {
		alen := uint32(unix.SizeofSockaddrAny)
		r, e = packetSyscall(unix.SYS_RECVFROM, len(b), uintptr(fd), uintptr(p), uintptr(len(b)), uintptr(flags),
			uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&alen)))
	} else {
		iov := unix.Iovec{Base: (*byte)(p)}
		iov.SetLen(len(b))
		msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(rsa)), Namelen: unix.SizeofSockaddrAny, Iov: &iov, Iovlen: 1,
			Control: &oob[0]}
		msg.SetControllen(len(oob))
		r, e = packetSyscall(unix.SYS_RECVMSG, len(b), uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags), 0, 0, 0)
		oobn, mflags = int(msg.Controllen), int(msg.Flags)
	}
	if e != 0 {
		return 0, 0, 0, e
	}
	return int(r), oobn, mflags, nil
}

// sendPacket is sendto(2), or sendmsg(2) with control data, to the sockaddr
// in sa (salen 0: the connected peer; a stream's Write sends so too).
func sendPacket(fd int, b, oob []byte, flags int, sa *unix.RawSockaddrAny, salen uint32) (int, error) {
	var p, name unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	if salen > 0 {
		name = unsafe.Pointer(sa)
	}
	var r uintptr
	var e syscall.Errno
	if len(oob) == 0 {
		r, e = packetSyscall(unix.SYS_SENDTO, len(b), uintptr(fd), uintptr(p), uintptr(len(b)), uintptr(flags),
			uintptr(name), uintptr(salen))
	} else {
		iov := unix.Iovec{Base: (*byte)(p)}
		iov.SetLen(len(b))
		msg := unix.Msghdr{Name: (*byte)(name), Namelen: salen, Iov: &iov, Iovlen: 1, Control: &oob[0]}
		msg.SetControllen(len(oob))
		r, e = packetSyscall(unix.SYS_SENDMSG, len(b), uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags), 0, 0, 0)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// packetSyscall makes a non-blocking socket call moving size bytes: raw up
// to rawIOMax.
func packetSyscall(trap uintptr, size int, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, syscall.Errno) {
	if size <= rawIOMax {
		r, _, e := syscall.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
		return r, e
	}
	r, _, e := syscall.Syscall6(trap, a1, a2, a3, a4, a5, a6)
	return r, e
}

// putSockaddr encodes sa into raw as the kernel takes it, returning its
// length; nil is 0 (the connected peer).
func putSockaddr(sa unix.Sockaddr, raw *unix.RawSockaddrAny) uint32 {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		*r = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
		r.Port = htons(sa.Port)
		return unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		r := (*unix.RawSockaddrInet6)(unsafe.Pointer(raw))
		*r = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: sa.Addr, Scope_id: sa.ZoneId}
		r.Port = htons(sa.Port)
		return unix.SizeofSockaddrInet6
	case *unix.SockaddrUnix:
		r := (*unix.RawSockaddrUnix)(unsafe.Pointer(raw))
		*r = unix.RawSockaddrUnix{Family: unix.AF_UNIX}
		name := sa.Name
		n := min(len(name), len(r.Path)) // as x/sys's encoding, which addrToSockaddr ran first
		for i := range n {
			r.Path[i] = int8(name[i])
		}
		l := uint32(2)
		if n > 0 {
			l += uint32(n) + 1 // the NUL
		}
		if n > 0 && (name[0] == '@' || name[0] == 0 && l > 3) { // abstract: a NUL first, and no NUL after
			r.Path[0] = 0
			l--
		}
		return l
	}
	return 0
}

// rawToAddr is the address of kind in rsa (nil for none), made straight
// from the raw sockaddr for IP: two allocations, as std's.
func rawToAddr(kind string, rsa *unix.RawSockaddrAny) net.Addr {
	var ip net.IP
	var port int
	var zone string
	switch rsa.Addr.Family {
	case unix.AF_UNSPEC:
		return nil
	case unix.AF_INET:
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		ip, port = append(make(net.IP, 0, 4), raw.Addr[:]...), ntohs(raw.Port)
	case unix.AF_INET6:
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		ip, port, zone = append(make(net.IP, 0, 16), raw.Addr[:]...), ntohs(raw.Port), zoneName(raw.Scope_id)
	case unix.AF_UNIX:
		// As syscall's decoding, which std's accept and recvfrom use: a
		// leading NUL reads as '@', so an unnamed peer is "@".
		raw := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		b := unsafe.Slice((*byte)(unsafe.Pointer(&raw.Path[0])), len(raw.Path))
		n := 1
		for n < len(b) && b[n] != 0 {
			n++
		}
		name := "@" + string(b[1:n])
		if b[0] != 0 {
			name = string(b[:n])
		}
		return &net.UnixAddr{Name: name, Net: kind}
	default:
		return nil
	}
	if kind == "udp" {
		return &net.UDPAddr{IP: ip, Port: port, Zone: zone}
	}
	return &net.TCPAddr{IP: ip, Port: port, Zone: zone}
}

func ntohs(p uint16) int { return int(p>>8) | int(p&0xff)<<8 }

func htons(p int) uint16 { return uint16(p>>8&0xff) | uint16(p&0xff)<<8 }

// recvMsg receives one message with its control data and sender, an
// address of kind (see rawToAddr); name is the system call std's
// errors name.
func (fd *netFD) recvMsg(b, oob []byte, inFlags int, name, kind string) (n, oobn, flags int, from net.Addr, err error) {
	if fd.pkt == nil {
		return fd.recvMsgRing(b, oob, inFlags, name, kind)
	}
	fd.rmu.Lock()
	defer fd.rmu.Unlock()
	if err := fd.Incref(); err != nil {
		return 0, 0, 0, nil, fd.opErr("read", err)
	}
	defer fd.Decref()
	if err := fd.RD.Err(); err != nil {
		return 0, 0, 0, nil, fd.opErr("read", err)
	}
	p := fd.pkt
	p.rbuf, p.roob, p.rflags = b, oob, inFlags
	err = p.rc.Read(p.recvFn)
	p.rbuf, p.roob = nil, nil
	switch {
	case err != nil:
		return 0, 0, 0, nil, fd.opErr("read", fd.waitErr(err))
	case p.rerr != nil:
		return 0, 0, 0, nil, fd.opErr("read", fd.Err(context.Background(), name, p.rerr))
	}
	if kind == "" { // Read: the sender is the peer
		return p.rn, p.roobn, p.rmflags, nil, nil
	}
	return p.rn, p.roobn, p.rmflags, rawToAddr(kind, &p.rsa), nil
}

// sendMsg sends one message to sa (nil: the connected peer).
func (fd *netFD) sendMsg(b, oob []byte, sa unix.Sockaddr, to net.Addr, name string) (n, oobn int, err error) {
	if fd.pkt == nil {
		return fd.sendMsgRing(b, oob, sa, to, name)
	}
	fd.wmu.Lock()
	defer fd.wmu.Unlock()
	if err := fd.Incref(); err != nil {
		return 0, 0, fd.writeErr(to, err)
	}
	defer fd.Decref()
	if err := fd.WD.Err(); err != nil {
		return 0, 0, fd.writeErr(to, err)
	}
	p := fd.pkt
	p.wbuf, p.woob, p.wsaLen = b, oob, putSockaddr(sa, &p.wsa)
	err = p.rc.Write(p.sendFn)
	p.wbuf, p.woob = nil, nil
	switch {
	case err != nil:
		return 0, 0, fd.writeErr(to, fd.waitErr(err))
	case p.werr != nil:
		return 0, 0, fd.writeErr(to, fd.Err(context.Background(), name, p.werr))
	}
	return p.wn, len(oob), nil
}

// writeErr is a datagram write's error, against its destination.
func (fd *netFD) writeErr(to net.Addr, err error) error {
	return &net.OpError{Op: "write", Net: fd.netName(), Source: fd.localAddr(), Addr: to, Err: err}
}

// recvMsgRing is recvMsg by a request on the ring (recvmsg(2)).
func (fd *netFD) recvMsgRing(b, oob []byte, inFlags int, name, kind string) (n, oobn, flags int, from net.Addr, err error) {
	var rsa unix.RawSockaddrAny
	fd.rmu.Lock()
	res, err := fd.FD.Read(ops.RecvMsg(fd.Sysfd, [][]byte{b}, oob, &rsa, inFlags), name)
	fd.rmu.Unlock()
	if err != nil {
		return 0, 0, 0, nil, fd.opErr("read", err)
	}
	from = rawToAddr(kind, &rsa)
	if res.N() == 0 && fd.sotype != unix.SOCK_DGRAM {
		// As std's ZeroReadIsEOF, even for an empty b; wrapped, as std's ReadFrom.
		err = &net.OpError{Op: "read", Net: fd.netName(), Source: fd.localAddr(), Addr: fd.remoteAddr(), Err: io.EOF}
	}
	return res.N(), int(res.OOBN), int(res.MsgFlags), from, err
}

// sendMsgRing is sendMsg by a request on the ring.
func (fd *netFD) sendMsgRing(b, oob []byte, sa unix.Sockaddr, to net.Addr, name string) (n, oobn int, err error) {
	fd.wmu.Lock()
	res, err := fd.FD.Write(ops.SendMsg(fd.Sysfd, [][]byte{b}, oob, sa, unix.MSG_NOSIGNAL), name)
	fd.wmu.Unlock()
	if err != nil {
		return 0, 0, &net.OpError{Op: "write", Net: fd.netName(), Source: fd.localAddr(), Addr: to, Err: err}
	}
	return res.N(), len(oob), nil
}

// writeTarget checks a WriteTo's destination as std does (addr nil:
// missing), wrapping errors with to as the OpError's Addr.
func (fd *netFD) writeTarget(addr, to net.Addr) (unix.Sockaddr, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "write", Net: fd.netName(), Source: fd.localAddr(), Addr: to, Err: err}
	}
	if fd.remoteAddr() != nil {
		return nil, opErr(net.ErrWriteToConnected)
	}
	if addr == nil {
		return nil, opErr(errMissingAddress)
	}
	if ua, ok := addr.(*net.UnixAddr); ok && ua.Net != sotypeNet(int(fd.sotype)) {
		return nil, opErr(syscall.EAFNOSUPPORT)
	}
	sa, err := addrToSockaddr(int(fd.family), addr)
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
	return &net.OpError{Op: "write", Net: fd.netName(), Source: fd.localAddr(), Addr: addr, Err: syscall.EINVAL}
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
	n, _, _, from, err := c.fd.recvMsg(b, nil, 0, "recvfrom", "udp")
	a, _ := from.(*net.UDPAddr)
	return n, a, err
}

// ReadMsgUDP reads a datagram with its control data, as *net.UDPConn's.
func (c *UDPConn) ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	if !c.ok() {
		return 0, 0, 0, nil, syscall.EINVAL
	}
	n, oobn, flags, from, err := c.fd.recvMsg(b, oob, 0, "recvmsg", "udp")
	addr, _ = from.(*net.UDPAddr)
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
	} else if c.fd.remoteAddr() == nil {
		return 0, 0, &net.OpError{Op: "write", Net: c.fd.netName(), Source: c.fd.localAddr(), Addr: nil, Err: errMissingAddress}
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
	n, _, _, from, err := c.fd.recvMsg(b, nil, 0, "recvfrom", c.fd.netName())
	a, _ := from.(*net.UnixAddr)
	return n, a, err
}

// ReadMsgUnix reads a message with its control data (SCM_RIGHTS and friends).
func (c *UnixConn) ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error) {
	if !c.ok() {
		return 0, 0, 0, nil, syscall.EINVAL
	}
	// Descriptors received (SCM_RIGHTS) are close-on-exec, as std's.
	n, oobn, flags, from, err := c.fd.recvMsg(b, oob, unix.MSG_CMSG_CLOEXEC, "recvmsg", c.fd.netName())
	addr, _ = from.(*net.UnixAddr)
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
		return &net.OpError{Op: "write", Net: c.fd.netName(), Source: c.fd.localAddr(), Addr: to, Err: err}
	}
	if c.fd.sotype == unix.SOCK_DGRAM && c.fd.remoteAddr() != nil {
		return 0, 0, opErr(net.ErrWriteToConnected)
	}
	var sa unix.Sockaddr
	if addr != nil {
		if addr.Net != sotypeNet(int(c.fd.sotype)) {
			return 0, 0, opErr(syscall.EAFNOSUPPORT)
		}
		sa = &unix.SockaddrUnix{Name: addr.Name}
	}
	return c.fd.sendMsg(b, oob, sa, to, "sendmsg")
}
