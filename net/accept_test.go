//go:build linux

package net_test

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	unet "github.com/goaio/uring/net"
)

// The listener accepts ahead after the first Accept: connections
// that arrive while no Accept waits are queued, later Accepts take them in
// order, and Close closes the ones nobody took (their peers read EOF).
func TestAcceptQueue(t *testing.T) {
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here: %v", err)
	}
	defer goleak.VerifyNone(t, goleak.IgnoreAnyFunction("github.com/goaio/uring.(*poller).run"),
		goleak.IgnoreAnyFunction("github.com/goaio/uring.(*callbacks).run")) // the Default ring's, which lives on
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	first, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer first.Close()
	c, err := ln.Accept() // arms the accept ahead
	require.NoError(t, err)
	require.Equal(t, first.LocalAddr().String(), c.RemoteAddr().String())
	c.Close()

	var clients []net.Conn
	for range 3 {
		cl, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer cl.Close()
		clients = append(clients, cl)
	}
	// Connections in order of arrival; the first is taken, the rest wait.
	c, err = ln.Accept()
	require.NoError(t, err)
	require.Equal(t, clients[0].LocalAddr().String(), c.RemoteAddr().String())
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // let the kernel accept the other two
	require.NoError(t, ln.Close())
	for _, cl := range clients[1:] {
		require.NoError(t, cl.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err := cl.Read(make([]byte, 1))
		require.Error(t, err)
		require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "a connection nobody accepted must be closed at Close")
		require.True(t, err == io.EOF || errors.Is(err, syscall.ECONNRESET), "%v", err)
	}
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}

// SetUnlinkOnClose(false) keeps the socket file at Close, as std.
func TestUnixListenerSetUnlinkOnClose(t *testing.T) {
	for _, listen := range []func(string, string) (net.Listener, error){net.Listen, unet.Listen} {
		p := t.TempDir() + "/sock"
		ln, err := listen("unix", p)
		require.NoError(t, err)
		ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
		require.NoError(t, ln.Close())
		_, err = os.Stat(p)
		require.NoError(t, err, "%T removed the socket file", ln)
	}
}

// Connections nobody Accepts wait in the kernel's backlog, as with std: the
// listener takes at most 16 of them ahead of Accept (issue defect 8), so a
// server's descriptors stay bounded (netutil.LimitListener relies on it),
// and every connection is still there for Accept, in order.
func TestDefect8AcceptBacklogBounded(t *testing.T) {
	const dials, ahead = 200, 16
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n < dials {
			t.Skipf("net.core.somaxconn is %d: the backlog cannot hold %d connections", n, dials)
		}
	}
	e2eRaiseNofile(t, 4*dials+256)
	forStacks(t, []string{"tcp"}, func(t *testing.T, s stack, network string) {
		ln := s.listen(t, network)
		addr := ln.Addr().String()
		port := ln.Addr().(*net.TCPAddr).Port
		first, err := net.Dial(network, addr)
		require.NoError(t, err)
		c, err := ln.Accept() // arms the ring's accept
		require.NoError(t, err)
		require.NoError(t, c.Close())
		require.NoError(t, first.Close())

		order := make([]string, 0, dials)
		for range dials {
			cl, err := net.DialTimeout(network, addr, 10*time.Second)
			require.NoError(t, err)
			t.Cleanup(func() { cl.Close() })
			order = append(order, cl.LocalAddr().String())
		}
		// Settled: each dial is either accepted (an fd here) or in the
		// backlog, and the listener takes no more (queue full, or nothing
		// left; std takes nothing).
		var held, backlog int
		for start := time.Now(); ; time.Sleep(time.Millisecond) {
			held, backlog = acceptedFds(t, port), listenBacklog(t, ln)
			if held+backlog == dials && (!s.ring || held >= ahead || backlog == 0) {
				break
			}
			require.Less(t, time.Since(start), 10*time.Second, "not settled: %d accepted, %d in the backlog", held, backlog)
		}
		require.LessOrEqual(t, held, ahead+1, "connections accepted with no Accept (%d in the backlog)", backlog)

		require.NoError(t, ln.(deadliner).SetDeadline(time.Now().Add(10*time.Second)))
		for i := range dials {
			c, err := ln.Accept()
			require.NoError(t, err, "Accept %d", i)
			require.Equal(t, order[i], c.RemoteAddr().String(), "Accept %d", i)
			c.Close()
		}
	})
}

// acceptedFds counts this process's descriptors that are accepted TCP
// connections on port (not the listener, not the dialing ends).
func acceptedFds(t testing.TB, port int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || !strings.HasPrefix(l, "socket:") {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		var p int
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			p = sa.Port
		case *unix.SockaddrInet6:
			p = sa.Port
		}
		if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); p == port && err == nil && acc == 0 {
			n++
		}
	}
	return n
}

// listenBacklog is how many connections wait in a TCP listener's accept
// queue (TCP_INFO's unacked on a listening socket).
func listenBacklog(t testing.TB, ln net.Listener) int {
	t.Helper()
	rc, err := ln.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	var info *unix.TCPInfo
	var ierr error
	require.NoError(t, rc.Control(func(s uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(s), unix.IPPROTO_TCP, unix.TCP_INFO)
	}))
	require.NoError(t, ierr)
	return int(info.Unacked)
}
