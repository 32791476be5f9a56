//go:build linux

package net_test

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/goaio/uring"
	unet "github.com/goaio/uring/net"
)

// The multishot accept keeps accepting after the first Accept: connections
// that arrive while no Accept waits are queued, later Accepts take them in
// order, and Close closes the ones nobody took (their peers read EOF).
func TestAcceptQueue(t *testing.T) {
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here: %v", err)
	}
	defer goleak.VerifyNone(t, goleak.IgnoreAnyFunction("github.com/goaio/uring.(*shard).reaper"))
	ln, err := unet.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	first, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer first.Close()
	c, err := ln.Accept() // arms the multishot accept
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
