//go:build linux

package net_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	unet "github.com/goaio/uring/net"
)

// closedPort is a TCP address with nothing listening.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fullBacklog returns the address of a listener whose accept queue is full:
// the kernel drops further SYNs, so a connect there hangs until cancelled.
func fullBacklog(t testing.TB) string {
	t.Helper()
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(s) })
	require.NoError(t, unix.Bind(s, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, unix.Listen(s, 0))
	sa, err := unix.Getsockname(s)
	require.NoError(t, err)
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}).String()
	for i := 0; i < 16; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			require.ErrorAs(t, err, &ne)
			require.True(t, ne.Timeout(), "filling the backlog: %v", err)
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel kept accepting connections into a listen(0) backlog: cannot make a connect hang")
	return ""
}

// Dial errors: the same table on every stack, compared to std.
func TestDialErrors(t *testing.T) {
	leakCheck(t)
	refused := closedPort(t)
	missing := localAddr(t, "unix")
	parity(t, []string{"-"}, func(t *testing.T, s stack, _ string, o *obs) {
		for _, c := range []struct {
			network, address string
			local            net.Addr
		}{
			{"tcp5", "127.0.0.1:80", nil},
			{"", "127.0.0.1:80", nil},
			{"tcp", "", nil},
			{"tcp", "127.0.0.1", nil},
			{"tcp", "127.0.0.1:99999", nil},
			{"tcp", "127.0.0.1:-1", nil},
			{"tcp", "127.0.0.1:no-such-service", nil},
			{"tcp", "[::1", nil},
			{"tcp4", "[::1]:80", nil},
			{"tcp", refused, nil},
			{"tcp4", refused, nil},
			{"tcp", refused, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}},
			{"tcp", "", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}},
			{"tcp", refused, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}},
			{"unix", missing, nil},
			{"unix", "", nil},
			{"unixgram", missing, nil},
			{"unixpacket", missing, nil},
			{"ip4:icmp", "127.0.0.1", nil},
		} {
			d := s.dialer(net.Dialer{LocalAddr: c.local})
			conn, err := d.DialContext(context.Background(), c.network, c.address)
			if conn != nil {
				conn.Close()
			}
			o.err(c.network+" "+c.address+" local="+addrShape(c.local), err)
		}
	})
}

// DialTimeout and DialContext: a context already cancelled, one cancelled
// while the connect hangs, a timeout, a deadline.
func TestDialCancelAndTimeout(t *testing.T) {
	leakCheck(t)
	hang := fullBacklog(t)
	parity(t, []string{"tcp"}, func(t *testing.T, s stack, network string, o *obs) {
		d := s.dialer(net.Dialer{})

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.DialContext(ctx, network, hang)
		require.ErrorIs(t, err, context.Canceled)
		o.err("already cancelled", err)

		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		t0 := time.Now()
		_, err = d.DialContext(ctx, network, hang)
		require.Less(t, time.Since(t0), 5*time.Second)
		o.err("cancelled while connecting", err)

		t0 = time.Now()
		_, err = s.dialer(net.Dialer{Timeout: 80 * time.Millisecond}).DialContext(context.Background(), network, hang)
		requireDialTimeout(t, err)
		require.GreaterOrEqual(t, time.Since(t0), 80*time.Millisecond)
		o.add("timeout", timeoutShape(err))

		_, err = s.dialer(net.Dialer{Deadline: time.Now().Add(50 * time.Millisecond)}).DialContext(context.Background(), network, hang)
		requireDialTimeout(t, err)
		o.add("deadline", timeoutShape(err))

		_, err = s.dialer(net.Dialer{Deadline: time.Now().Add(-time.Second)}).DialContext(context.Background(), network, hang)
		requireDialTimeout(t, err)
		o.add("deadline passed", timeoutShape(err))

		ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err = d.DialContext(ctx, network, hang)
		cancel()
		requireDialTimeout(t, err)
		o.add("context timeout", timeoutShape(err))
	})
}

// The package-level helpers.
func TestDialFuncs(t *testing.T) {
	leakCheck(t)
	hang := fullBacklog(t)
	refused := closedPort(t)
	forStacks(t, []string{"-"}, func(t *testing.T, s stack, _ string) {
		if s.name != "ring" {
			t.Skip("the package-level functions use the ring")
		}
		_, err := unet.DialTimeout("tcp", hang, 50*time.Millisecond)
		requireDialTimeout(t, err)
		_, stdErr := net.DialTimeout("tcp", hang, 50*time.Millisecond)
		require.Equal(t, neutral(timeoutShape(stdErr)), neutral(timeoutShape(err)))

		_, err = unet.Dial("tcp", refused)
		_, stdErr = net.Dial("tcp", refused)
		require.Equal(t, neutral(describe(stdErr)), neutral(describe(err)))

		ln := s.listen(t, "tcp")
		c, err := unet.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		s.checkType(t, c)
		c.Close()
		c, err = (&unet.Dialer{}).Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		s.checkType(t, c)
		c.Close()
	})
}

// Dialing by name, with a local address, over every network.
func TestDialNetworks(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"tcp", "tcp4", "unix", "unixpacket"}, func(t *testing.T, s stack, network string, o *obs) {
		ln := s.listen(t, network)
		addr := ln.Addr().String()
		if network == "tcp" {
			_, port, _ := net.SplitHostPort(addr)
			addr = "localhost:" + port
		}
		ch := make(chan net.Conn, 1)
		go func() { c, _ := ln.Accept(); ch <- c }()
		c := s.dial(t, network, addr)
		sc := <-ch
		require.NotNil(t, sc)
		defer sc.Close()
		o.add("local", addrShape(c.LocalAddr()), " remote ", addrShape(c.RemoteAddr()))
		_, err := c.Write([]byte("x"))
		require.NoError(t, err)
		b := make([]byte, 1)
		_, err = sc.Read(b)
		require.NoError(t, err)

		if network == "tcp4" {
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
			c2, err := s.dialer(net.Dialer{LocalAddr: local}).DialContext(context.Background(), network, ln.Addr().String())
			require.NoError(t, err)
			s.checkType(t, c2)
			defer c2.Close()
			o.add("with local addr", addrShape(c2.LocalAddr()))
			sc2 := <-func() chan net.Conn { go func() { c, _ := ln.Accept(); ch <- c }(); return ch }()
			require.NotNil(t, sc2)
			require.Equal(t, c2.LocalAddr().String(), sc2.RemoteAddr().String())
			sc2.Close()
		}
	})
}

// Control and ControlContext see the socket before the connect, with
// std's network and address.
func TestDialControl(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"tcp", "unix"}, func(t *testing.T, s stack, network string, o *obs) {
		ln := s.listen(t, network)
		var d dialer
		var seen []string
		ctl := func(network, address string, c interface{ Control(func(uintptr)) error }) error {
			var typ int
			require.NoError(t, c.Control(func(fd uintptr) { typ, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE) }))
			seen = append(seen, fmt.Sprint(network, " ", neutral(address), " type ", typ))
			return nil
		}
		switch s.name {
		case "std":
			d = &net.Dialer{ControlContext: func(_ context.Context, n, a string, c syscallRawConn) error { return ctl(n, a, c) }}
		case "ring":
			d = &unet.Dialer{ControlContext: func(_ context.Context, n, a string, c syscallRawConn) error { return ctl(n, a, c) }}
		default:
			d = &unet.Dialer{Fallback: true, ControlContext: func(_ context.Context, n, a string, c syscallRawConn) error { return ctl(n, a, c) }}
		}
		c, err := d.DialContext(context.Background(), network, ln.Addr().String())
		require.NoError(t, err)
		c.Close()
		o.add("control saw", seen)
		// An error from Control fails the dial.
		switch dd := d.(type) {
		case *net.Dialer:
			dd.ControlContext = func(context.Context, string, string, syscallRawConn) error { return os.ErrPermission }
		case *unet.Dialer:
			dd.ControlContext = func(context.Context, string, string, syscallRawConn) error { return os.ErrPermission }
		}
		_, err = d.DialContext(context.Background(), network, ln.Addr().String())
		o.err("control fails", err)
	})
}

type syscallRawConn = syscall.RawConn

// requireDialTimeout checks a dial's timeout as std reports it: a Timeout,
// errors.Is context.DeadlineExceeded, "i/o timeout".
func requireDialTimeout(t testing.TB, err error) {
	t.Helper()
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "Timeout() false for %v", err)
	// std returns either os.ErrDeadlineExceeded (its poller's deadline
	// fired first) or its errTimeout (the context's did): both read so.
	require.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded), "%v", err)
	require.Contains(t, err.Error(), "i/o timeout")
}

// timeoutShape is describe for a dial timeout, without the inner error's
// identity, which varies in std from run to run.
func timeoutShape(err error) string {
	var oe *net.OpError
	if !errors.As(err, &oe) {
		return describe(err)
	}
	return fmt.Sprintf("%T op=%s net=%s src=%s addr=%s timeout=%t %q", err, oe.Op, oe.Net, addrShape(oe.Source), addrShape(oe.Addr), oe.Timeout(), err.Error())
}
