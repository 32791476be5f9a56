//go:build linux

package net_test

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	unet "github.com/goaio/uring/net"
)

// TestDialSelfConnectRetries: a TCP dial that connects to itself (the
// kernel picked the destination port, free because nobody listens there, as
// the source) is closed and tried again twice, as std's dial does, before it
// relents. The soak met one on the ring Dialer: a conn to itself, whose Read
// waited for ever. Control binds every attempt to the destination port, so
// each one connects to itself: std makes three attempts, and so must we.
func TestDialSelfConnectRetries(t *testing.T) {
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here: %v", err)
	}
	r, err := uring.New()
	require.NoError(t, err)
	defer r.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nobody listens there now

	attempts := func(dial func(control func(string, string, syscall.RawConn) error) (net.Conn, error)) int {
		n := 0
		c, err := dial(func(_, _ string, rc syscall.RawConn) error {
			n++
			var berr error
			err := rc.Control(func(fd uintptr) {
				// SO_REUSEADDR: the port of an attempt before is in TIME_WAIT.
				if berr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); berr == nil {
					berr = unix.Bind(int(fd), &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
				}
			})
			if err != nil {
				return err
			}
			return berr
		})
		if err == nil {
			t.Logf("connected %v -> %v after %d attempts", c.LocalAddr(), c.RemoteAddr(), n)
			c.Close()
		} else {
			t.Logf("dial: %v after %d attempts", err, n)
		}
		return n
	}
	std := attempts(func(control func(string, string, syscall.RawConn) error) (net.Conn, error) {
		return (&net.Dialer{Control: control}).DialContext(context.Background(), "tcp", addr)
	})
	ring := attempts(func(control func(string, string, syscall.RawConn) error) (net.Conn, error) {
		return (&unet.Dialer{Ring: r, Control: control}).DialContext(context.Background(), "tcp", addr)
	})
	require.Equal(t, 3, std, "std's attempts (the reference)")
	require.Equal(t, std, ring, "the ring Dialer's attempts at a dial that connects to itself")
}
