//go:build linux

package ops_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/ops"
)

var loopback4 = [4]byte{127, 0, 0, 1}

// socket returns a blocking socket closed at the end of the test.
func socket(t testing.TB, domain, typ int) int {
	t.Helper()
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	closeFd(t, fd)
	return fd
}

func sockname(t testing.TB, fd int) unix.Sockaddr {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err)
	return sa
}

// tcpListener listens on 127.0.0.1 at a port the kernel picks.
func tcpListener(t testing.TB) (int, *unix.SockaddrInet4) {
	t.Helper()
	fd := socket(t, unix.AF_INET, unix.SOCK_STREAM)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: loopback4}))
	require.NoError(t, unix.Listen(fd, 16))
	return fd, sockname(t, fd).(*unix.SockaddrInet4)
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server int) {
	t.Helper()
	l, sa := tcpListener(t)
	client = socket(t, unix.AF_INET, unix.SOCK_STREAM)
	require.NoError(t, unix.Connect(client, sa))
	server, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	require.NoError(t, err)
	closeFd(t, server)
	return client, server
}

// readFull reads exactly n bytes from fd with plain system calls.
func readFull(t testing.TB, fd int, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	for got := 0; got < n; {
		m, err := unix.Read(fd, buf[got:])
		require.NoError(t, err)
		require.Positive(t, m, "unexpected EOF")
		got += m
	}
	return buf
}

func TestSocketBindListen(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSocket)
	fd := do(t, r, ops.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)).N()
	closeFd(t, fd)
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	require.NoError(t, err)
	require.Equal(t, unix.SOCK_STREAM, typ)
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err)
	require.Equal(t, unix.FD_CLOEXEC, flags&unix.FD_CLOEXEC, "type flags reach the kernel")

	_, err = r.Do(t.Context(), ops.Socket(12345, unix.SOCK_STREAM, 0))
	require.ErrorIs(t, err, unix.EAFNOSUPPORT)

	t.Run("bind and listen", func(t *testing.T) {
		needOp(t, r, ops.OpBind, ops.OpListen)
		require.Equal(t, int32(0), do(t, r, ops.Bind(fd, &unix.SockaddrInet4{Addr: loopback4})).Res)
		sa := sockname(t, fd).(*unix.SockaddrInet4)
		require.Equal(t, loopback4, sa.Addr)
		require.NotZero(t, sa.Port)

		require.Equal(t, int32(0), do(t, r, ops.Listen(fd, 4)).Res)
		on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		require.NoError(t, err)
		require.Equal(t, 1, on)

		c := socket(t, unix.AF_INET, unix.SOCK_STREAM)
		require.NoError(t, unix.Connect(c, sa))

		// Binding again is refused by the kernel.
		_, err = r.Do(t.Context(), ops.Bind(fd, &unix.SockaddrInet4{Addr: loopback4}))
		require.ErrorIs(t, err, unix.EINVAL)
	})
}

func TestConnectAccept(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpConnect, ops.OpAccept)
	l, sa := tcpListener(t)

	var rsa unix.RawSockaddrAny
	alen := uint32(unix.SizeofSockaddrAny)
	fut, err := r.Submit(t.Context(), ops.Accept(l, &rsa, &alen, unix.SOCK_CLOEXEC))
	require.NoError(t, err)

	c := socket(t, unix.AF_INET, unix.SOCK_STREAM)
	require.Equal(t, int32(0), do(t, r, ops.Connect(c, sa)).Res)

	res, err := fut.Wait()
	require.NoError(t, err)
	s := res.N()
	closeFd(t, s)
	require.Equal(t, uint32(unix.SizeofSockaddrInet4), alen)
	peer, err := ops.DecodeSockaddr(&rsa)
	require.NoError(t, err)
	require.Equal(t, sockname(t, c), peer, "accept reports the client's address")

	// The connection carries data both ways.
	_, err = unix.Write(c, []byte("ping"))
	require.NoError(t, err)
	require.Equal(t, "ping", string(readFull(t, s, 4)))

	// Accept without an address.
	fut, err = r.Submit(t.Context(), ops.Accept(l, nil, nil, 0))
	require.NoError(t, err)
	c2 := socket(t, unix.AF_INET, unix.SOCK_STREAM)
	do(t, r, ops.Connect(c2, sa))
	res, err = fut.Wait()
	require.NoError(t, err)
	closeFd(t, res.N())

	// A bound socket that does not listen refuses connections.
	closed := socket(t, unix.AF_INET, unix.SOCK_STREAM)
	require.NoError(t, unix.Bind(closed, &unix.SockaddrInet4{Addr: loopback4}))
	_, err = r.Do(t.Context(), ops.Connect(socket(t, unix.AF_INET, unix.SOCK_STREAM), sockname(t, closed)))
	require.ErrorIs(t, err, unix.ECONNREFUSED)

	t.Run("ipv6", func(t *testing.T) {
		l6, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skipf("no IPv6: %v", err)
		}
		closeFd(t, l6)
		if err := unix.Bind(l6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}); err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		require.NoError(t, unix.Listen(l6, 1))
		c6 := socket(t, unix.AF_INET6, unix.SOCK_STREAM)
		do(t, r, ops.Connect(c6, sockname(t, l6)))
		alen := uint32(unix.SizeofSockaddrAny)
		s6 := do(t, r, ops.Accept(l6, &rsa, &alen, unix.SOCK_CLOEXEC)).N()
		closeFd(t, s6)
		peer, err := ops.DecodeSockaddr(&rsa)
		require.NoError(t, err)
		require.Equal(t, sockname(t, c6), peer)
	})
}

func TestAcceptMulti(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpAccept)
	l, sa := tcpListener(t)

	// Connect the first client up front and each next one from the loop,
	// so the stream sees connections both queued and arriving.
	clients := map[string]bool{}
	dial := func() {
		c := socket(t, unix.AF_INET, unix.SOCK_STREAM)
		require.NoError(t, unix.Connect(c, sa))
		clients[fmt.Sprint(sockname(t, c))] = true
	}
	dial()
	op := ops.AcceptMulti(l, unix.SOCK_CLOEXEC)
	require.True(t, op.Multishot())
	_, err := r.Do(t.Context(), op)
	require.ErrorIs(t, err, uring.ErrMultishot)

	accepted := 0
	for res, err := range r.Stream(t.Context(), op) {
		require.NoError(t, err)
		require.True(t, res.More(), "multishot accept goes on until cancelled")
		closeFd(t, res.N())
		peer, err := unix.Getpeername(res.N())
		require.NoError(t, err)
		require.True(t, clients[fmt.Sprint(peer)], "accepted an unknown peer %v", peer)
		delete(clients, fmt.Sprint(peer))
		if accepted++; accepted == 3 {
			break
		}
		dial()
	}
	require.Equal(t, 3, accepted)
	require.Empty(t, clients)
	requireIdle(t, r) // breaking out cancelled the accept
}

func TestSendRecv(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSend, ops.OpRecv)
	c, s := tcpPair(t)

	require.Equal(t, 11, do(t, r, ops.Send(c, []byte("hello world"), 0)).N())
	peek := make([]byte, 5)
	require.Equal(t, 5, do(t, r, ops.Recv(s, peek, unix.MSG_PEEK)).N())
	require.Equal(t, "hello", string(peek))
	buf := make([]byte, 11)
	require.Equal(t, 11, do(t, r, ops.Recv(s, buf, unix.MSG_WAITALL)).N())
	require.Equal(t, "hello world", string(buf), "MSG_PEEK left the bytes queued")

	// A recv parked on an empty socket completes when data arrives.
	fut, err := r.Submit(t.Context(), ops.Recv(c, buf, 0))
	require.NoError(t, err)
	do(t, r, ops.Send(s, []byte("late"), 0))
	res, err := fut.Wait()
	require.NoError(t, err)
	require.Equal(t, "late", string(buf[:res.N()]))

	_, err = r.Do(t.Context(), ops.Recv(s, buf, unix.MSG_DONTWAIT))
	require.ErrorIs(t, err, unix.EAGAIN)
}

func TestSendZC(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSendZC)
	c, s := tcpPair(t)
	data := bytes.Repeat([]byte("zero-copy "), 1000)

	res := do(t, r, ops.SendZC(c, data, 0))
	require.Equal(t, len(data), res.N())
	require.Equal(t, data, readFull(t, s, len(data)))
	// Do returned after the buffer notification: nothing is left in flight.
	require.Zero(t, r.Stats().InFlight)

	_, err := r.Do(t.Context(), ops.SendZC(socket(t, unix.AF_INET, unix.SOCK_STREAM), data, unix.MSG_NOSIGNAL))
	require.ErrorIs(t, err, unix.EPIPE, "sending on an unconnected socket fails")
}

func TestShutdown(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpShutdown)
	c, s := tcpPair(t)
	do(t, r, ops.Send(c, []byte("last"), 0))
	require.Equal(t, int32(0), do(t, r, ops.Shutdown(c, unix.SHUT_WR)).Res)

	// The peer reads what was sent, then EOF.
	buf := make([]byte, 16)
	require.Equal(t, "last", string(readFull(t, s, 4)))
	require.Equal(t, 0, do(t, r, ops.Recv(s, buf, 0)).N(), "EOF after the peer shut down writing")

	_, err := r.Do(t.Context(), ops.Send(c, []byte("x"), unix.MSG_NOSIGNAL))
	require.ErrorIs(t, err, unix.EPIPE)
	// The other direction still works.
	do(t, r, ops.Send(s, []byte("back"), 0))
	require.Equal(t, "back", string(readFull(t, c, 4)))

	_, err = r.Do(t.Context(), ops.Shutdown(socket(t, unix.AF_INET, unix.SOCK_STREAM), unix.SHUT_RDWR))
	require.ErrorIs(t, err, unix.ENOTCONN)
}

func TestSendMsgRecvMsgUDP(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSendMsg, ops.OpRecvMsg)
	a := socket(t, unix.AF_INET, unix.SOCK_DGRAM)
	b := socket(t, unix.AF_INET, unix.SOCK_DGRAM)
	require.NoError(t, unix.Bind(a, &unix.SockaddrInet4{Addr: loopback4}))
	require.NoError(t, unix.Bind(b, &unix.SockaddrInet4{Addr: loopback4}))
	require.NoError(t, unix.SetsockoptInt(b, unix.IPPROTO_IP, unix.IP_PKTINFO, 1))

	// Gathered send to an explicit address.
	res := do(t, r, ops.SendMsg(a, [][]byte{[]byte("hello "), []byte("world")}, nil, sockname(t, b), 0))
	require.Equal(t, 11, res.N())

	// Scattered receive with the sender's address and control data.
	head, tail := make([]byte, 4), make([]byte, 32)
	oob := make([]byte, 128)
	var from unix.RawSockaddrAny
	res = do(t, r, ops.RecvMsg(b, [][]byte{head, tail}, oob, &from, 0))
	require.Equal(t, 11, res.N())
	require.Equal(t, "hell", string(head))
	require.Equal(t, "o world", string(tail[:7]))
	sender, err := ops.DecodeSockaddr(&from)
	require.NoError(t, err)
	require.Equal(t, sockname(t, a), sender)
	require.Zero(t, res.MsgFlags&unix.MSG_TRUNC)

	require.Positive(t, res.OOBN, "IP_PKTINFO control data arrives in oob")
	msgs, err := unix.ParseSocketControlMessage(oob[:res.OOBN])
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, int32(unix.IPPROTO_IP), msgs[0].Header.Level)
	require.Equal(t, int32(unix.IP_PKTINFO), msgs[0].Header.Type)
	require.GreaterOrEqual(t, len(msgs[0].Data), unix.SizeofInet4Pktinfo)
	pktinfo := (*unix.Inet4Pktinfo)(unsafe.Pointer(&msgs[0].Data[0]))
	require.Equal(t, loopback4, pktinfo.Addr, "ipi_addr: the datagram's destination")

	// A datagram larger than the buffers is truncated: msg_flags says so.
	do(t, r, ops.SendMsg(a, [][]byte{bytes.Repeat([]byte("x"), 100)}, nil, sockname(t, b), 0))
	res = do(t, r, ops.RecvMsg(b, [][]byte{head}, nil, nil, 0))
	require.Equal(t, 4, res.N())
	require.NotZero(t, res.MsgFlags&unix.MSG_TRUNC)
}

func TestSendMsgRecvMsgUnixRights(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSendMsg, ops.OpRecvMsg)
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	closeFd(t, sp[0])
	closeFd(t, sp[1])
	pr, pw := pipe(t)

	// Pass the pipe's write end across the socket (SCM_RIGHTS).
	res := do(t, r, ops.SendMsg(sp[0], [][]byte{[]byte("fd")}, unix.UnixRights(pw), nil, 0))
	require.Equal(t, 2, res.N())

	buf := make([]byte, 8)
	oob := make([]byte, unix.CmsgSpace(4))
	res = do(t, r, ops.RecvMsg(sp[1], [][]byte{buf}, oob, nil, unix.MSG_CMSG_CLOEXEC))
	require.Equal(t, "fd", string(buf[:res.N()]))
	require.Equal(t, int32(len(oob)), res.OOBN)
	msgs, err := unix.ParseSocketControlMessage(oob[:res.OOBN])
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	fds, err := unix.ParseUnixRights(&msgs[0])
	require.NoError(t, err)
	require.Len(t, fds, 1)
	closeFd(t, fds[0])
	require.NotEqual(t, pw, fds[0])

	// The received descriptor writes into the same pipe.
	do(t, r, ops.Write(fds[0], []byte("through the passed fd"), -1))
	require.Equal(t, "through the passed fd", string(readFull(t, pr, 21)))
}

func TestSendMsgUnixAddresses(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpSendMsg, ops.OpRecvMsg)
	dir := t.TempDir()
	for _, name := range []string{
		filepath.Join(dir, "s"),
		fmt.Sprintf("@goaio-uring-test-%d-%s", os.Getpid(), t.Name()),
	} {
		recv := socket(t, unix.AF_UNIX, unix.SOCK_DGRAM)
		require.NoError(t, unix.Bind(recv, &unix.SockaddrUnix{Name: name}))
		send := socket(t, unix.AF_UNIX, unix.SOCK_DGRAM)
		require.NoError(t, unix.Bind(send, &unix.SockaddrUnix{Name: name + "-from"}))

		res := do(t, r, ops.SendMsg(send, [][]byte{[]byte(name)}, nil, &unix.SockaddrUnix{Name: name}, 0))
		require.Equal(t, len(name), res.N())

		buf := make([]byte, 256)
		var from unix.RawSockaddrAny
		res = do(t, r, ops.RecvMsg(recv, [][]byte{buf}, nil, &from, 0))
		require.Equal(t, name, string(buf[:res.N()]))
		sender, err := ops.DecodeSockaddr(&from)
		require.NoError(t, err)
		require.Equal(t, &unix.SockaddrUnix{Name: name + "-from"}, sender)

		// Connect works with unix addresses too.
		c := socket(t, unix.AF_UNIX, unix.SOCK_DGRAM)
		do(t, r, ops.Connect(c, &unix.SockaddrUnix{Name: name}))
		do(t, r, ops.Send(c, []byte("connected"), 0))
		require.Equal(t, "connected", string(buf[:do(t, r, ops.Recv(recv, buf, 0)).N()]))
	}
}

func TestRecvMulti(t *testing.T) {
	r := newRing(t)
	needOp(t, r, ops.OpRecv)
	c, s := tcpPair(t)
	const group = 7
	br, err := r.NewBufferRing(group, 4, 64)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, br.Close()) })

	op := ops.RecvMulti(s, group, 0)
	require.True(t, op.Multishot())
	_, err = r.Do(t.Context(), op)
	require.ErrorIs(t, err, uring.ErrMultishot)

	// Send each message once the previous one arrived, so TCP cannot merge
	// them; more messages than buffers shows that Release recycles them.
	msgs := []string{"first", "second message", "third", "fourth", "fifth!", "sixth"}
	do(t, r, ops.Send(c, []byte(msgs[0]), 0))
	var got []string
	for res, err := range r.Stream(t.Context(), op) {
		require.NoError(t, err)
		require.True(t, res.More())
		_, ok := res.BufferID()
		require.True(t, ok, "the completion names its provided buffer")
		got = append(got, string(br.Bytes(res)))
		br.Release(res)
		if len(got) == len(msgs) {
			break
		}
		do(t, r, ops.Send(c, []byte(msgs[len(got)]), 0))
	}
	require.Equal(t, msgs, got)
	requireIdle(t, r)
}

func TestNetRejectsBadInput(t *testing.T) {
	r := newRing(t)
	good := &unix.SockaddrInet4{Addr: loopback4, Port: 80}
	var rsa unix.RawSockaddrAny
	var alen uint32
	requireRejected(t, r, ops.Accept(-1, &rsa, &alen, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.AcceptMulti(-1, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Connect(-1, good), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Bind(-1, good), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Listen(-1, 1), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Send(-1, nil, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Recv(-1, nil, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.RecvMulti(-1, 0, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.SendZC(-1, nil, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.SendMsg(-1, nil, nil, nil, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.RecvMsg(-1, nil, nil, nil, 0), ops.ErrNegativeFd)
	requireRejected(t, r, ops.Shutdown(-1, 0), ops.ErrNegativeFd)

	for _, sa := range []unix.Sockaddr{
		nil,
		(*unix.SockaddrInet4)(nil),
		(*unix.SockaddrInet6)(nil),
		(*unix.SockaddrUnix)(nil),
		&unix.SockaddrInet4{Port: 1 << 16},
		&unix.SockaddrInet4{Port: -1},
		&unix.SockaddrInet6{Port: 70000},
		&unix.SockaddrUnix{Name: string(bytes.Repeat([]byte("x"), 108))},
		&unix.SockaddrLinklayer{},
	} {
		requireRejected(t, r, ops.Connect(0, sa), ops.ErrBadSockaddr)
		requireRejected(t, r, ops.Bind(0, sa), ops.ErrBadSockaddr)
		if sa != nil {
			requireRejected(t, r, ops.SendMsg(0, nil, nil, sa, 0), ops.ErrBadSockaddr)
		}
	}
}
