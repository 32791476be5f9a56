//go:build linux

package ops

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket creates a socket like socket(2); the result is the new fd.
//
// Implements: io_uring_prep_socket.
func Socket(domain, typ, proto int) Op {
	return Op{Opcode: OpSocket, Fd: int32(domain), Off: uint64(typ), Len: uint32(proto)}
}

// Accept accepts a connection on listening socket fd, like accept4(2) with
// flags (unix.SOCK_NONBLOCK, unix.SOCK_CLOEXEC). When rsa is non-nil the
// peer's address is written there and its length to *addrlen, which must hold
// the size of *rsa on entry.
//
// Implements: io_uring_prep_accept.
func Accept(fd int, rsa *unix.RawSockaddrAny, addrlen *uint32, flags int) Op {
	if op, ok := checkFd(OpAccept, fd); !ok {
		return op
	}
	op := Op{Opcode: OpAccept, Fd: int32(fd), OpFlags: uint32(flags)}
	if rsa != nil && addrlen != nil {
		op.Addr, op.Addr2 = unsafe.Pointer(rsa), unsafe.Pointer(addrlen)
	}
	return op
}

// AcceptMulti accepts connections on fd until cancelled, one completion (the
// new fd) per connection.
//
// Implements: io_uring_prep_multishot_accept.
func AcceptMulti(fd int, flags int) Op {
	op := Accept(fd, nil, nil, flags)
	if op.err == nil {
		op.IoPrio |= AcceptMultishot
	}
	return op
}

// Connect connects socket fd to sa.
//
// Implements: io_uring_prep_connect.
func Connect(fd int, sa unix.Sockaddr) Op {
	if op, ok := checkFd(OpConnect, fd); !ok {
		return op
	}
	if !sockaddrOK(sa) {
		return invalid(OpConnect, ErrBadSockaddr)
	}
	return Op{Opcode: OpConnect, Fd: int32(fd), Sockaddr: sa, Kind: ArgSockaddr}
}

// Bind binds socket fd to sa (Linux 6.11).
//
// Implements: io_uring_prep_bind.
func Bind(fd int, sa unix.Sockaddr) Op {
	op := Connect(fd, sa)
	op.Opcode = OpBind
	return op
}

// Listen marks socket fd as listening with the given backlog (Linux 6.11).
//
// Implements: io_uring_prep_listen.
func Listen(fd int, backlog int) Op {
	if op, ok := checkFd(OpListen, fd); !ok {
		return op
	}
	return Op{Opcode: OpListen, Fd: int32(fd), Len: uint32(backlog)}
}

// Send sends b on connected socket fd with send(2) flags (unix.MSG_*).
//
// Implements: io_uring_prep_send.
func Send(fd int, b []byte, flags int) Op {
	op := rw(OpSend, fd, b, 0)
	op.OpFlags = uint32(flags)
	return op
}

// Recv receives into b from socket fd with recv(2) flags.
//
// Implements: io_uring_prep_recv.
func Recv(fd int, b []byte, flags int) Op {
	op := rw(OpRecv, fd, b, 0)
	op.OpFlags = uint32(flags)
	return op
}

// RecvMulti receives repeatedly from fd into buffers picked from provided
// buffer group group, one completion per message, until cancelled or the
// group runs dry.
//
// Implements: io_uring_prep_recv_multishot with IOSQE_BUFFER_SELECT.
func RecvMulti(fd int, group uint16, flags int) Op {
	if op, ok := checkFd(OpRecv, fd); !ok {
		return op
	}
	return Op{Opcode: OpRecv, Fd: int32(fd), OpFlags: uint32(flags), IoPrio: RecvMultishot,
		Flags: FlagBufferSelect, BufIndex: group}
}

// SendZC sends b without copying it into the kernel: the request posts its
// result, then a notification once the kernel no longer needs b. A ring's
// blocking call returns after the notification.
//
// Implements: io_uring_prep_send_zc.
func SendZC(fd int, b []byte, flags int) Op {
	op := Send(fd, b, flags)
	if op.err == nil {
		op.Opcode = OpSendZC
	}
	return op
}

// SendMsg sends bufs (gathered) and the control data oob to sa (nil: the
// connected peer) on socket fd, like sendmsg(2).
//
// Implements: io_uring_prep_sendmsg.
func SendMsg(fd int, bufs [][]byte, oob []byte, to unix.Sockaddr, flags int) Op {
	if op, ok := checkFd(OpSendMsg, fd); !ok {
		return op
	}
	if to != nil && !sockaddrOK(to) {
		return invalid(OpSendMsg, ErrBadSockaddr)
	}
	return Op{Opcode: OpSendMsg, Fd: int32(fd), Bufs: bufs, OOB: oob, Sockaddr: to, Len: 1,
		OpFlags: uint32(flags), Kind: ArgMsghdr}
}

// RecvMsg receives into bufs (scattered) and control data into oob on socket
// fd, like recvmsg(2). When from is non-nil the sender's address is written
// there. The result's MsgFlags and OOBN report msg_flags and the control length.
//
// Implements: io_uring_prep_recvmsg.
func RecvMsg(fd int, bufs [][]byte, oob []byte, from *unix.RawSockaddrAny, flags int) Op {
	if op, ok := checkFd(OpRecvMsg, fd); !ok {
		return op
	}
	return Op{Opcode: OpRecvMsg, Fd: int32(fd), Bufs: bufs, OOB: oob, Addr2: unsafe.Pointer(from), Len: 1,
		OpFlags: uint32(flags), Kind: ArgMsghdr}
}

// Shutdown shuts down part of a full-duplex connection (unix.SHUT_RD, _WR, _RDWR).
//
// Implements: io_uring_prep_shutdown.
func Shutdown(fd int, how int) Op {
	if op, ok := checkFd(OpShutdown, fd); !ok {
		return op
	}
	return Op{Opcode: OpShutdown, Fd: int32(fd), Len: uint32(how)}
}

func sockaddrOK(sa unix.Sockaddr) bool {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa != nil && portOK(sa.Port)
	case *unix.SockaddrInet6:
		return sa != nil && portOK(sa.Port)
	case *unix.SockaddrUnix:
		return sa != nil && len(sa.Name) < len(unix.RawSockaddrUnix{}.Path)
	}
	return false
}

// portOK rejects ports that do not fit in 16 bits, as the syscall package does
// (EINVAL), instead of silently truncating them.
func portOK(p int) bool { return p >= 0 && p <= 0xffff }

// EncodeSockaddr writes sa in its kernel layout into dst (at least
// unix.SizeofSockaddrAny bytes) and returns the length to pass with it.
func EncodeSockaddr(sa unix.Sockaddr, dst []byte) (int, error) {
	_ = dst[unix.SizeofSockaddrAny-1] // the writes below go through unsafe pointers: check the length once
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		if sa == nil || !portOK(sa.Port) {
			return 0, ErrBadSockaddr
		}
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(&dst[0]))
		*raw = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: sa.Addr}
		raw.Port = htons(sa.Port)
		return unix.SizeofSockaddrInet4, nil
	case *unix.SockaddrInet6:
		if sa == nil || !portOK(sa.Port) {
			return 0, ErrBadSockaddr
		}
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(&dst[0]))
		*raw = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: sa.Addr, Scope_id: sa.ZoneId}
		raw.Port = htons(sa.Port)
		return unix.SizeofSockaddrInet6, nil
	case *unix.SockaddrUnix:
		if sa == nil {
			return 0, ErrBadSockaddr
		}
		raw := (*unix.RawSockaddrUnix)(unsafe.Pointer(&dst[0]))
		*raw = unix.RawSockaddrUnix{Family: unix.AF_UNIX}
		n := len(sa.Name)
		if n >= len(raw.Path) {
			return 0, ErrBadSockaddr
		}
		for i := 0; i < n; i++ {
			raw.Path[i] = int8(sa.Name[i])
		}
		// An abstract address starts with '@' in Go and NUL in the kernel.
		if n > 0 && sa.Name[0] == '@' {
			raw.Path[0] = 0
			return 2 + n, nil
		}
		if n == 0 {
			return 2, nil // unnamed
		}
		return 2 + n + 1, nil
	}
	return 0, ErrBadSockaddr
}

// DecodeSockaddr converts a kernel socket address into a unix.Sockaddr.
func DecodeSockaddr(rsa *unix.RawSockaddrAny) (unix.Sockaddr, error) {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return &unix.SockaddrInet4{Port: ntohs(raw.Port), Addr: raw.Addr}, nil
	case unix.AF_INET6:
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return &unix.SockaddrInet6{Port: ntohs(raw.Port), Addr: raw.Addr, ZoneId: raw.Scope_id}, nil
	case unix.AF_UNIX:
		raw := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		n := 0
		for n < len(raw.Path) && (raw.Path[n] != 0 || (n == 0 && raw.Path[1] != 0)) {
			n++
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(&raw.Path[0])), n)
		if n > 0 && b[0] == 0 { // abstract
			return &unix.SockaddrUnix{Name: "@" + string(b[1:])}, nil
		}
		return &unix.SockaddrUnix{Name: string(b)}, nil
	}
	return nil, ErrBadSockaddr
}

func htons(p int) uint16 { return uint16(p>>8&0xff) | uint16(p&0xff)<<8 }
func ntohs(p uint16) int { return int(p>>8) | int(p&0xff)<<8 }
