//go:build linux

package net_test

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	unet "github.com/goaio/uring/net"
)

// A conn, listener or packet conn that becomes unreachable without Close
// has its descriptor closed once collected, as std's (issue defect 10).
func TestDefect10CollectedConnClosesFd(t *testing.T) {
	(stack{ring: true}).need(t)
	leakCheck(t)
	std, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer std.Close()
	ustd, err := net.Listen("unix", localAddr(t, "unix"))
	require.NoError(t, err)
	defer ustd.Close()
	var peers []net.Conn
	defer func() {
		for _, c := range peers {
			c.Close()
		}
	}()
	accept := func(ln net.Listener) {
		c, err := ln.Accept()
		require.NoError(t, err)
		peers = append(peers, c)
	}

	for _, tc := range []struct {
		name string
		open func(t *testing.T) (any, error)
	}{
		{"tcp conn", func(t *testing.T) (any, error) {
			c, err := unet.Dial("tcp", std.Addr().String())
			if err == nil {
				accept(std)
			}
			return c, err
		}},
		{"tcp conn with pending deadlines", func(t *testing.T) (any, error) {
			c, err := unet.Dial("tcp", std.Addr().String())
			if err != nil {
				return nil, err
			}
			accept(std)
			// A timer armed for an hour must not keep the conn reachable.
			require.NoError(t, c.SetDeadline(time.Now().Add(time.Hour)))
			return c, nil
		}},
		{"listener with armed accept", func(t *testing.T) (any, error) {
			ln, err := unet.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, err
			}
			cl, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer cl.Close()
			c, err := ln.Accept() // arms the accept ahead of the next call
			require.NoError(t, err)
			require.NoError(t, c.Close())
			return ln, nil
		}},
		{"udp packet conn", func(t *testing.T) (any, error) { return unet.ListenPacket("udp", "127.0.0.1:0") }},
		{"unix conn", func(t *testing.T) (any, error) {
			c, err := unet.Dial("unix", ustd.Addr().String())
			if err == nil {
				accept(ustd)
			}
			return c, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd, link := garbageFd(t, tc.open)
			for i := 0; i < 200 && fdIs(fd, link); i++ {
				runtime.GC()
				time.Sleep(5 * time.Millisecond)
			}
			require.False(t, fdIs(fd, link), "fd %d (%s) still open after 200 collections", fd, link)
		})
	}
}

// garbageFd opens an object, checks it is the ring's, and drops it: only
// its descriptor number and /proc link remain.
//
//go:noinline
func garbageFd(t *testing.T, open func(t *testing.T) (any, error)) (int, string) {
	v, err := open(t)
	require.NoError(t, err)
	require.True(t, isOurs(v), "%T is not the ring's", v)
	rc, err := v.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	fd := -1
	require.NoError(t, rc.Control(func(s uintptr) { fd = int(s) }))
	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	require.NoError(t, err)
	return fd, link
}

// fdIs reports whether descriptor fd is still the socket link named
// (a closed number may be reused by another socket).
func fdIs(fd int, link string) bool {
	l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	return err == nil && l == link
}
