//go:build linux

package net_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var packetNets = []string{"udp", "unixgram"}

func (s stack) listenPacket(t testing.TB, network string) net.PacketConn {
	t.Helper()
	pc, err := s.lc.ListenPacket(context.Background(), network, localAddr(t, network))
	require.NoError(t, err)
	s.checkType(t, pc)
	t.Cleanup(func() { pc.Close() })
	return pc
}

type udpConn interface {
	net.PacketConn
	ReadFromUDP([]byte) (int, *net.UDPAddr, error)
	WriteToUDP([]byte, *net.UDPAddr) (int, error)
	ReadMsgUDP(b, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error)
	WriteMsgUDP(b, oob []byte, addr *net.UDPAddr) (n, oobn int, err error)
}

type unixPacketConn interface {
	net.PacketConn
	ReadFromUnix([]byte) (int, *net.UnixAddr, error)
	WriteToUnix([]byte, *net.UnixAddr) (int, error)
	ReadMsgUnix(b, oob []byte) (n, oobn, flags int, addr *net.UnixAddr, err error)
	WriteMsgUnix(b, oob []byte, addr *net.UnixAddr) (n, oobn int, err error)
}

func goReadFrom(pc net.PacketConn, b []byte) <-chan readResult {
	ch := make(chan readResult, 1)
	t0 := time.Now()
	go func() {
		n, _, err := pc.ReadFrom(b)
		ch <- readResult{n, err, time.Since(t0)}
	}()
	return ch
}

// ReadFrom and WriteTo between two unconnected sockets, the typed
// variants, truncation and empty datagrams.
func TestPacketReadWrite(t *testing.T) {
	leakCheck(t)
	parity(t, packetNets, func(t *testing.T, s stack, network string, o *obs) {
		a, b := s.listenPacket(t, network), s.listenPacket(t, network)
		buf := make([]byte, 64)

		n, err := a.WriteTo([]byte("hello"), b.LocalAddr())
		require.NoError(t, err)
		o.add("writeto n", n)
		n, from, err := b.ReadFrom(buf)
		require.NoError(t, err)
		o.add("readfrom", string(buf[:n]), " from ", addrShape(from))
		require.Equal(t, a.LocalAddr().String(), from.String())

		// Empty datagram: 0 bytes, no EOF.
		n, err = a.WriteTo(nil, b.LocalAddr())
		o.err("empty writeto", err)
		o.add("n", n)
		n, from, err = b.ReadFrom(buf)
		o.err("empty readfrom", err)
		o.add("n", n, " from ", addrShape(from))

		// Truncated: the rest of the datagram is dropped.
		_, err = a.WriteTo([]byte("0123456789abcdef"), b.LocalAddr())
		require.NoError(t, err)
		n, _, err = b.ReadFrom(buf[:4])
		o.err("truncated readfrom", err)
		o.add("n", n, " ", string(buf[:n]))

		switch network {
		case "udp":
			ua, ub := a.(udpConn), b.(udpConn)
			bAddr := b.LocalAddr().(*net.UDPAddr)
			n, err = ua.WriteToUDP([]byte("typed"), bAddr)
			require.Equal(t, 5, n)
			require.NoError(t, err)
			n, from, err := ub.ReadFromUDP(buf)
			require.NoError(t, err)
			o.add("readfromudp", string(buf[:n]), " ", addrShape(from))

			n, oobn, err := ua.WriteMsgUDP([]byte("msg"), nil, bAddr)
			require.NoError(t, err)
			o.add("writemsgudp", n, " ", oobn)
			_, err = ua.WriteTo([]byte("0123456789"), bAddr)
			require.NoError(t, err)
			oob := make([]byte, 64)
			n, oobn, flags, from, err := ub.ReadMsgUDP(buf, oob)
			require.NoError(t, err)
			o.add("readmsgudp", string(buf[:n]), " oobn ", oobn, " flags ", flags, " ", addrShape(from))
			n, _, flags, _, err = ub.ReadMsgUDP(buf[:3], oob)
			require.NoError(t, err)
			o.add("readmsgudp truncated", string(buf[:n]), " trunc ", flags&unix.MSG_TRUNC != 0)

			// Wrong or missing destinations.
			n, err = ua.WriteToUDP([]byte("x"), nil)
			o.err("writetoudp nil", err)
			o.add("n", n)
			n, err = a.WriteTo([]byte("x"), nil)
			o.err("writeto nil", err)
			o.add("n", n)
			n, err = a.WriteTo([]byte("x"), &net.TCPAddr{IP: bAddr.IP, Port: bAddr.Port})
			o.err("writeto tcp addr", err)
			o.add("n", n)
			n, _, err = ua.WriteMsgUDP([]byte("x"), nil, nil)
			o.err("writemsgudp nil", err)
			o.add("n", n)
			n, err = a.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP("::1"), Port: bAddr.Port})
			o.err("writeto v6 from v4", err)
			o.add("n", n)
		case "unixgram":
			ua, ub := a.(unixPacketConn), b.(unixPacketConn)
			bAddr := b.LocalAddr().(*net.UnixAddr)
			_, err = ua.WriteToUnix([]byte("typed"), bAddr)
			require.NoError(t, err)
			n, from, err := ub.ReadFromUnix(buf)
			require.NoError(t, err)
			o.add("readfromunix", string(buf[:n]), " ", addrShape(from))
			n, oobn, err := ua.WriteMsgUnix([]byte("msg"), nil, bAddr)
			require.NoError(t, err)
			o.add("writemsgunix", n, " ", oobn)
			n, oobn, flags, from, err := ub.ReadMsgUnix(buf, make([]byte, 64))
			require.NoError(t, err)
			o.add("readmsgunix", string(buf[:n]), " oobn ", oobn, " flags ", flags, " ", addrShape(from))

			n, err = ua.WriteToUnix([]byte("x"), nil)
			o.err("writetounix nil", err)
			o.add("n", n)
			n, err = a.WriteTo([]byte("x"), nil)
			o.err("writeto nil", err)
			o.add("n", n)
			n, err = a.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
			o.err("writeto udp addr", err)
			o.add("n", n)
			n, err = a.WriteTo([]byte("x"), &net.UnixAddr{Name: bAddr.Name + "-missing", Net: "unixgram"})
			o.err("writeto missing path", err)
			o.add("n", n)
			_, _, err = ua.WriteMsgUnix([]byte("x"), nil, nil)
			o.err("writemsgunix nil", err)
		}
	})
}

// A connected datagram socket: Write and Read reach the peer, WriteTo is
// ErrWriteToConnected; an unnamed unixgram sender's address.
func TestPacketConnected(t *testing.T) {
	leakCheck(t)
	parity(t, packetNets, func(t *testing.T, s stack, network string, o *obs) {
		srv := s.listenPacket(t, network)
		require.NoError(t, srv.SetReadDeadline(time.Now().Add(5*time.Second)))
		c := s.dial(t, network, srv.LocalAddr().String())
		o.add("local", addrShape(c.LocalAddr()), " remote ", addrShape(c.RemoteAddr()))
		_, err := c.Write([]byte("conn"))
		require.NoError(t, err)
		buf := make([]byte, 16)
		n, from, err := srv.ReadFrom(buf)
		require.NoError(t, err)
		o.add("server got", string(buf[:n]), " from ", addrShape(from))

		pc, ok := c.(net.PacketConn)
		require.True(t, ok)
		n, err = pc.WriteTo([]byte("x"), srv.LocalAddr())
		require.ErrorIs(t, err, net.ErrWriteToConnected)
		o.err("writeto connected", err)
		o.add("n", n)
		n, err = pc.WriteTo([]byte("x"), nil)
		o.err("writeto nil connected", err)
		o.add("n", n)

		switch network {
		case "udp":
			uc := c.(udpConn)
			_, _, err = uc.WriteMsgUDP([]byte("m"), nil, srv.LocalAddr().(*net.UDPAddr))
			o.err("writemsgudp addr connected", err)
			n, _, err = uc.WriteMsgUDP([]byte("m"), nil, nil)
			o.err("writemsgudp nil connected", err)
			o.add("n", n)
			n, _, err = srv.ReadFrom(buf)
			require.NoError(t, err)
			o.add("server got", string(buf[:n]))
			// The reply comes back through Read and ReadFrom.
			_, err = srv.WriteTo([]byte("back"), c.LocalAddr())
			require.NoError(t, err)
			n, from, err = pc.ReadFrom(buf)
			require.NoError(t, err)
			o.add("readfrom connected", string(buf[:n]), " ", addrShape(from))
		case "unixgram":
			uc := c.(unixPacketConn)
			_, _, err = uc.WriteMsgUnix([]byte("m"), nil, srv.LocalAddr().(*net.UnixAddr))
			o.err("writemsgunix addr connected", err)
			n, _, err = uc.WriteMsgUnix([]byte("m"), nil, nil)
			o.err("writemsgunix nil connected", err)
			o.add("n", n)
		}
	})
}

// Deadlines on ReadFrom: past, future, moved while blocked, cleared; Close
// unblocks a ReadFrom with net.ErrClosed; every call after Close.
func TestPacketDeadlinesAndClose(t *testing.T) {
	leakCheck(t)
	parity(t, packetNets, func(t *testing.T, s stack, network string, o *obs) {
		a, b := s.listenPacket(t, network), s.listenPacket(t, network)
		buf := make([]byte, 16)

		require.NoError(t, b.SetReadDeadline(time.Now().Add(-time.Second)))
		n, from, err := b.ReadFrom(buf)
		requireDeadline(t, err)
		o.err("readfrom past", err)
		o.add("n", n, " from ", addrShape(from))

		t0 := time.Now()
		require.NoError(t, b.SetReadDeadline(t0.Add(60*time.Millisecond)))
		_, _, err = b.ReadFrom(buf)
		requireDeadline(t, err)
		require.GreaterOrEqual(t, time.Since(t0), 60*time.Millisecond)
		o.err("readfrom future", err)

		require.NoError(t, b.SetReadDeadline(time.Now().Add(time.Hour)))
		ch := goReadFrom(b, buf)
		blocked(t, ch, 50*time.Millisecond)
		require.NoError(t, b.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
		r := waitResult(t, ch, 5*time.Second)
		requireDeadline(t, r.err)

		require.NoError(t, b.SetReadDeadline(time.Time{}))
		ch = goReadFrom(b, buf)
		blocked(t, ch, 100*time.Millisecond)
		_, err = a.WriteTo([]byte("ok"), b.LocalAddr())
		require.NoError(t, err)
		r = waitResult(t, ch, 5*time.Second)
		require.NoError(t, r.err)
		o.add("after clearing", string(buf[:r.n]))

		// A past write deadline fails WriteTo.
		require.NoError(t, a.SetWriteDeadline(time.Now().Add(-time.Second)))
		_, err = a.WriteTo([]byte("x"), b.LocalAddr())
		requireDeadline(t, err)
		o.err("writeto past", err)
		require.NoError(t, a.SetWriteDeadline(time.Time{}))

		ch = goReadFrom(b, buf)
		blocked(t, ch, 50*time.Millisecond)
		require.NoError(t, b.Close())
		r = waitResult(t, ch, 5*time.Second)
		require.ErrorIs(t, r.err, net.ErrClosed)
		o.err("blocked readfrom, close", r.err)

		n, from, err = b.ReadFrom(buf)
		o.err("readfrom closed", err)
		o.add("n", n, " from ", addrShape(from))
		_, err = b.WriteTo([]byte("x"), a.LocalAddr())
		o.err("writeto closed", err)
		o.err("close closed", b.Close())
		o.err("setdeadline closed", b.SetReadDeadline(time.Now()))
	})
}

// Passing a descriptor (SCM_RIGHTS) with WriteMsgUnix and ReadMsgUnix: the
// received descriptor is close-on-exec, as std makes it.
func TestUnixRights(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"unixgram", "unix"}, func(t *testing.T, s stack, network string, o *obs) {
		var a, b unixPacketConn
		var bAddr *net.UnixAddr
		if network == "unixgram" {
			pa, pb := s.listenPacket(t, network), s.listenPacket(t, network)
			a, b = pa.(unixPacketConn), pb.(unixPacketConn)
			bAddr = pb.LocalAddr().(*net.UnixAddr)
		} else {
			c, sc := s.pair(t, network)
			a, b = c.(unixPacketConn), sc.(unixPacketConn)
		}
		f, err := os.Open(os.DevNull)
		require.NoError(t, err)
		defer f.Close()
		n, oobn, err := a.WriteMsgUnix([]byte("fd"), unix.UnixRights(int(f.Fd())), bAddr)
		require.NoError(t, err)
		o.add("sent", n, " ", oobn)
		buf, oob := make([]byte, 8), make([]byte, 64)
		n, oobn, flags, _, err := b.ReadMsgUnix(buf, oob)
		require.NoError(t, err)
		o.add("received", string(buf[:n]), " oobn ", oobn, " flags ", flags)
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		fds, err := unix.ParseUnixRights(&msgs[0])
		require.NoError(t, err)
		require.Len(t, fds, 1)
		defer unix.Close(fds[0])
		fl, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0)
		require.NoError(t, err)
		o.add("received fd cloexec", fl&unix.FD_CLOEXEC != 0)
	})
}

// A zero-length Read on a datagram or seqpacket socket returns (0, nil) at
// once and leaves the message for the next Read, as std (issue defect 9);
// ReadFrom with an empty buffer is a receive in std too: it takes one.
func TestDefect9ZeroLengthDatagramRead(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"udp", "unixgram", "unixpacket"}, func(t *testing.T, s stack, network string, o *obs) {
		var rd net.Conn
		var send func(string)
		if network == "unixpacket" {
			cl, sv := s.pair(t, network)
			rd, send = sv, func(m string) { _, err := cl.Write([]byte(m)); require.NoError(t, err) }
		} else {
			pc := s.listenPacket(t, network)
			w, err := net.Dial(network, pc.LocalAddr().String())
			require.NoError(t, err)
			t.Cleanup(func() { w.Close() })
			rd, send = pc.(net.Conn), func(m string) { _, err := w.Write([]byte(m)); require.NoError(t, err) }
		}
		require.NoError(t, rd.SetReadDeadline(time.Now().Add(10*time.Second))) // a guard, not a threshold
		buf := make([]byte, 16)

		send("one")
		r := waitResult(t, goRead(rd, nil), 10*time.Second)
		o.add("zero read: ", r.n, " ", describe(r.err))
		n, err := rd.Read(buf)
		o.add("next read: ", string(buf[:n]), " ", describe(err))

		r = waitResult(t, goRead(rd, []byte{}), 10*time.Second) // nothing queued: still at once
		o.add("zero read, empty queue: ", r.n, " ", describe(r.err))

		send("two")
		send("three")
		n, _, err = rd.(net.PacketConn).ReadFrom(nil)
		o.add("zero readfrom: ", n, " ", describe(err))
		n, err = rd.Read(buf)
		o.add("after zero readfrom: ", string(buf[:n]), " ", describe(err))

		require.NoError(t, rd.Close())
		n, err = rd.Read(nil)
		o.add("zero read after close: ", n, " ", describe(err))
	})
}
