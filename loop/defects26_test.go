//go:build linux

package loop_test

// Defects found by the review of package loop (issue 26); each test failed
// before its fix.

import (
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	"github.com/goaio/uring/loop"
	"github.com/goaio/uring/ops"
)

// peers: the OnClose of one connection writes to (or closes) the others,
// as a chat server announces a user leaving.
type peers struct {
	loop.Base
	mu      sync.Mutex
	conns   map[*loop.Conn]bool
	closeIt bool
	direct  bool // on the ring: every connection's callbacks run on the one loop
}

func (h *peers) OnOpen(c *loop.Conn) loop.Action {
	h.mu.Lock()
	h.conns[c] = true
	h.mu.Unlock()
	return loop.None
}

func (h *peers) OnData(c *loop.Conn, in []byte) loop.Action { _, _ = c.Write(in); return loop.None }

func (h *peers) OnClose(c *loop.Conn, err error) {
	h.mu.Lock()
	delete(h.conns, c)
	var others []*loop.Conn
	for o := range h.conns {
		others = append(others, o)
	}
	h.mu.Unlock()
	for _, o := range others {
		do := func(o *loop.Conn) {
			if h.closeIt {
				_ = o.Close()
			} else {
				_, _ = o.Write([]byte("left"))
			}
		}
		if h.direct {
			do(o) // inside the flush that runs this OnClose
		} else {
			_ = o.Run(do) // on the fallback, o's callbacks run elsewhere
		}
	}
}

func (h *peers) n() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.conns) }

// TestDefect26FlushDropsDirty: a connection that one connection's close
// (run inside the loop's flush) writes to or closes is not dropped from the
// flush: it gets the bytes, or its EOF, and goes on working.
func TestDefect26FlushDropsDirty(t *testing.T) {
	for _, closeIt := range []bool{false, true} {
		modes(t, func(t *testing.T, opts ...loop.Option) {
			h := &peers{conns: map[*loop.Conn]bool{}, closeIt: closeIt}
			s := listen(t, h, append(opts, loop.WithLoops(1))...)
			defer s.Close()
			h.direct = s.Group().Fallback() == nil
			a, err := net.Dial("tcp", s.Addr().String())
			require.NoError(t, err)
			b, err := net.Dial("tcp", s.Addr().String())
			require.NoError(t, err)
			defer b.Close()
			waitFor(t, "two opens", func() bool { return h.n() == 2 })
			a.Close() // a's FIN: its close runs in the flush, and its OnClose reaches b
			require.NoError(t, b.SetReadDeadline(time.Now().Add(5*time.Second)))
			if closeIt {
				_, err = b.Read(make([]byte, 1))
				require.ErrorIs(t, err, io.EOF, "b was closed")
				return
			}
			got := make([]byte, 4)
			_, err = io.ReadFull(b, got)
			require.NoError(t, err)
			require.Equal(t, "left", string(got))
			_, err = b.Write([]byte("ping"))
			require.NoError(t, err)
			_, err = io.ReadFull(b, got)
			require.NoError(t, err, "b still echoes")
			require.Equal(t, "ping", string(got))
		})
	}
}

// plainListener hides the listener's descriptor.
type plainListener struct{ net.Listener }

// TestDefect26ServeErrorThenClose: a listener Serve refuses is not the
// group's to stop or close.
func TestDefect26ServeErrorThenClose(t *testing.T) {
	needRing(t)
	g, err := loop.NewGroup(loop.WithLoops(1))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = g.Serve(plainListener{ln}, &echo{})
	require.Error(t, err)
	require.NoError(t, g.Close())
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err, "the refused listener is still open")
	c.Close()
}

// TestDefect26TickerDuringClose: a callback that submits again on every
// completion does not keep Group.Close from returning: Submit refuses once
// the loop stops.
func TestDefect26TickerDuringClose(t *testing.T) {
	needRing(t)
	g, err := loop.NewGroup(loop.WithLoops(1))
	require.NoError(t, err)
	l := g.Loops()[0]
	var tick func(uring.Result)
	tick = func(uring.Result) { _, _ = l.Submit(ops.Timeout(time.Millisecond, 0, 0), tick) }
	require.NoError(t, l.Run(func() { tick(uring.Result{}) }))
	time.Sleep(10 * time.Millisecond)
	done := make(chan struct{})
	go func() { g.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Group.Close did not return")
	}
}

// TestDefect26AcceptBackoff: at the descriptor limit an accept fails with
// EMFILE at once; the loop waits before accepting again instead of
// spinning, and accepts the waiting connection once descriptors free up.
// (The fallback's accept goroutine used to end at the first EMFILE, and no
// connection was accepted again: found in a container limited to 1,024
// descriptors.)
func TestDefect26AcceptBackoff(t *testing.T) {
	modes(t, testAcceptBackoff)
}

func testAcceptBackoff(t *testing.T, opts ...loop.Option) {
	h := &echo{}
	s := listen(t, h, append(opts, loop.WithLoops(1))...)
	defer s.Close()
	port := s.Addr().(*net.TCPAddr).Port
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(cfd)
	var old unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &old))
	var fill []int
	lim := old
	lim.Cur = uint64(openFds(t) + 8)
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &lim))
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fill = append(fill, fd)
	}
	require.NoError(t, unix.Connect(cfd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	time.Sleep(50 * time.Millisecond)
	c0, t0 := processCPU(), time.Now()
	time.Sleep(500 * time.Millisecond)
	used, wall := processCPU()-c0, time.Since(t0)
	for _, fd := range fill {
		unix.Close(fd)
	}
	require.NoError(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &old))
	// A spinning loop takes a whole core; a waiting one next to nothing.
	require.Less(t, used, wall/2, "the loop spun on EMFILE")
	waitFor(t, "the waiting connection accepted", func() bool { return h.opened.Load() == 1 })
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// closeServer closes its server from a callback: a "shutdown" command.
type closeServer struct {
	loop.Base
	s chan *loop.Server
}

func (h *closeServer) OnData(c *loop.Conn, in []byte) loop.Action {
	_ = (<-h.s).Close()
	return loop.None
}

// TestDefect26ServerCloseFromCallback: on the ring, Server.Close from a
// callback does not wait for the loop it runs on; the connections close.
func TestDefect26ServerCloseFromCallback(t *testing.T) {
	needRing(t)
	h := &closeServer{s: make(chan *loop.Server, 1)}
	s := listen(t, h)
	h.s <- s
	c, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("shutdown"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server closed the connection")
	require.ErrorIs(t, s.Close(), net.ErrClosed, "closed already, by the callback")
}

// TestDefect26SlowPeerStallsOthers: on the fallback too, a peer that does
// not read holds up only its own AsyncWrites, not another connection's.
func TestDefect26SlowPeerStallsOthers(t *testing.T) {
	modes(t, func(t *testing.T, opts ...loop.Option) {
		conns := make(chan *loop.Conn, 2)
		h := &opener{conns: conns}
		s := listen(t, h, append(opts, loop.WithLoops(1))...)
		defer s.Close()
		slow, err := net.Dial("tcp", s.Addr().String()) // never reads
		require.NoError(t, err)
		defer slow.Close()
		ls := <-conns
		fast, err := net.Dial("tcp", s.Addr().String())
		require.NoError(t, err)
		defer fast.Close()
		lf := <-conns
		require.NoError(t, ls.AsyncWrite(make([]byte, 64<<20)))
		require.NoError(t, lf.AsyncWrite([]byte("hi")))
		require.NoError(t, fast.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = io.ReadFull(fast, make([]byte, 2))
		require.NoError(t, err, "the fast peer's AsyncWrite waited behind the slow peer's")
	})
}
