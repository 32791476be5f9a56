//go:build linux

package net_test

// The net.Conn contract, run the same way on three stacks: std's net, this
// package on the ring, and this package forced onto its fallback. Where a
// test observes errors, the observations of every stack must equal std's
// (Op, Net, whether Source and Addr are set, errors.Is answers, the error
// text with addresses neutralised).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/goaio/uring"
	unet "github.com/goaio/uring/net"
)

// stack is one way of getting listeners and connections.
type stack struct {
	name string
	ring bool // the connections must be this package's, on the ring
	lc   interface {
		Listen(ctx context.Context, network, address string) (net.Listener, error)
		ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
	}
	dialer func(d net.Dialer) interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	}
}

type dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

var stacks = []stack{
	{name: "std", lc: &net.ListenConfig{}, dialer: func(d net.Dialer) interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	} {
		return &d
	}},
	{name: "ring", ring: true, lc: &unet.ListenConfig{}, dialer: func(d net.Dialer) interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	} {
		return &unet.Dialer{Timeout: d.Timeout, Deadline: d.Deadline, LocalAddr: d.LocalAddr, KeepAlive: d.KeepAlive}
	}},
	{name: "fallback", lc: &unet.ListenConfig{Fallback: true}, dialer: func(d net.Dialer) interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	} {
		return &unet.Dialer{Timeout: d.Timeout, Deadline: d.Deadline, LocalAddr: d.LocalAddr, KeepAlive: d.KeepAlive, Fallback: true}
	}},
}

// need skips a ring stack where io_uring is unavailable (fails under
// URING_REQUIRE=1).
func (s stack) need(t testing.TB) {
	t.Helper()
	if !s.ring {
		return
	}
	if err := uring.Available(); err != nil {
		if os.Getenv("URING_REQUIRE") == "1" {
			t.Fatalf("io_uring required (URING_REQUIRE=1) but unavailable: %v", err)
		}
		t.Skipf("io_uring unavailable here: %v", err)
	}
}

// checkType requires that a ring stack's object is this package's own type
// (the test runs on the ring) and that the others are std's.
func (s stack) checkType(t testing.TB, v any) {
	t.Helper()
	typ := fmt.Sprintf("%T", v)
	if s.ring {
		require.True(t, isOurs(v), "ring stack gave std's %s", typ)
	} else {
		require.False(t, isOurs(v), "%s stack gave %s", s.name, typ)
	}
}

func isOurs(v any) bool {
	switch v.(type) {
	case *unet.TCPConn, *unet.UnixConn, *unet.UDPConn, *unet.TCPListener, *unet.UnixListener:
		return true
	}
	return false
}

func (s stack) dial(t testing.TB, network, address string) net.Conn {
	t.Helper()
	c, err := s.dialer(net.Dialer{}).DialContext(context.Background(), network, address)
	require.NoError(t, err)
	s.checkType(t, c)
	t.Cleanup(func() { c.Close() })
	return c
}

// leakCheck fails the test if it leaves goroutines behind. The Default
// ring's reapers, started on first use and never stopped, are not leaks.
func leakCheck(t *testing.T) {
	t.Helper()
	cur := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, cur, goleak.IgnoreAnyFunction("github.com/goaio/uring.(*poller).run"),
			goleak.IgnoreAnyFunction("github.com/goaio/uring.(*callbacks).run")) // the Default ring's, which lives on
	})
}

var sockSeq atomic.Int64

// sockDir is a short directory for unix socket files (sun_path is 108 bytes).
func sockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "unettest")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// localAddr is an address to listen on for network.
func localAddr(t testing.TB, network string) string {
	switch network {
	case "tcp", "tcp4", "udp", "udp4":
		return "127.0.0.1:0"
	case "tcp6", "udp6":
		return "[::1]:0"
	}
	return fmt.Sprintf("%s/sock%d", sockDir(t), sockSeq.Add(1))
}

func (s stack) listen(t testing.TB, network string) net.Listener {
	t.Helper()
	ln, err := s.lc.Listen(context.Background(), network, localAddr(t, network))
	require.NoError(t, err)
	s.checkType(t, ln)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// pair returns a connected client and server from stack s.
func (s stack) pair(t testing.TB, network string) (client, server net.Conn) {
	t.Helper()
	ln := s.listen(t, network)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client = s.dial(t, ln.Addr().Network(), ln.Addr().String())
	server = <-accepted
	require.NotNil(t, server, "accept failed")
	s.checkType(t, server)
	t.Cleanup(func() { server.Close() })
	return client, server
}

// forStacks runs f on each stack.
func forStacks(t *testing.T, networks []string, f func(t *testing.T, s stack, network string)) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			for _, s := range stacks {
				t.Run(s.name, func(t *testing.T) {
					s.need(t)
					f(t, s, network)
				})
			}
		})
	}
}

// parity runs f on each stack and requires the observations of every stack
// to equal std's.
func parity(t *testing.T, networks []string, f func(t *testing.T, s stack, network string, o *obs)) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			got := map[string][]string{}
			var mu sync.Mutex
			for _, s := range stacks {
				t.Run(s.name, func(t *testing.T) {
					s.need(t)
					o := &obs{}
					f(t, s, network, o)
					mu.Lock()
					got[s.name] = o.lines
					mu.Unlock()
				})
			}
			want, ok := got["std"]
			if !ok {
				return
			}
			for _, s := range stacks[1:] {
				if lines, ok := got[s.name]; ok {
					diffLines(t, s.name, want, lines)
				}
			}
		})
	}
}

// diffLines reports each observation that differs from std's.
func diffLines(t *testing.T, name string, want, got []string) {
	t.Helper()
	for i := 0; i < max(len(want), len(got)); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			t.Errorf("%s differs from std:\n std: %s\n%5s: %s", name, w, name, g)
		}
	}
}

// obs collects what a scenario saw, for comparison with std.
type obs struct {
	mu    sync.Mutex
	lines []string
}

func (o *obs) add(what string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, neutral(what+": "+fmt.Sprint(args...)))
}

// err records an error's shape.
func (o *obs) err(what string, err error) { o.add(what, describe(err)) }

var (
	reIPPort = regexp.MustCompile(`(\d{1,3}\.){3}\d{1,3}:\d+|\[[0-9a-fA-F:.%\w]*\]:\d+`)
	rePath   = regexp.MustCompile(`/\S*?unettest[^/\s]*/(?:[a-z]+/)*sock\d+`)
)

// neutral replaces addresses, which differ from run to run, by placeholders.
func neutral(s string) string {
	s = reIPPort.ReplaceAllString(s, "IP:PORT")
	return rePath.ReplaceAllString(s, "PATH")
}

// describe is an error's shape: its type, an *net.OpError's fields, the
// errors.Is answers that matter, Timeout, and its text.
func describe(err error) string {
	if err == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%T", err)
	var oe *net.OpError
	if errors.As(err, &oe) {
		fmt.Fprintf(&b, " op=%s net=%s src=%s addr=%s inner=%T", oe.Op, oe.Net, addrShape(oe.Source), addrShape(oe.Addr), oe.Err)
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			fmt.Fprintf(&b, "(%s %T)", se.Syscall, se.Err)
		}
	}
	for _, is := range []struct {
		name   string
		target error
	}{
		{"deadline", os.ErrDeadlineExceeded}, {"closed", net.ErrClosed}, {"eof", io.EOF},
		{"canceled", context.Canceled}, {"ctxdeadline", context.DeadlineExceeded},
		{"refused", syscall.ECONNREFUSED}, {"noent", syscall.ENOENT}, {"toconnected", net.ErrWriteToConnected},
		{"reset", syscall.ECONNRESET}, {"pipe", syscall.EPIPE},
	} {
		if errors.Is(err, is.target) {
			fmt.Fprintf(&b, " is:%s", is.name)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		fmt.Fprintf(&b, " timeout=%t", ne.Timeout())
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		b.WriteString(" addrerror")
	}
	var ue net.UnknownNetworkError
	if errors.As(err, &ue) {
		b.WriteString(" unknownnetwork")
	}
	fmt.Fprintf(&b, " %q", err.Error())
	return b.String()
}

// addrShape is "nil", or an address's type and neutralised text (a typed
// nil pointer in an interface shows as such).
func addrShape(a net.Addr) string {
	if a == nil {
		return "nil"
	}
	switch v := a.(type) {
	case *net.TCPAddr:
		if v == nil {
			return "(*net.TCPAddr)nil"
		}
	case *net.UDPAddr:
		if v == nil {
			return "(*net.UDPAddr)nil"
		}
	case *net.UnixAddr:
		if v == nil {
			return "(*net.UnixAddr)nil"
		}
	}
	return fmt.Sprintf("%T(%s)", a, neutral(a.String()))
}

var streamNets = []string{"tcp", "unix"}

// readResult is one Read's outcome.
type readResult struct {
	n   int
	err error
	at  time.Duration
}

func goRead(c net.Conn, b []byte) <-chan readResult {
	ch := make(chan readResult, 1)
	t0 := time.Now()
	go func() {
		n, err := c.Read(b)
		ch <- readResult{n, err, time.Since(t0)}
	}()
	return ch
}

func waitResult(t testing.TB, ch <-chan readResult, within time.Duration) readResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(within):
		t.Fatalf("call still blocked after %v", within)
		return readResult{}
	}
}

// requireDeadline checks a deadline error as the contract states it.
func requireDeadline(t testing.TB, err error) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), "Timeout() false for %v", err)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
}

// blocked requires that nothing arrives on ch for a while.
func blocked(t testing.TB, ch <-chan readResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("call returned early: n=%d err=%v", r.n, r.err)
	case <-time.After(d):
	}
}

func TestConnAddrs(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		o.add("client local", addrShape(c.LocalAddr()))
		o.add("client remote", addrShape(c.RemoteAddr()))
		o.add("server local", addrShape(sc.LocalAddr()))
		o.add("server remote", addrShape(sc.RemoteAddr()))
	})
}

// A deadline in the past fails pending and future calls at once; a zero
// deadline clears it.
func TestConnReadDeadlinePast(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		buf := make([]byte, 8)

		// Pending: a Read blocked with no deadline, then one in the past.
		ch := goRead(c, buf)
		blocked(t, ch, 50*time.Millisecond)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(-5*time.Second)))
		r := waitResult(t, ch, 5*time.Second)
		requireDeadline(t, r.err)
		o.err("pending read, past deadline", r.err)
		o.add("pending read n", r.n)

		// Future calls fail at once, every time.
		for i := 0; i < 3; i++ {
			t0 := time.Now()
			n, err := c.Read(buf)
			requireDeadline(t, err)
			require.Less(t, time.Since(t0), time.Second)
			o.err("read, past deadline", err)
			o.add("read n", n)
		}
		// Data waiting does not beat a passed deadline.
		_, err := sc.Write([]byte("x"))
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
		_, err = c.Read(buf)
		requireDeadline(t, err)

		// Writes are unaffected by the read deadline.
		_, err = c.Write([]byte("y"))
		require.NoError(t, err)

		// Zero clears it.
		require.NoError(t, c.SetReadDeadline(time.Time{}))
		n, err := c.Read(buf)
		require.NoError(t, err)
		o.add("read after clearing", string(buf[:n]))

		// SetDeadline in the past fails both directions.
		require.NoError(t, c.SetDeadline(time.Now().Add(-time.Second)))
		_, err = c.Read(buf)
		requireDeadline(t, err)
		o.err("read, SetDeadline past", err)
		n, err = c.Write([]byte("z"))
		requireDeadline(t, err)
		o.err("write, SetDeadline past", err)
		o.add("write n", n)
		require.NoError(t, c.SetDeadline(time.Time{}))
		_, err = c.Write([]byte("w"))
		require.NoError(t, err)
	})
}

// A future deadline fires no earlier than it says, and keeps failing
// calls until moved (std's TestReadTimeout).
func TestConnReadDeadlineFuture(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, _ := s.pair(t, network)
		buf := make([]byte, 8)
		for _, d := range []time.Duration{50 * time.Millisecond, 120 * time.Millisecond} {
			t0 := time.Now()
			require.NoError(t, c.SetReadDeadline(t0.Add(d)))
			for i := 0; i < 2; i++ {
				n, err := c.Read(buf)
				requireDeadline(t, err)
				require.GreaterOrEqual(t, time.Since(t0), d, "deadline fired early")
				require.Zero(t, n)
				o.err(fmt.Sprint("read, deadline ", d), err)
			}
		}
	})
}

// Moving a deadline while a Read is blocked takes effect: later, earlier,
// and cleared (std's TestReadTimeoutFluctuation and friends).
func TestConnMoveDeadlineWhileBlocked(t *testing.T) {
	leakCheck(t)
	forStacks(t, streamNets, func(t *testing.T, s stack, network string) {
		c, sc := s.pair(t, network)
		buf := make([]byte, 8)

		// Earlier: from an hour to 50ms.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Hour)))
		ch := goRead(c, buf)
		blocked(t, ch, 30*time.Millisecond)
		t0 := time.Now()
		require.NoError(t, c.SetReadDeadline(t0.Add(50*time.Millisecond)))
		r := waitResult(t, ch, 5*time.Second)
		requireDeadline(t, r.err)
		require.GreaterOrEqual(t, time.Since(t0), 50*time.Millisecond)

		// Later: from 50ms to 300ms, moved before the first passes.
		t0 = time.Now()
		require.NoError(t, c.SetReadDeadline(t0.Add(50*time.Millisecond)))
		ch = goRead(c, buf)
		require.NoError(t, c.SetReadDeadline(t0.Add(300*time.Millisecond)))
		r = waitResult(t, ch, 5*time.Second)
		requireDeadline(t, r.err)
		require.GreaterOrEqual(t, time.Since(t0), 300*time.Millisecond, "the earlier deadline fired")

		// Cleared while blocked: the Read waits for data.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(80*time.Millisecond)))
		ch = goRead(c, buf)
		require.NoError(t, c.SetReadDeadline(time.Time{}))
		blocked(t, ch, 250*time.Millisecond)
		_, err := sc.Write([]byte("hi"))
		require.NoError(t, err)
		r = waitResult(t, ch, 5*time.Second)
		require.NoError(t, r.err)
		require.Equal(t, "hi", string(buf[:r.n]))

		// A deadline set after one passed is honoured afresh.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
		_, err = c.Read(buf)
		requireDeadline(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(time.Hour)))
		ch = goRead(c, buf)
		blocked(t, ch, 50*time.Millisecond)
		_, err = sc.Write([]byte("ok"))
		require.NoError(t, err)
		r = waitResult(t, ch, 5*time.Second)
		require.NoError(t, r.err)
		require.Equal(t, "ok", string(buf[:r.n]))
	})
}

// Many goroutines racing SetDeadline against Read and Write (std's
// TestConcurrentSetDeadline and TestReadWriteDeadlineRace).
func TestConnDeadlineRace(t *testing.T) {
	leakCheck(t)
	forStacks(t, streamNets, func(t *testing.T, s stack, network string) {
		c, sc := s.pair(t, network)
		go func() { _, _ = io.Copy(io.Discard, sc) }()
		var wg sync.WaitGroup
		stop := time.Now().Add(200 * time.Millisecond)
		wg.Add(3)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				_ = c.SetDeadline(time.Now().Add(time.Duration(rand.IntN(3)) * time.Millisecond))
			}
		}()
		go func() {
			defer wg.Done()
			b := make([]byte, 1)
			for time.Now().Before(stop) {
				if _, err := c.Read(b); err != nil {
					require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				}
			}
		}()
		go func() {
			defer wg.Done()
			b := make([]byte, 1024)
			for time.Now().Before(stop) {
				if _, err := c.Write(b); err != nil {
					require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				}
			}
		}()
		wg.Wait()
		// The connection still works once the deadline is cleared.
		require.NoError(t, c.SetDeadline(time.Time{}))
		_, err := c.Write([]byte("x"))
		require.NoError(t, err)
	})
}

// fillWrite writes until a Write fails (the peer never reads), returning
// the bytes written and the error.
func fillWrite(c net.Conn) (int64, error) {
	b := make([]byte, 64<<10)
	var total int64
	for {
		n, err := c.Write(b)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// A write deadline fires while the peer never reads.
func TestConnWriteDeadline(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, _ := s.pair(t, network)
		t0 := time.Now()
		require.NoError(t, c.SetWriteDeadline(t0.Add(100*time.Millisecond)))
		n, err := fillWrite(c)
		requireDeadline(t, err)
		require.GreaterOrEqual(t, time.Since(t0), 100*time.Millisecond)
		require.Positive(t, n, "nothing written before the deadline")
		o.err("write, deadline", err)
		// And again at once.
		m, err := c.Write([]byte("x"))
		requireDeadline(t, err)
		o.err("write again", err)
		o.add("n", m)
		// Moving a write deadline while a Write is blocked takes effect.
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(time.Hour)))
		done := make(chan error, 1)
		go func() { _, err := fillWrite(c); done <- err }()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(20*time.Millisecond)))
		select {
		case err := <-done:
			requireDeadline(t, err)
			o.err("write, moved deadline", err)
		case <-time.After(5 * time.Second):
			t.Fatal("Write still blocked after its deadline was moved")
		}
	})
}

// A Read and a Write blocked in two goroutines; Close from a third unblocks
// both with net.ErrClosed.
func TestConnCloseUnblocks(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, _ := s.pair(t, network)
		rch := goRead(c, make([]byte, 8))
		wch := make(chan error, 1)
		go func() { _, err := fillWrite(c); wch <- err }()
		blocked(t, rch, 100*time.Millisecond)
		select {
		case err := <-wch:
			t.Fatalf("write returned early: %v", err)
		default:
		}
		require.NoError(t, c.Close())
		r := waitResult(t, rch, 5*time.Second)
		require.ErrorIs(t, r.err, net.ErrClosed)
		o.err("blocked read", r.err)
		select {
		case err := <-wch:
			require.ErrorIs(t, err, net.ErrClosed)
			o.err("blocked write", err)
		case <-time.After(5 * time.Second):
			t.Fatal("Write still blocked after Close")
		}
	})
}

// Every method after Close.
func TestConnAfterClose(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		require.NoError(t, c.Close())
		n, err := c.Read(make([]byte, 1))
		o.err("read", err)
		o.add("read n", n)
		n, err = c.Read(nil)
		o.err("read 0", err)
		o.add("read 0 n", n)
		n, err = c.Write([]byte("x"))
		o.err("write", err)
		o.add("write n", n)
		o.err("close", c.Close())
		o.err("set", c.SetDeadline(time.Now()))
		o.err("setread", c.SetReadDeadline(time.Now()))
		o.err("setwrite", c.SetWriteDeadline(time.Now()))
		o.add("local", addrShape(c.LocalAddr()))
		o.add("remote", addrShape(c.RemoteAddr()))
		type closer interface {
			CloseRead() error
			CloseWrite() error
			SetReadBuffer(int) error
			SetWriteBuffer(int) error
			SyscallConn() (syscall.RawConn, error)
			File() (*os.File, error)
		}
		x := c.(closer)
		o.err("closeread", x.CloseRead())
		o.err("closewrite", x.CloseWrite())
		o.err("setreadbuffer", x.SetReadBuffer(1<<16))
		o.err("setwritebuffer", x.SetWriteBuffer(1<<16))
		f, err := x.File()
		o.err("file", err)
		require.Nil(t, f)
		rc, err := x.SyscallConn()
		o.err("syscallconn", err)
		if err == nil {
			o.err("raw control", rc.Control(func(uintptr) {}))
			o.err("raw read", rc.Read(func(uintptr) bool { return true }))
			o.err("raw write", rc.Write(func(uintptr) bool { return true }))
		}
		// The peer sees EOF.
		n, err = sc.Read(make([]byte, 1))
		require.Equal(t, io.EOF, err, "want bare io.EOF")
		o.err("peer read", err)
		o.add("peer read n", n)
	})
}

// Read after the peer closed returns io.EOF (bare); a 0-byte Read returns
// at once; Write writes all.
func TestConnEOFAndZeroByte(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		n, err := c.Read(nil)
		o.err("zero read", err)
		o.add("zero read n", n)
		n, err = c.Write(nil)
		o.err("zero write", err)
		o.add("zero write n", n)
		_, err = sc.Write([]byte("tail"))
		require.NoError(t, err)
		require.NoError(t, sc.Close())
		b, err := io.ReadAll(c)
		require.NoError(t, err)
		o.add("data", string(b))
		for i := 0; i < 2; i++ {
			n, err := c.Read(make([]byte, 4))
			require.Equal(t, io.EOF, err, "want bare io.EOF")
			o.err("read at EOF", err)
			o.add("n", n)
		}
		// Writing to a closed peer fails eventually (EPIPE or ECONNRESET).
		var werr error
		for i := 0; i < 100 && werr == nil; i++ {
			_, werr = c.Write(make([]byte, 1024))
			time.Sleep(time.Millisecond)
		}
		require.Error(t, werr)
		var oe *net.OpError
		require.ErrorAs(t, werr, &oe)
		o.add("write to closed peer op", oe.Op, " ", oe.Net, " ", addrShape(oe.Source), " ", addrShape(oe.Addr), " ",
			errors.Is(werr, syscall.EPIPE) || errors.Is(werr, syscall.ECONNRESET))
	})
}

// CloseWrite: the peer reads EOF and can still send back.
func TestConnHalfClose(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		type halfCloser interface{ CloseWrite() error }
		_, err := c.Write([]byte("request"))
		require.NoError(t, err)
		require.NoError(t, c.(halfCloser).CloseWrite())
		b, err := io.ReadAll(sc)
		require.NoError(t, err)
		o.add("server got", string(b))
		_, err = sc.Write([]byte("response"))
		require.NoError(t, err)
		n, err := c.Write([]byte("more"))
		o.err("write after CloseWrite", err)
		o.add("n", n)
		require.NoError(t, sc.Close())
		b, err = io.ReadAll(c)
		require.NoError(t, err)
		o.add("client got", string(b))
	})
}

// CloseRead: reads return EOF, the peer can still be written to.
func TestConnCloseRead(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		type halfCloser interface{ CloseRead() error }
		require.NoError(t, c.(halfCloser).CloseRead())
		n, err := c.Read(make([]byte, 4))
		o.err("read after CloseRead", err)
		o.add("n", n)
		_, err = c.Write([]byte("still"))
		require.NoError(t, err)
		b := make([]byte, 5)
		_, err = io.ReadFull(sc, b)
		require.NoError(t, err)
		o.add("peer got", string(b))
	})
}

// Reads and Writes from two goroutines at once, both directions, data
// checked.
func TestConnConcurrentReadWrite(t *testing.T) {
	leakCheck(t)
	forStacks(t, streamNets, func(t *testing.T, s stack, network string) {
		c, sc := s.pair(t, network)
		const size = 8 << 20
		var wg sync.WaitGroup
		echoErr := make(chan error, 1)
		go func() { _, err := io.Copy(sc, sc); echoErr <- err }()
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i*7 + i>>10)
		}
		got := make([]byte, size)
		wg.Add(2)
		var werr, rerr error
		go func() {
			defer wg.Done()
			for off := 0; off < size; {
				n := min(size-off, 1+rand.IntN(200<<10))
				m, err := c.Write(want[off : off+n])
				if err != nil {
					werr = err
					return
				}
				if m != n {
					werr = fmt.Errorf("short write %d of %d", m, n)
					return
				}
				off += n
			}
		}()
		go func() {
			defer wg.Done()
			_, rerr = io.ReadFull(c, got)
		}()
		wg.Wait()
		require.NoError(t, werr)
		require.NoError(t, rerr)
		require.True(t, bytes.Equal(want, got), "data differs")
		require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
		require.NoError(t, <-echoErr)
	})
}

// 64 MiB one way, data checked, chunked differently on each side.
func TestConnLargeTransfer(t *testing.T) {
	leakCheck(t)
	if testing.Short() {
		t.Skip("64 MiB per stack and network: not in -short")
	}
	forStacks(t, streamNets, func(t *testing.T, s stack, network string) {
		c, sc := s.pair(t, network)
		const mib, total = 1 << 20, 64
		block := make([]byte, mib+13)
		for i := range block {
			block[i] = byte(rand.Uint32())
		}
		werr := make(chan error, 1)
		go func() {
			for k := 0; k < total; k++ {
				chunk := block[k%13 : k%13+mib]
				n, err := c.Write(chunk)
				if err == nil && n != mib {
					err = fmt.Errorf("short write: %d", n)
				}
				if err != nil {
					werr <- err
					return
				}
			}
			werr <- c.Close()
		}()
		buf := make([]byte, mib)
		for k := 0; k < total; k++ {
			_, err := io.ReadFull(sc, buf)
			require.NoError(t, err, "MiB %d", k)
			require.True(t, bytes.Equal(buf, block[k%13:k%13+mib]), "MiB %d differs", k)
		}
		n, err := sc.Read(buf)
		require.Equal(t, io.EOF, err)
		require.Zero(t, n)
		require.NoError(t, <-werr)
	})
}

// tcpConn is what *net.TCPConn and *unet.TCPConn have beyond net.Conn.
type tcpConn interface {
	net.Conn
	CloseRead() error
	CloseWrite() error
	SetNoDelay(bool) error
	SetKeepAlive(bool) error
	SetKeepAlivePeriod(time.Duration) error
	SetLinger(int) error
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
	SyscallConn() (syscall.RawConn, error)
	File() (*os.File, error)
	io.ReaderFrom
	io.WriterTo
}

func sockopt(t testing.TB, c syscall.Conn, level, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	var v int
	var gerr error
	require.NoError(t, rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }))
	require.NoError(t, gerr)
	return v
}

// The options std sets on a new TCP connection, and the setters' effects.
func TestTCPOptions(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"tcp"}, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		for _, x := range []tcpConn{c.(tcpConn), sc.(tcpConn)} {
			o.add("nodelay", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_NODELAY))
			o.add("keepalive", sockopt(t, x, unix.SOL_SOCKET, unix.SO_KEEPALIVE))
			o.add("keepidle", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE))
			o.add("keepintvl", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL))
			o.add("keepcnt", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_KEEPCNT))
		}
		x := c.(tcpConn)
		require.NoError(t, x.SetNoDelay(false))
		o.add("nodelay off", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_NODELAY))
		require.NoError(t, x.SetKeepAlive(false))
		o.add("keepalive off", sockopt(t, x, unix.SOL_SOCKET, unix.SO_KEEPALIVE))
		require.NoError(t, x.SetKeepAlive(true))
		require.NoError(t, x.SetKeepAlivePeriod(1500*time.Millisecond))
		o.add("keepalive period 1.5s", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE), " ", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL))
		o.err("keepalive period -1", x.SetKeepAlivePeriod(-time.Second))
		o.add("after -1", sockopt(t, x, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE))
		require.NoError(t, x.SetReadBuffer(1<<16))
		require.NoError(t, x.SetWriteBuffer(1<<16))
		o.add("buffers", sockopt(t, x, unix.SOL_SOCKET, unix.SO_RCVBUF), " ", sockopt(t, x, unix.SOL_SOCKET, unix.SO_SNDBUF))
		o.err("negative read buffer", x.SetReadBuffer(-1))
		for _, sec := range []int{-1, 0, 5} {
			require.NoError(t, x.SetLinger(sec))
			rc, _ := x.SyscallConn()
			var l *unix.Linger
			_ = rc.Control(func(fd uintptr) { l, _ = unix.GetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER) })
			o.add(fmt.Sprint("linger ", sec), l.Onoff, " ", l.Linger)
		}
		// The connection still works.
		_, err := x.Write([]byte("ok"))
		require.NoError(t, err)
		b := make([]byte, 2)
		_, err = io.ReadFull(sc, b)
		require.NoError(t, err)
		// After Close.
		require.NoError(t, x.Close())
		o.err("nodelay closed", x.SetNoDelay(true))
		o.err("keepalive closed", x.SetKeepAlive(true))
		o.err("keepalive period closed", x.SetKeepAlivePeriod(time.Second))
		o.err("linger closed", x.SetLinger(1))
	})
}

// Keep-alive as configured on the listener and the dialer.
func TestTCPKeepAliveConfig(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"tcp"}, func(t *testing.T, s stack, network string, o *obs) {
		for _, ka := range []time.Duration{-1, 0, 3 * time.Second} {
			var lc interface {
				Listen(ctx context.Context, network, address string) (net.Listener, error)
			}
			switch s.name {
			case "std":
				lc = &net.ListenConfig{KeepAlive: ka}
			case "ring":
				lc = &unet.ListenConfig{KeepAlive: ka}
			default:
				lc = &unet.ListenConfig{KeepAlive: ka, Fallback: true}
			}
			ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
			require.NoError(t, err)
			s.checkType(t, ln)
			c, err := s.dialer(net.Dialer{KeepAlive: ka}).DialContext(context.Background(), "tcp", ln.Addr().String())
			require.NoError(t, err)
			sc, err := ln.Accept()
			require.NoError(t, err)
			for _, x := range []net.Conn{c, sc} {
				o.add(fmt.Sprint("ka ", ka), sockopt(t, x.(syscall.Conn), unix.SOL_SOCKET, unix.SO_KEEPALIVE), " ",
					sockopt(t, x.(syscall.Conn), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE), " ",
					sockopt(t, x.(syscall.Conn), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL), " ",
					sockopt(t, x.(syscall.Conn), unix.IPPROTO_TCP, unix.TCP_KEEPCNT))
			}
			c.Close()
			sc.Close()
			ln.Close()
		}
	})
}

// SyscallConn: Control sees the socket; Read and Write call f until it
// says done, waiting for readiness in between, under the deadlines.
func TestConnSyscallConn(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		rc, err := c.(syscall.Conn).SyscallConn()
		require.NoError(t, err)
		var typ int
		require.NoError(t, rc.Control(func(fd uintptr) { typ, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE) }))
		o.add("type", typ)

		// Write: one call is enough.
		var werr error
		require.NoError(t, rc.Write(func(fd uintptr) bool {
			_, werr = unix.Write(int(fd), []byte("raw"))
			return werr != unix.EAGAIN
		}))
		require.NoError(t, werr)
		b := make([]byte, 3)
		_, err = io.ReadFull(sc, b)
		require.NoError(t, err)
		o.add("peer got", string(b))

		// Read: EAGAIN first, then the data that arrives later.
		calls := 0
		go func() { time.Sleep(50 * time.Millisecond); _, _ = sc.Write([]byte("later")) }()
		var n int
		var rerr error
		buf := make([]byte, 16)
		require.NoError(t, rc.Read(func(fd uintptr) bool {
			calls++
			n, rerr = unix.Read(int(fd), buf)
			return rerr != unix.EAGAIN
		}))
		require.NoError(t, rerr)
		require.GreaterOrEqual(t, calls, 2, "f was not retried after EAGAIN")
		o.add("raw read", string(buf[:n]))

		// Read under a passed deadline.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
		err = rc.Read(func(fd uintptr) bool {
			_, rerr = unix.Read(int(fd), buf)
			return rerr != unix.EAGAIN
		})
		requireDeadline(t, err)
		o.err("raw read, deadline", err)
	})
}

// File returns a dup of the socket named as std names it, non-blocking and
// in the netpoller as std's (its deadlines work), and the conn's own socket
// stays non-blocking; Fd makes the copy blocking (issue 25, defect 2: the
// copy was blocking, out of the netpoller, and so was the conn).
func TestDefect25ConnFile(t *testing.T) {
	leakCheck(t)
	parity(t, streamNets, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		f, err := c.(interface{ File() (*os.File, error) }).File()
		require.NoError(t, err)
		defer f.Close()
		o.add("name", f.Name())
		// Issue 25, defect 2: the copy is in the netpoller (deadlines work on
		// it) and the conn's own socket stays non-blocking; f.Fd, below,
		// makes the copy blocking, as it does for std's.
		o.add("deadline on the copy", fmt.Sprint(f.SetReadDeadline(time.Now().Add(20*time.Millisecond))))
		// A copy outside the netpoller ignores the deadline and blocks until
		// data comes: the peer sends a byte late, so that such a read ends.
		late := time.AfterFunc(2*time.Second, func() { sc.Write([]byte("z")) })
		defer late.Stop()
		_, rerr := f.Read(make([]byte, 1))
		o.add("read past the deadline", errors.Is(rerr, os.ErrDeadlineExceeded))
		rc, err := c.(syscall.Conn).SyscallConn()
		require.NoError(t, err)
		var connFl int
		require.NoError(t, rc.Control(func(fd uintptr) { connFl, _ = unix.FcntlInt(fd, unix.F_GETFL, 0) }))
		o.add("conn nonblock after File", connFl&unix.O_NONBLOCK != 0)
		require.NoError(t, f.SetReadDeadline(time.Time{}))
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		require.NoError(t, err)
		o.add("nonblock", fl&unix.O_NONBLOCK != 0)
		fdfl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		require.NoError(t, err)
		o.add("cloexec", fdfl&unix.FD_CLOEXEC != 0)
		// The copy is the same socket: what it writes, the peer reads.
		_, err = f.Write([]byte("via file"))
		require.NoError(t, err)
		b := make([]byte, 8)
		_, err = io.ReadFull(sc, b)
		require.NoError(t, err)
		o.add("peer got", string(b))
		// And the connection still works after the copy is closed.
		require.NoError(t, f.Close())
		_, err = c.Write([]byte("x"))
		require.NoError(t, err)
		// FileConn of it gives a working std conn.
		f2, err := c.(interface{ File() (*os.File, error) }).File()
		require.NoError(t, err)
		fc, err := net.FileConn(f2)
		require.NoError(t, err)
		f2.Close()
		o.add("fileconn", fmt.Sprintf("%T", fc))
		_, err = fc.Write([]byte("y"))
		require.NoError(t, err)
		fc.Close()
	})
}

// ReadFrom a regular file (the sendfile path), whole and through a
// LimitedReader, from a non-zero offset; WriteTo a writer.
func TestTCPReadFromFileAndWriteTo(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"tcp", "unix"}, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		rf, ok := c.(io.ReaderFrom)
		if !ok {
			o.add("readerfrom", false)
			return
		}
		data := make([]byte, 5<<20+123)
		for i := range data {
			data[i] = byte(rand.Uint32())
		}
		path := t.TempDir() + "/data"
		require.NoError(t, os.WriteFile(path, data, 0o644))
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		_, err = f.Seek(1000, io.SeekStart)
		require.NoError(t, err)

		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(sc); got <- b }()
		n, err := rf.ReadFrom(f)
		require.NoError(t, err)
		o.add("readfrom file", n)
		off, _ := f.Seek(0, io.SeekCurrent)
		o.add("file offset after", off)

		_, err = f.Seek(7, io.SeekStart)
		require.NoError(t, err)
		lr := &io.LimitedReader{R: f, N: 1 << 20}
		n, err = rf.ReadFrom(lr)
		require.NoError(t, err)
		o.add("readfrom limited", n, " left ", lr.N)
		off, _ = f.Seek(0, io.SeekCurrent)
		o.add("file offset after limited", off)

		// A plain reader goes the copy path.
		n, err = rf.ReadFrom(bytes.NewReader([]byte("tail")))
		require.NoError(t, err)
		o.add("readfrom reader", n)
		require.NoError(t, c.(interface{ CloseWrite() error }).CloseWrite())
		b := <-got
		want := append(append(append([]byte(nil), data[1000:]...), data[7:7+1<<20]...), "tail"...)
		require.True(t, bytes.Equal(want, b), "data differs: got %d bytes, want %d", len(b), len(want))

		// ReadFrom after Close.
		require.NoError(t, c.Close())
		_, _ = f.Seek(0, io.SeekStart)
		n, err = rf.ReadFrom(f)
		o.err("readfrom closed", err)
		o.add("n", n)
	})
}

func TestTCPWriteTo(t *testing.T) {
	leakCheck(t)
	parity(t, []string{"tcp", "unix"}, func(t *testing.T, s stack, network string, o *obs) {
		c, sc := s.pair(t, network)
		wt, ok := sc.(io.WriterTo)
		if !ok {
			o.add("writerto", false)
			return
		}
		data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
		go func() { _, _ = c.Write(data); c.Close() }()
		var buf bytes.Buffer
		n, err := wt.WriteTo(&buf)
		require.NoError(t, err)
		o.add("writeto", n)
		require.True(t, bytes.Equal(data, buf.Bytes()))
		// Into a failing writer.
		c2, sc2 := s.pair(t, network)
		go func() { _, _ = c2.Write([]byte("abc")) }()
		n, err = sc2.(io.WriterTo).WriteTo(failWriter{})
		o.err("writeto failing writer", err)
		o.add("n", n)
		// After Close.
		require.NoError(t, sc.Close())
		n, err = wt.WriteTo(&buf)
		o.err("writeto closed", err)
		o.add("n", n)
	})
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("writer failed") }
