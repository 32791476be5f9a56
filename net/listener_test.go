//go:build linux

package net_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

type deadliner interface {
	SetDeadline(time.Time) error
}

func goAccept(ln net.Listener) <-chan readResult {
	ch := make(chan readResult, 1)
	t0 := time.Now()
	go func() {
		c, err := ln.Accept()
		if c != nil {
			c.Close()
		}
		ch <- readResult{0, err, time.Since(t0)}
	}()
	return ch
}

// Close unblocks a blocked Accept with net.ErrClosed.
func TestListenerCloseUnblocksAccept(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		ln := s.listen(t, network)
		ch := goAccept(ln)
		blocked(t, ch, 50*time.Millisecond)
		require.NoError(t, ln.Close())
		r := waitResult(t, ch, 5*time.Second)
		require.ErrorIs(t, r.err, net.ErrClosed)
		o.err("blocked accept", r.err)
	})
}

// Every method after Close.
func TestListenerAfterClose(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		ln := s.listen(t, network)
		require.NoError(t, ln.Close())
		_, err := ln.Accept()
		o.err("accept", err)
		o.err("close", ln.Close())
		o.err("setdeadline", ln.(deadliner).SetDeadline(time.Now()))
		o.add("addr", addrShape(ln.Addr()))
		f, err := ln.(interface{ File() (*os.File, error) }).File()
		o.err("file", err)
		require.Nil(t, f)
		rc, err := ln.(syscall.Conn).SyscallConn()
		o.err("syscallconn", err)
		if err == nil {
			o.err("raw control", rc.Control(func(uintptr) {}))
		}
	})
}

// SetDeadline on a listener: past fails Accept at once, future fires no
// earlier, moving it while Accept is blocked takes effect, zero clears.
func TestListenerDeadline(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		ln := s.listen(t, network)
		d := ln.(deadliner)

		require.NoError(t, d.SetDeadline(time.Now().Add(-time.Second)))
		for i := 0; i < 2; i++ {
			t0 := time.Now()
			_, err := ln.Accept()
			requireDeadline(t, err)
			require.Less(t, time.Since(t0), time.Second)
			o.err("accept, past deadline", err)
		}

		t0 := time.Now()
		require.NoError(t, d.SetDeadline(t0.Add(60*time.Millisecond)))
		_, err := ln.Accept()
		requireDeadline(t, err)
		require.GreaterOrEqual(t, time.Since(t0), 60*time.Millisecond)
		o.err("accept, future deadline", err)

		// Moved earlier while blocked.
		require.NoError(t, d.SetDeadline(time.Now().Add(time.Hour)))
		ch := goAccept(ln)
		blocked(t, ch, 50*time.Millisecond)
		require.NoError(t, d.SetDeadline(time.Now().Add(20*time.Millisecond)))
		r := waitResult(t, ch, 5*time.Second)
		requireDeadline(t, r.err)

		// Cleared while blocked: Accept waits for a connection.
		require.NoError(t, d.SetDeadline(time.Now().Add(50*time.Millisecond)))
		ch = goAccept(ln)
		require.NoError(t, d.SetDeadline(time.Time{}))
		blocked(t, ch, 200*time.Millisecond)
		c := s.dial(t, ln.Addr().Network(), ln.Addr().String())
		r = waitResult(t, ch, 5*time.Second)
		require.NoError(t, r.err)
		c.Close()
	})
}

// File and SyscallConn on a TCP (and unix) listener.
func TestListenerFileAndSyscallConn(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		ln := s.listen(t, network)
		rc, err := ln.(syscall.Conn).SyscallConn()
		require.NoError(t, err)
		var acc int
		require.NoError(t, rc.Control(func(fd uintptr) {
			acc, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		}))
		o.add("control sees a listening socket", acc)

		f, err := ln.(interface{ File() (*os.File, error) }).File()
		require.NoError(t, err)
		defer f.Close()
		o.add("name", f.Name())
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		require.NoError(t, err)
		o.add("nonblock", fl&unix.O_NONBLOCK != 0)
		acc, err = unix.GetsockoptInt(int(f.Fd()), unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		require.NoError(t, err)
		o.add("file is listening", acc)

		// A std listener on the copy accepts connections to the same address.
		fl2, err := net.FileListener(f)
		require.NoError(t, err)
		defer fl2.Close()
		done := make(chan error, 1)
		go func() {
			c, err := fl2.Accept()
			if err == nil {
				c.Close()
			}
			done <- err
		}()
		c := s.dial(t, ln.Addr().Network(), ln.Addr().String())
		c.Close()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("FileListener did not accept")
		}
		// The original still accepts too.
		ch := goAccept(ln)
		s.dial(t, ln.Addr().Network(), ln.Addr().String())
		require.NoError(t, waitResult(t, ch, 5*time.Second).err)
	})
}

// A unix listener removes its socket file on Close, as std's does; an
// abstract one touches no file.
func TestUnixListenerUnlink(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"unix", "unixpacket"}, func(t *testing.T, s stack, network string, o *obs) {
		path := localAddr(t, network)
		ln, err := s.lc.Listen(context.Background(), network, path)
		require.NoError(t, err)
		s.checkType(t, ln)
		_, err = os.Stat(path)
		o.add("exists while listening", err == nil)
		require.NoError(t, ln.Close())
		_, err = os.Stat(path)
		o.add("removed on close", os.IsNotExist(err))

		// Abstract: a file of the same name in the working directory stays.
		dir := sockDir(t)
		t.Chdir(dir)
		name := fmt.Sprintf("@unettest-abs-%d-%d", os.Getpid(), sockSeq.Add(1))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
		ln, err = s.lc.Listen(context.Background(), network, name)
		require.NoError(t, err)
		o.add("abstract addr", ln.Addr().String() == name)
		require.NoError(t, ln.Close())
		_, err = os.Stat(filepath.Join(dir, name))
		o.add("abstract close leaves files alone", err == nil)
	})
}

// Listen errors are std's (std creates the socket).
func TestListenErrors(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"-"}, func(t *testing.T, s stack, _ string, o *obs) {
		busy := s.listen(t, "tcp")
		missingDir := filepath.Join(sockDir(t), "no", "such", "dir", "sock1")
		for _, c := range []struct{ network, address string }{
			{"tcp5", "127.0.0.1:0"},
			{"tcp", "127.0.0.1:99999"},
			{"tcp", "127.0.0.1"},
			{"tcp", busy.Addr().String()},
			{"unix", missingDir},
			{"udp", "127.0.0.1:0"},
		} {
			ln, err := s.lc.Listen(context.Background(), c.network, c.address)
			if ln != nil {
				ln.Close()
			}
			o.err(c.network+" "+c.address, err)
		}
	})
}

// Accepted connections carry the listener's keep-alive and no-delay, and
// their addresses match the dialer's view.
func TestListenerAcceptedAddrs(t *testing.T) {
	leakCheck(t)
	forStacks(t, streamNets, func(t *testing.T, s stack, network string) {
		ln := s.listen(t, network)
		ch := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			ch <- c
		}()
		c := s.dial(t, network, ln.Addr().String())
		sc := <-ch
		require.NotNil(t, sc)
		defer sc.Close()
		s.checkType(t, sc)
		require.Equal(t, ln.Addr().String(), sc.LocalAddr().String())
		require.Equal(t, c.RemoteAddr().String(), sc.LocalAddr().String())
		if network == "tcp" {
			require.Equal(t, c.LocalAddr().String(), sc.RemoteAddr().String())
		}
	})
}
