package net

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
)

// readyRing is a Ring of the test's own, so its counters see only the test.
func readyRing(t *testing.T) *uring.Ring {
	t.Helper()
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here: %v", err)
	}
	r, err := uring.New()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// readyPair returns a connection accepted on r and its std client.
func readyPair(t *testing.T, r *uring.Ring) (srv net.Conn, client net.Conn) {
	t.Helper()
	ln, err := (&ListenConfig{Ring: r}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() }) // at the end: its Close submits a cancel
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	srv, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv, client
}

// A Read that a deadline ends, passed before the call or while it waits
// (net/http's background read is aborted so on every request), costs the
// ring nothing: the reader waits in Go's netpoller and wakes in user space,
// and data that arrives later is the next Read's, in order.
func TestReadyDeadlineNoKernelCancel(t *testing.T) {
	r := readyRing(t)
	srv, client := readyPair(t, r)
	buf := make([]byte, 16)

	_, err := client.Write([]byte("a"))
	require.NoError(t, err)
	n, err := srv.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "a", string(buf[:n]))

	// What the listener and the connection armed reaches the kernel on its
	// own time (a staged submission, the accept-ahead): count from when it
	// has (CI once saw one such submission land inside the loop).
	var before uint64
	require.Eventually(t, func() bool {
		a := r.Stats().Submitted
		time.Sleep(20 * time.Millisecond)
		before = r.Stats().Submitted
		return before == a
	}, 5*time.Second, time.Millisecond)
	for range 50 {
		require.NoError(t, srv.SetReadDeadline(time.Now().Add(-time.Second)))
		_, err := srv.Read(buf)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)

		require.NoError(t, srv.SetReadDeadline(time.Time{}))
		done := make(chan error, 1)
		go func() { _, err := srv.Read(buf); done <- err }()
		time.Sleep(time.Millisecond) // usually parked by now; either way the deadline ends it
		require.NoError(t, srv.SetReadDeadline(time.Now().Add(-time.Second)))
		require.ErrorIs(t, <-done, os.ErrDeadlineExceeded)
		require.NoError(t, srv.SetReadDeadline(time.Time{}))
	}
	require.Zero(t, r.Stats().Submitted-before, "ring submissions for 100 reads ended by deadlines")

	_, err = client.Write([]byte("bc"))
	require.NoError(t, err)
	n, err = io.ReadFull(srv, buf[:2])
	require.NoError(t, err)
	require.Equal(t, "bc", string(buf[:n]))
}

// Close wakes a reader parked in the netpoller with net.ErrClosed.
func TestReadyCloseWakesReader(t *testing.T) {
	r := readyRing(t)
	srv, _ := readyPair(t, r)
	done := make(chan error, 1)
	go func() { _, err := srv.Read(make([]byte, 1)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, srv.Close())
	err := <-done
	require.ErrorIs(t, err, net.ErrClosed)
	var op *net.OpError
	require.True(t, errors.As(err, &op))
	require.Equal(t, "read", op.Op)
}

// A reader parked on an idle connection keeps the smallest goroutine stack,
// as std's does: the submit path, the select between the poll and the
// deadline, and the deadline contexts made on the first Read or Write ran on
// the reader's stack before and grew it to 4 KiB, twice std's. Each side is
// measured alone, in a child process (this test binary): one side's dead
// goroutines left in the runtime skew the other's count.
func TestReadyIdleReaderStack(t *testing.T) {
	if side := os.Getenv("READY_STACK_SIDE"); side != "" {
		fmt.Printf("stack-per-reader %d\n", idleReaderStack(t, side))
		return
	}
	readyRing(t) // the skips
	if cgocheck2 {
		t.Skip("GOEXPERIMENT=cgocheck2 checks every pointer write on the writer's stack, which grows it: the stack bound holds for normal builds")
	}
	perConn := map[string]uint64{}
	for _, side := range []string{"std", "ours"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReadyIdleReaderStack$", "-test.count=1")
		cmd.Env = append(os.Environ(), "READY_STACK_SIDE="+side)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		m := regexp.MustCompile(`stack-per-reader (\d+)`).FindSubmatch(out)
		require.NotNil(t, m, "%s", out)
		perConn[side], _ = strconv.ParseUint(string(m[1]), 10, 64)
	}
	t.Logf("stack per idle reader: std %d B, ours %d B", perConn["std"], perConn["ours"])
	require.LessOrEqual(t, perConn["ours"], perConn["std"]+perConn["std"]/4, "an idle reader's stack on the ring, against std's")
}

// idleReaderStack is the goroutine stack per idle echo connection on side
// ("std" or "ours"): 1,000 connections that have each echoed one byte.
func idleReaderStack(t *testing.T, side string) uint64 {
	conns := 1000
	var lim syscall.Rlimit // two descriptors a connection, under the limit (a container's may be 1,024)
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < uint64(2*conns+100) {
		conns = (int(lim.Cur) - 100) / 2
	}
	require.GreaterOrEqual(t, conns, 200, "RLIMIT_NOFILE %d leaves too few connections to measure", lim.Cur)
	var ln net.Listener
	var err error
	if side == "std" {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	} else {
		ln, err = (&ListenConfig{Ring: readyRing(t)}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	defer ln.Close()
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				echoConn(c)
			}()
		}
	}()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		clients[i] = c
	}
	one := make([]byte, 1)
	for _, c := range clients { // each reader has run once, and parks again
		_, err := c.Write([]byte{1})
		require.NoError(t, err)
		_, err = io.ReadFull(c, one)
		require.NoError(t, err)
	}
	time.Sleep(50 * time.Millisecond)
	runtime.ReadMemStats(&ms1)
	for _, c := range clients {
		c.Close()
	}
	wg.Wait()
	return (ms1.StackInuse - ms0.StackInuse) / uint64(conns)
}

// Many connections arming their polls at once while completions are reaped
// inline by the submitters: the poll's completion handler takes no lock a
// submitter holds (an earlier form held one across its own submission, and
// the reaping submitter deadlocked against itself; 1,000 echo connections
// hung within seconds). 300 connections, 200 round trips each.
func TestReadyManyConnsNoHang(t *testing.T) {
	r := readyRing(t)
	ln, err := (&ListenConfig{Ring: r}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echoConn(c)
		}
	}()
	const conns, trips = 300, 200
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang fails, it does not stall the suite
			msg, in := make([]byte, 128), make([]byte, 128)
			for i := range trips {
				msg[0] = byte(i)
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, in); err != nil {
					errs <- err
					return
				}
				if in[0] != byte(i) {
					errs <- errors.New("echo out of order")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// echoConn echoes c's bytes until it fails, then closes it: Read and Write
// (internal/loopback's ServeEcho, which imports this package, cannot be
// used here; io.Copy would splice).
func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// A connection whose server never reads holds nothing of the server's: TCP
// flow control stops its sender (a write deadline ends its writes), every
// byte it wrote is still in the kernel (the server socket's receive queue
// plus the client's send queue), and busy connections beside it echo their
// data intact meanwhile (issue 13's flow-control test; under readiness the
// cap of a connection is its socket buffer).
func TestReadyNonReadingConnHoldsNothing(t *testing.T) {
	ln, err := (&ListenConfig{Ring: readyRing(t)}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	silentSrv := make(chan net.Conn, 1)
	go func() {
		first := true
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if first { // never read
				first = false
				silentSrv <- c
				continue
			}
			go echoConn(c)
		}
	}()
	silent, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer silent.Close()
	srv := <-silentSrv
	defer srv.Close()

	const busy, perConn = 8, 1 << 20
	errs := make(chan error, busy)
	for i := range busy {
		go func() { errs <- echoCheck(ln.Addr().String(), byte(i), perConn) }()
	}
	written := 0
	chunk := make([]byte, 64<<10)
	require.NoError(t, silent.SetWriteDeadline(time.Now().Add(2*time.Second)))
	for {
		n, err := silent.Write(chunk)
		written += n
		if err != nil {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the sender is stopped by flow control")
			break
		}
		require.Less(t, written, 1<<30, "a gigabyte written to a connection nobody reads")
	}
	for range busy {
		require.NoError(t, <-errs)
	}
	queued := func() int {
		var inq, outq int
		require.NoError(t, srv.(*TCPConn).fd.control(func(fd int) error {
			inq, err = unix.IoctlGetInt(fd, unix.SIOCINQ)
			return err
		}))
		raw, err := silent.(*net.TCPConn).SyscallConn()
		require.NoError(t, err)
		require.NoError(t, raw.Control(func(fd uintptr) { outq, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }))
		require.NoError(t, err)
		return inq + outq
	}
	require.Eventually(t, func() bool { return queued() == written }, 5*time.Second, 10*time.Millisecond,
		"every byte written is in the kernel's queues (%d written)", written)
	t.Logf("%d bytes written before flow control stopped the sender, all in the kernel's queues", written)
}

// echoCheck sends n bytes of a pattern through an echo server and checks
// what comes back.
func echoCheck(addr string, seed byte, n int) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(60 * time.Second)); err != nil {
		return err
	}
	out := make([]byte, 4<<10)
	in := make([]byte, len(out))
	for sent := 0; sent < n; sent += len(out) {
		for i := range out {
			out[i] = seed + byte(sent/len(out)+i)
		}
		if _, err := c.Write(out); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, in); err != nil {
			return err
		}
		if string(in) != string(out) {
			return fmt.Errorf("echo %d: data differs at offset %d", seed, sent)
		}
	}
	return nil
}
