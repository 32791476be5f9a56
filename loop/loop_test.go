//go:build linux

package loop_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/loop"
	"github.com/goaio/uring/ops"
)

// modes runs f with the default options and with WithStd: the same
// handlers must behave the same on the ring and on the std fallback. The
// default runs on the ring wherever io_uring is available (listen checks),
// and on the fallback below the floor (make floor masks the kernel).
func modes(t *testing.T, f func(t *testing.T, opts ...loop.Option)) {
	t.Run("default", func(t *testing.T) {
		if err := uring.Available(); err != nil && os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		f(t, loop.WithLoops(2))
	})
	t.Run("std", func(t *testing.T) { f(t, loop.WithLoops(2), loop.WithStd()) })
}

// needRing skips a test of the ring alone where io_uring is unavailable.
func needRing(t *testing.T) {
	t.Helper()
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
}

// echo writes back what arrives and records how connections ended.
type echo struct {
	loop.Base
	mu     sync.Mutex
	closed []error
	opened atomic.Int32
}

func (e *echo) OnOpen(c *loop.Conn) loop.Action { e.opened.Add(1); return loop.None }

func (e *echo) OnData(c *loop.Conn, in []byte) loop.Action {
	_, _ = c.Write(in)
	return loop.None
}

func (e *echo) OnClose(c *loop.Conn, err error) {
	e.mu.Lock()
	e.closed = append(e.closed, err)
	e.mu.Unlock()
}

func (e *echo) ends() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.closed...)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func listen(t *testing.T, h loop.Handler, opts ...loop.Option) *loop.Server {
	t.Helper()
	s, err := loop.Listen("tcp", "127.0.0.1:0", h, opts...)
	require.NoError(t, err)
	if why := s.Group().Fallback(); why != nil {
		unavailable := uring.Available()
		require.True(t, unavailable != nil || strings.Contains(why.Error(), "WithStd"),
			"the loops fell back while io_uring is available: %v", why)
	}
	return s
}

// openFds counts the process's descriptors.
func openFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// TestEchoHash: 1,000 connections each send 64 KiB in random pieces while
// reading the echo; every byte comes back intact (by SHA-256).
func TestEchoHash(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		h := &echo{}
		s := listen(t, h, opts...)
		defer s.Close()
		const size = 64 << 10
		conns := 1000
		// Both ends live in this process: a container's 1,024 descriptors
		// hold fewer.
		var lim unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < 2*1000+200 {
			conns = int(lim.Cur-200) / 2
			t.Logf("RLIMIT_NOFILE %d: %d connections", lim.Cur, conns)
		}
		var wg sync.WaitGroup
		errs := make(chan error, conns)
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				errs <- echoOnce(s.Addr().String(), size, seed)
			}(uint64(i))
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		waitFor(t, "every OnClose", func() bool { return len(h.ends()) == conns })
		for _, err := range h.ends() {
			require.NoError(t, err, "a peer's FIN ends a connection with nil")
		}
	})
}

// echoOnce sends size random bytes in random pieces, half-closes, reads the
// echo to EOF and compares hashes.
func echoOnce(addr string, size int, seed uint64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := sha256.Sum256(data)
	done := make(chan error, 1)
	go func() {
		hsh := sha256.New()
		n, err := io.Copy(hsh, c)
		if err == nil && n != int64(size) {
			err = errors.New("short echo")
		}
		if err == nil && !bytes.Equal(hsh.Sum(nil), want[:]) {
			err = errors.New("echo differs")
		}
		done <- err
	}()
	for off := 0; off < size; {
		n := min(1+rng.IntN(9000), size-off)
		if _, err := c.Write(data[off : off+n]); err != nil {
			return err
		}
		off += n
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	return <-done
}

// TestPeerReset: a peer that resets ends the connection with ECONNRESET.
func TestPeerReset(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		h := &echo{}
		s := listen(t, h, opts...)
		defer s.Close()
		c, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		_, err = c.Write([]byte("ping"))
		require.NoError(t, err)
		_, err = io.ReadFull(c, make([]byte, 4))
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).SetLinger(0))
		require.NoError(t, c.Close())
		waitFor(t, "OnClose", func() bool { return len(h.ends()) == 1 })
		err = h.ends()[0]
		require.ErrorIs(t, err, syscall.ECONNRESET)
		var op *net.OpError
		require.ErrorAs(t, err, &op)
		require.Equal(t, "read", op.Op)
	})
}

// closer answers the first data with "bye" and closes; the closing side
// half-closes with CloseWrite when asked to.
type closer struct {
	echo
	half bool
}

func (h *closer) OnData(c *loop.Conn, in []byte) loop.Action {
	if h.half {
		_, _ = c.Write(in)
		_ = c.CloseWrite()
		return loop.None
	}
	_, _ = c.Write([]byte("bye"))
	return loop.Close
}

// TestHandlerClose: what a handler wrote before closing reaches the peer,
// then EOF; OnClose gets nil.
func TestHandlerClose(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		h := &closer{}
		s := listen(t, h, opts...)
		defer s.Close()
		c, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("hi"))
		require.NoError(t, err)
		got, err := io.ReadAll(c)
		require.NoError(t, err)
		require.Equal(t, "bye", string(got))
		waitFor(t, "OnClose", func() bool { return len(h.ends()) == 1 })
		require.NoError(t, h.ends()[0])
	})
}

// TestHalfClose: CloseWrite sends FIN after what was written and the
// connection still receives; a peer's half-close still gets every echo.
func TestHalfClose(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		h := &closer{half: true}
		s := listen(t, h, opts...)
		defer s.Close()
		c, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("one"))
		require.NoError(t, err)
		got, err := io.ReadAll(c) // EOF: the server half-closed
		require.NoError(t, err)
		require.Equal(t, "one", string(got))
		_, err = c.Write([]byte("two")) // the server still receives
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		waitFor(t, "OnClose", func() bool { return len(h.ends()) == 1 })
		require.NoError(t, h.ends()[0])
	})
}

// TestServerClose: Close with connections open closes every descriptor,
// runs every OnClose with net.ErrClosed, and leaves no goroutine
// (goleak, in TestMain).
func TestServerClose(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		before := openFds(t)
		h := &echo{}
		s := listen(t, h, opts...)
		const n = 50
		var cs []net.Conn
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", s.Addr().String())
			require.NoError(t, err)
			cs = append(cs, c)
			_, err = c.Write([]byte("x"))
			require.NoError(t, err)
			_, err = io.ReadFull(c, make([]byte, 1))
			require.NoError(t, err)
		}
		require.NoError(t, s.Close())
		require.Len(t, h.ends(), n, "OnClose ran for every connection before Close returned")
		for _, err := range h.ends() {
			require.ErrorIs(t, err, net.ErrClosed)
		}
		for _, c := range cs {
			_, err := c.Read(make([]byte, 1))
			require.Error(t, err, "the server closed its end")
			c.Close()
		}
		require.Equal(t, before, openFds(t), "every descriptor closed")
		require.ErrorIs(t, s.Close(), net.ErrClosed)
	})
}

// TestAsyncWrite: other goroutines write to a connection and run functions
// on its loop while it sleeps.
func TestAsyncWrite(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		conns := make(chan *loop.Conn, 1)
		h := &opener{conns: conns}
		s := listen(t, h, opts...)
		defer s.Close()
		c, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		lc := <-conns
		for i := 0; i < 100; i++ {
			require.NoError(t, lc.AsyncWrite([]byte{byte(i)}))
		}
		ran := make(chan struct{})
		require.NoError(t, lc.Loop().Run(func() { close(ran) }))
		<-ran
		got := make([]byte, 100)
		_, err = io.ReadFull(c, got)
		require.NoError(t, err)
		for i := range got {
			require.Equal(t, byte(i), got[i], "in order")
		}
	})
}

type opener struct {
	echo
	conns chan *loop.Conn
}

func (h *opener) OnOpen(c *loop.Conn) loop.Action { h.conns <- c; return loop.None }

// TestBackPressure: a peer that sends and never reads stops being read once
// the server's unsent bytes pass the high-water mark, so the server holds
// at most about that much for it.
func TestBackPressure(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		const hw, bufs, bufSize = 64 << 10, 16, 4096
		h := &maxBuffered{}
		s := listen(t, h, append(opts, loop.WithHighWater(hw), loop.WithBuffers(bufs, bufSize))...)
		defer s.Close()
		c, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		sent := 0
		chunk := make([]byte, 64<<10)
		for {
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
			n, err := c.Write(chunk)
			sent += n
			if err != nil {
				require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the server stopped reading: our send blocks")
				break
			}
			require.Less(t, sent, 1<<30, "the server never stopped reading")
		}
		// The kernel's socket buffers hold the rest; the server's own queue
		// stays within the mark plus what was received before it paused:
		// at most the loop's receive buffers (the fallback's one buffer).
		require.LessOrEqual(t, int(h.max.Load()), hw+bufs*bufSize)
	})
}

type maxBuffered struct {
	echo
	max atomic.Int64
}

func (h *maxBuffered) OnData(c *loop.Conn, in []byte) loop.Action {
	_, _ = c.Write(in)
	if n := int64(c.Buffered()); n > h.max.Load() {
		h.max.Store(n)
	}
	return loop.None
}

// TestSubmitCancelledByClose: an op from a loop callback that never
// completes is cancelled by the group's Close; its callback runs with
// ECANCELED before Close returns, and its buffer is never written after.
func TestSubmitCancelledByClose(t *testing.T) {
	needRing(t)
	g, err := loop.NewGroup(loop.WithLoops(1))
	require.NoError(t, err)
	require.NoError(t, g.Fallback())
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	buf := make([]byte, 8)
	var res uring.Result
	var calls atomic.Int32
	submitted := make(chan error, 1)
	l := g.Loops()[0]
	require.NoError(t, l.Run(func() {
		_, err := l.Submit(ops.Read(p[0], buf, -1), func(r uring.Result) { res = r; calls.Add(1) })
		submitted <- err
	}))
	require.NoError(t, <-submitted)
	require.NoError(t, g.Close())
	require.Equal(t, int32(1), calls.Load())
	require.ErrorIs(t, res.Err(), syscall.ECANCELED)
	_, err = unix.Write(p[1], []byte("written!"))
	require.NoError(t, err)
	n, err := unix.Read(p[0], make([]byte, 8))
	require.NoError(t, err)
	require.Equal(t, 8, n)
	require.Equal(t, make([]byte, 8), buf)
}

// TestSubmitOnFallback: the fallback has no ring: Submit says so.
func TestSubmitOnFallback(t *testing.T) {
	g, err := loop.NewGroup(loop.WithStd(), loop.WithLoops(1))
	require.NoError(t, err)
	defer g.Close()
	require.Error(t, g.Fallback())
	_, err = g.Loops()[0].Submit(ops.Nop(), func(uring.Result) {})
	require.ErrorIs(t, err, uring.ErrUnsupported)
}

// TestFileReadAt: a File's reads return what pread does (the data, 0 at
// the end), with the callback after the caller's own returns, on the ring
// and on the fallback, on the test's file system and on tmpfs (/dev/shm).
func TestFileReadAt(t *testing.T) {
	dirs := []string{t.TempDir()}
	if d, err := os.MkdirTemp("/dev/shm", "loopfile"); err == nil {
		defer os.RemoveAll(d)
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		modes(t, func(t *testing.T, opts ...loop.Option) {
			p := dir + "/data"
			data := make([]byte, 3*4096+100)
			for i := range data {
				data[i] = byte(i * 13)
			}
			require.NoError(t, os.WriteFile(p, data, 0o644))
			osf, err := os.Open(p)
			require.NoError(t, err)
			defer osf.Close()
			f, err := loop.NewFile(int(osf.Fd()))
			require.NoError(t, err)
			g, err := loop.NewGroup(opts...)
			require.NoError(t, err)
			defer g.Close()
			type got struct {
				n     int
				err   error
				after bool
			}
			res := make(chan got, 3)
			l := g.Loops()[0]
			bufs := [][]byte{make([]byte, 4096), make([]byte, 4096), make([]byte, 4096)}
			require.NoError(t, l.Run(func() {
				returned := false
				for i, off := range []int64{4096, 3 * 4096, int64(len(data))} {
					require.NoError(t, f.ReadAt(l, bufs[i], off, func(n int, err error) { res <- got{n, err, returned} }))
				}
				returned = true
			}))
			want := []int{4096, 100, 0}
			for range 3 {
				r := <-res
				require.NoError(t, r.err)
				require.True(t, r.after, "the callback ran inside the caller")
				require.Contains(t, want, r.n)
			}
			require.Equal(t, data[4096:2*4096], bufs[0])
			require.Equal(t, data[3*4096:], bufs[1][:100])
		})
	}
}

// TestIdleTimeout: a connection that moves no bytes for the idle timeout
// is closed, with an error matching os.ErrDeadlineExceeded; one that keeps
// talking is not.
func TestIdleTimeout(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		h := &echo{}
		s := listen(t, h, append(opts, loop.WithIdleTimeout(100*time.Millisecond))...)
		defer s.Close()
		quiet, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer quiet.Close()
		busy, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer busy.Close()
		for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); {
			_, err := busy.Write([]byte("x"))
			require.NoError(t, err)
			_, err = io.ReadFull(busy, make([]byte, 1))
			require.NoError(t, err)
			time.Sleep(20 * time.Millisecond)
		}
		require.Len(t, h.ends(), 1, "only the quiet connection ended")
		require.ErrorIs(t, h.ends()[0], os.ErrDeadlineExceeded)
		_, err = quiet.Read(make([]byte, 1))
		require.Error(t, err, "the server closed the quiet connection")
	})
}
